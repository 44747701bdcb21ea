import CYAML

/// Builds a `YAMLNode` tree from libyaml's event stream, resolving anchors, aliases and merge keys,
/// refusing duplicate keys, and bounding nesting depth and alias expansion.
struct YAMLParser {
    typealias Limits = SpecLimits

    let file: String
    var limits = Limits()

    init(file: String, limits: Limits = Limits()) {
        self.file = file
        self.limits = limits
    }

    /// The single document of `text` as a node, or nil when there is none; problems go to `diagnostics`.
    func parse(_ text: String, diagnostics: inout [Diagnostic]) -> YAMLNode? {
        let reader = EventReader(text: text, file: file)
        var builder = TreeBuilder(reader: reader, file: file, limits: limits)
        let node = builder.document()
        for var d in builder.diagnostics {
            // libyaml's marks count characters, so the tab is found in the text by line and column.
            if d.id == .yamlSyntax,
               let line = Diagnostic.line(d.location.line, of: text),
               line.unicodeScalars.dropFirst(max(0, d.location.column - 1)).first == "\t" {
                d.help = "indent with spaces: YAML does not allow tabs in indentation"
            }
            diagnostics.append(d)
        }
        return node
    }
}

/// One libyaml event copied into Swift values (the C event is freed at once).
private struct Event {
    enum Kind { case streamStart, streamEnd, documentStart, documentEnd, alias, scalar, sequenceStart, sequenceEnd, mappingStart, mappingEnd, none }
    var kind: Kind
    var anchor: String?
    var tag: String?
    var value: String = ""
    var plain = true
    var start: SourceLocation
    var end: SourceLocation
}

/// Owns the libyaml parser and a copy of the input bytes for the parser's lifetime.
private final class EventReader {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    /// Bytes of text in `input` (which holds at least one byte, even for empty text).
    private let count: Int
    private let file: String
    private(set) var error: Diagnostic?

    init(text: String, file: String) {
        self.file = file
        let bytes = Array(text.utf8)
        count = bytes.count
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        parser = .allocate(capacity: 1)
        yaml_parser_initialize(parser)
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    private func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(truncatingIfNeeded: mark.line) &+ 1, column: Int(truncatingIfNeeded: mark.column) &+ 1)
    }

    private static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(decoding: UnsafeBufferPointer(start: p, count: strlen(UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))), as: UTF8.self)
    }

    /// The next event, or nil after a syntax error (recorded in `error`).
    func next() -> Event? {
        if error != nil { return nil }
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else {
            recordError()
            return nil
        }
        defer { yaml_event_delete(&event) }
        var e = Event(kind: .none, start: location(event.start_mark), end: location(event.end_mark))
        switch event.type {
        case YAML_STREAM_START_EVENT: e.kind = .streamStart
        case YAML_STREAM_END_EVENT: e.kind = .streamEnd
        case YAML_DOCUMENT_START_EVENT: e.kind = .documentStart
        case YAML_DOCUMENT_END_EVENT: e.kind = .documentEnd
        case YAML_ALIAS_EVENT:
            e.kind = .alias
            e.anchor = Self.string(event.data.alias.anchor)
        case YAML_SCALAR_EVENT:
            e.kind = .scalar
            let s = event.data.scalar
            e.anchor = Self.string(s.anchor)
            e.tag = Self.string(s.tag)
            if let v = s.value {
                e.value = String(decoding: UnsafeBufferPointer(start: v, count: s.length), as: UTF8.self)
            }
            e.plain = s.style == YAML_PLAIN_SCALAR_STYLE && (e.tag == nil || e.tag != "tag:yaml.org,2002:str")
            if e.tag == "!" { e.plain = false }
        case YAML_SEQUENCE_START_EVENT:
            e.kind = .sequenceStart
            e.anchor = Self.string(event.data.sequence_start.anchor)
            e.tag = Self.string(event.data.sequence_start.tag)
        case YAML_SEQUENCE_END_EVENT: e.kind = .sequenceEnd
        case YAML_MAPPING_START_EVENT:
            e.kind = .mappingStart
            e.anchor = Self.string(event.data.mapping_start.anchor)
            e.tag = Self.string(event.data.mapping_start.tag)
        case YAML_MAPPING_END_EVENT: e.kind = .mappingEnd
        default: e.kind = .none
        }
        return e
    }

    private func recordError() {
        let p = parser.pointee
        let problem = p.problem.map { String(cString: $0) } ?? "malformed YAML"
        var message = problem
        var loc = location(p.problem_mark)
        var help: String?
        if let context = p.context.map({ String(cString: $0) }) {
            let start = location(p.context_mark)
            if start != loc { help = "\(context) that starts at line \(start.line), column \(start.column)" }
        }
        if problem == "mapping values are not allowed in this context" {
            help = "a value that contains `: ` must be quoted, e.g. `name: \"a: b\"`; or a line is indented too far"
        }
        if p.error == YAML_READER_ERROR {
            // Reader errors carry a byte offset only.
            loc = lineColumn(ofByte: Int(truncatingIfNeeded: p.problem_offset))
            message = "invalid text: \(problem)"
            help = nil
        }
        if p.error == YAML_MEMORY_ERROR { message = "out of memory while reading YAML" }
        error = Diagnostic(id: .yamlSyntax, message: "YAML syntax error: \(message)", location: loc, help: help)
    }

    private func lineColumn(ofByte offset: Int) -> SourceLocation {
        var line = 1, column = 1, i = 0
        let end = min(max(offset, 0), count)
        while i < end {
            let b = input[i]
            if b == 0x0A || (b == 0x0D && (i + 1 >= count || input[i + 1] != 0x0A)) {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 && b != 0x0D {
                column += 1
            }
            i += 1
        }
        return SourceLocation(file: file, line: line, column: column)
    }
}

private struct TreeBuilder {
    let reader: EventReader
    let file: String
    let limits: YAMLParser.Limits
    var diagnostics: [Diagnostic] = []
    private var anchors: [String: YAMLNode] = [:]
    private var expanded = 0
    /// Set once a limit is hit, so the rest of the document is skipped instead of reported again.
    private var aborted = false

    init(reader: EventReader, file: String, limits: YAMLParser.Limits) {
        self.reader = reader
        self.file = file
        self.limits = limits
    }

    private mutating func next() -> Event? {
        guard let e = reader.next() else {
            if let error = reader.error, !diagnostics.contains(error) { diagnostics.append(error) }
            return nil
        }
        return e
    }

    mutating func document() -> YAMLNode? {
        guard let first = next(), first.kind == .streamStart else { return nil }
        guard let start = next() else { return nil }
        if start.kind == .streamEnd {
            diagnostics.append(Diagnostic(id: .emptyFile,
                message: "empty file: a spec is a YAML mapping that starts with `bayesnet: 1`",
                location: SourceLocation(file: file, line: 1, column: 1)))
            return nil
        }
        guard start.kind == .documentStart, let head = next() else { return nil }
        guard let root = node(head, depth: 1) else { return nil }
        if aborted { return nil }
        guard let end = next(), end.kind == .documentEnd else { return nil }
        guard let after = next() else { return nil }
        if after.kind == .documentStart {
            diagnostics.append(Diagnostic(id: .multipleDocuments,
                message: "several YAML documents in one file; a spec is a single document",
                location: after.start, help: "remove the `---` and everything after it, or put each spec in its own file"))
            return nil
        }
        if root.isNull {
            diagnostics.append(Diagnostic(id: .emptyDocument,
                message: "empty document: a spec is a YAML mapping that starts with `bayesnet: 1`", location: root.location))
            return nil
        }
        return root
    }

    /// Builds the node that starts with `event`, consuming the events up to its end.
    private mutating func node(_ event: Event, depth: Int) -> YAMLNode? {
        if aborted { return nil }
        switch event.kind {
        case .alias:
            let name = event.anchor ?? ""
            guard let target = anchors[name] else {
                diagnostics.append(Diagnostic(id: .unknownAlias, message: "unknown alias `*\(name)`: no anchor `&\(name)` is written before it", location: event.start))
                return YAMLNode(.scalar("", plain: true), location: event.start, end: event.end)
            }
            guard count(target.size, at: event.start) else { return nil }
            return target
        case .scalar:
            guard count(1, at: event.start) else { return nil }
            let n = YAMLNode(.scalar(event.value, plain: event.plain), location: event.start, end: event.end)
            if let a = event.anchor { anchors[a] = n }
            return n
        case .sequenceStart:
            guard depthAllowed(depth, at: event.start), count(1, at: event.start) else { return nil }
            var items: [YAMLNode] = []
            while true {
                guard let e = next() else { return nil }
                if e.kind == .sequenceEnd {
                    let n = YAMLNode(.sequence(items), location: event.start, end: e.end)
                    if let a = event.anchor { anchors[a] = n }
                    return n
                }
                guard let item = node(e, depth: depth + 1) else { return nil }
                items.append(item)
            }
        case .mappingStart:
            guard depthAllowed(depth, at: event.start), count(1, at: event.start) else { return nil }
            var explicit: [YAMLPair] = []
            var merged: [YAMLPair] = []
            var seen: [String: SourceLocation] = [:]
            while true {
                guard let ke = next() else { return nil }
                if ke.kind == .mappingEnd {
                    // Merged keys fill in only what the mapping does not say itself; earlier merges win.
                    var pairs = explicit
                    for var pair in merged {
                        guard let k = pair.key.scalar, seen[k] == nil else { continue }
                        seen[k] = pair.key.location
                        pair.merged = true
                        pairs.append(pair)
                    }
                    let n = YAMLNode(.mapping(pairs), location: event.start, end: ke.end)
                    if let a = event.anchor { anchors[a] = n }
                    return n
                }
                guard let key = node(ke, depth: depth + 1) else { return nil }
                guard let ve = next(), let value = node(ve, depth: depth + 1) else { return nil }
                guard let k = key.scalar else {
                    diagnostics.append(Diagnostic(id: .nonScalarKey, message: "a key must be a plain name, not \(key.kindDescription)", location: key.location))
                    continue
                }
                if k == "<<" && key.isPlainScalar {
                    merged += mergeSources(value)
                    continue
                }
                if let first = seen[k] {
                    diagnostics.append(Diagnostic(id: .duplicateKey,
                        message: "duplicate key `\(k)`",
                        location: key.location, help: "remove one of them; YAML keys in a mapping must be unique",
                        notes: [.init("`\(k)` first written here", at: first)]))
                    continue
                }
                seen[k] = key.location
                explicit.append(YAMLPair(key: key, value: value))
            }
        default:
            return nil
        }
    }

    private mutating func mergeSources(_ value: YAMLNode) -> [YAMLPair] {
        switch value.value {
        case .mapping(let pairs): return pairs
        case .sequence(let items):
            var out: [YAMLPair] = []
            for item in items {
                if let p = item.pairs { out += p } else {
                    diagnostics.append(Diagnostic(id: .mergeNotMapping, message: "a merge key `<<` takes a mapping or a list of mappings, not \(item.kindDescription)", location: item.location))
                }
            }
            return out
        case .scalar:
            diagnostics.append(Diagnostic(id: .mergeNotMapping, message: "a merge key `<<` takes a mapping or a list of mappings, not \(value.kindDescription)", location: value.location))
            return []
        }
    }

    private mutating func depthAllowed(_ depth: Int, at location: SourceLocation) -> Bool {
        if depth > limits.maxDepth {
            diagnostics.append(Diagnostic(id: .nestingTooDeep, message: "nesting deeper than \(limits.maxDepth) levels (raise the limit with \(SpecLimits.Option.maxDepth))", location: location))
            aborted = true
            return false
        }
        return true
    }

    private mutating func count(_ nodes: Int, at location: SourceLocation) -> Bool {
        expanded &+= nodes
        if expanded > limits.maxExpandedNodes || expanded < 0 {
            diagnostics.append(Diagnostic(id: .aliasExpansionLimit,
                message: "the document expands to more than \(limits.maxExpandedNodes) nodes once aliases are expanded (raise the limit with \(SpecLimits.Option.maxExpandedNodes))",
                location: location, help: "aliases that repeat aliases grow exponentially; write the values out instead"))
            aborted = true
            return false
        }
        return true
    }
}
