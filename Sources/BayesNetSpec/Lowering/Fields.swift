/// One `key: value` of a mapping, with the key's spelling as written (possibly an alias).
struct Field {
    var written: String
    var key: YAMLNode
    var value: YAMLNode
}

/// A key of a mapping: its canonical name, the aliases accepted for it, what its value may be and what it
/// means. The lowering accepts exactly these keys and `bayesnet schema` describes exactly these.
struct ArgumentName: Sendable {
    var canonical: String
    var aliases: [String] = []
    var value: ValueKind
    /// The value the lowering uses when the key is absent, where that is a fixed value: the lowering reads
    /// number defaults from here, and a test checks every default against what the lowering produces.
    var defaultValue: JSONValue?
    var required: Bool
    /// One line for people (JSON Schema `description`, editor hovers).
    var doc: String

    init(_ canonical: String, _ aliases: String..., value: ValueKind, default defaultValue: JSONValue? = nil,
         required: Bool = false, doc: String) {
        self.canonical = canonical
        self.aliases = aliases
        self.value = value
        self.defaultValue = defaultValue
        self.required = required
        self.doc = doc
    }

    /// Every spelling the key is accepted under.
    var spellings: [String] { [canonical] + aliases }
}

/// Collects diagnostics while reading typed values out of YAML nodes.
struct Reader {
    var diagnostics: [Diagnostic] = []
    /// Every key spelling a mapping was read against, so a test can prove the schema lists them all.
    private(set) var spellingsRead: Set<String> = []

    mutating func error(_ id: DiagnosticID, _ message: String, at node: YAMLNode, help: String? = nil,
                        notes: [Diagnostic.Note] = []) {
        diagnostics.append(Diagnostic(id: id, message: message, location: node.location, help: help, notes: notes))
    }

    mutating func warning(_ id: DiagnosticID, _ message: String, at location: SourceLocation, help: String? = nil,
                          notes: [Diagnostic.Note] = []) {
        diagnostics.append(Diagnostic(id: id, severity: .warning, message: message, location: location, help: help, notes: notes))
    }

    mutating func error(_ id: DiagnosticID, _ message: String, at location: SourceLocation, help: String? = nil,
                        notes: [Diagnostic.Note] = []) {
        diagnostics.append(Diagnostic(id: id, message: message, location: location, help: help, notes: notes))
    }

    /// Splits a mapping into fields by canonical name. Unknown keys, and an alias written together with
    /// its canonical name, are reported; `elsewhere` gives a message for keys known in other contexts.
    mutating func fields(
        of node: YAMLNode, context: String, names: [ArgumentName], ignoring ignored: (String) -> Bool = { _ in false },
        misplaced elsewhere: (String) -> String? = { _ in nil }
    ) -> [String: Field] {
        guard let pairs = node.pairs else {
            if !node.isNull { error(.wrongType, "\(context) must be a mapping, found \(node.kindDescription)", at: node) }
            return [:]
        }
        var byWritten: [String: ArgumentName] = [:]
        for n in names {
            spellingsRead.formUnion(n.spellings)
            byWritten[n.canonical] = n
            for a in n.aliases { byWritten[a] = n }
        }
        var out: [String: Field] = [:]
        var mergedIn: Set<String> = []
        // Own keys first, so that one wins over a merged-in spelling of the same argument.
        for pair in pairs.filter({ !$0.merged }) + pairs.filter(\.merged) {
            let written = pair.key.scalar ?? ""
            if ignored(written) { continue }
            guard let name = byWritten[written] else {
                if let other = elsewhere(written) {
                    error(.misplacedKey, other, at: pair.key)
                } else {
                    let all = names.flatMap(\.spellings)
                    error(.unknownKey, "unknown key `\(written)` in \(context)", at: pair.key,
                          help: SpecCatalog.foreignHelp(written, among: all) ?? Suggestions.help(for: written, among: all))
                }
                continue
            }
            if pair.merged, out[name.canonical] != nil, !mergedIn.contains(name.canonical) { continue }
            if pair.merged { mergedIn.insert(name.canonical) }
            if let previous = out[name.canonical] {
                error(.duplicateArgument, "`\(written)` and `\(previous.written)` are the same argument; give only one", at: pair.key,
                      help: "`\(name.canonical)` is the TensorFlow Probability name\(name.aliases.isEmpty ? "" : ", `\(name.aliases.joined(separator: "`, `"))` the Keras one")",
                      notes: [.init("`\(previous.written)` written here", at: previous.key.location)])
                continue
            }
            out[name.canonical] = Field(written: written, key: pair.key, value: pair.value)
        }
        return out
    }

    // MARK: Scalars, typed by the field they fill (YAML 1.2 core schema).

    mutating func int(_ f: Field) -> Int? { int(f.value, name: f.written) }

    mutating func int(_ node: YAMLNode, name: String) -> Int? {
        guard case .scalar(let s, let plain) = node.value, plain, !node.isNull else {
            error(.wrongType, "`\(name)` must be an integer, found \(node.kindDescription)", at: node,
                  help: node.isPlainScalar || node.scalar == nil ? nil : "write the number without quotes")
            return nil
        }
        guard Self.isInteger(s) else {
            error(.wrongType, "`\(name)` must be an integer, found \(node.kindDescription)", at: node)
            return nil
        }
        guard let v = Int(s.hasPrefix("+") ? String(s.dropFirst()) : s) else {
            error(.numberOverflow, "`\(name)` is too large: \(s)", at: node)
            return nil
        }
        return v
    }

    /// An integer of at least `minimum` (1 by default).
    mutating func positive(_ f: Field, minimum: Int = 1) -> Int? {
        positive(f.value, name: f.written, minimum: minimum)
    }

    mutating func positive(_ node: YAMLNode, name: String, minimum: Int = 1) -> Int? {
        guard let v = int(node, name: name) else { return nil }
        guard v >= minimum else {
            error(.outOfRange, minimum == 1 ? "`\(name)` must be positive, found \(v)" : "`\(name)` must be at least \(minimum), found \(v)", at: node)
            return nil
        }
        return v
    }

    mutating func double(_ f: Field) -> Double? { double(f.value, name: f.written) }

    mutating func double(_ node: YAMLNode, name: String) -> Double? {
        guard case .scalar(let s, let plain) = node.value, plain, !node.isNull else {
            error(.wrongType, "`\(name)` must be a number, found \(node.kindDescription)", at: node,
                  help: node.isPlainScalar || node.scalar == nil ? nil : "write the number without quotes")
            return nil
        }
        switch Self.number(s) {
        case .value(let v): return v
        case .divisionByZero: error(.divisionByZero, "`\(name)` divides by zero: \(s)", at: node)
        case .invalid: error(.wrongType, "`\(name)` must be a number, found \(node.kindDescription)", at: node)
        }
        return nil
    }

    enum NumberText: Equatable {
        case value(Double)
        case divisionByZero
        case invalid
    }

    /// A finite number as a spec writes it wherever a number belongs: a YAML 1.2 number, or a fraction of two
    /// (`1/255`, `1/60000`), which is how scales and weights are usually thought of.
    static func number(_ s: String) -> NumberText {
        func plain(_ t: Substring) -> Double? {
            guard isNumber(String(t)) else { return nil }
            return Double(t.hasPrefix("+") ? t.dropFirst() : t)
        }
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        let v: Double
        if parts.count == 2, let a = plain(parts[0]), let b = plain(parts[1]) {
            if b == 0 { return .divisionByZero }
            v = a / b
        } else if let a = plain(Substring(s)) {
            v = a
        } else {
            return .invalid
        }
        return v.isFinite ? .value(v) : .invalid
    }

    mutating func positiveDouble(_ f: Field) -> Double? { positiveDouble(f.value, name: f.written) }

    mutating func positiveDouble(_ node: YAMLNode, name: String) -> Double? {
        guard let v = double(node, name: name) else { return nil }
        guard v > 0 else {
            error(.outOfRange, "`\(name)` must be positive, found \(node.scalar ?? "")", at: node)
            return nil
        }
        return v
    }

    /// `true` or `false` in the YAML 1.2 core schema's spellings; `yes`, `on` and quoted words are refused.
    mutating func bool(_ f: Field) -> Bool? {
        if case .scalar(let s, true) = f.value.value {
            if ["true", "True", "TRUE"].contains(s) { return true }
            if ["false", "False", "FALSE"].contains(s) { return false }
        }
        error(.wrongType, "`\(f.written)` must be `true` or `false`, found \(f.value.kindDescription)", at: f.value)
        return nil
    }

    mutating func string(_ f: Field) -> String? {
        guard let s = f.value.scalar, !f.value.isNull else {
            error(.wrongType, "`\(f.written)` must be a name, found \(f.value.kindDescription)", at: f.value)
            return nil
        }
        return s
    }

    /// One of a fixed set of names; `what` names the kind of thing in the message ("padding").
    mutating func choice<T>(_ node: YAMLNode, name: String, what: String, options: [(String, T)], caseInsensitive: Bool = false,
                            help: (String) -> String? = { _ in nil }) -> T? {
        guard let s = node.scalar, !node.isNull else {
            error(.wrongType, "`\(name)` must be \(Self.list(options.map(\.0))), found \(node.kindDescription)", at: node)
            return nil
        }
        for (n, v) in options where caseInsensitive ? n.lowercased() == s.lowercased() : n == s { return v }
        error(.unknownValue, "unknown \(what) `\(s)`; expected \(Self.list(options.map(\.0)))", at: node,
              help: help(s) ?? Suggestions.help(for: s, among: options.map(\.0)))
        return nil
    }

    /// A name, or a one-key mapping `name: {arguments}`; the arguments node is nil when absent or null.
    mutating func namedChoice(_ node: YAMLNode, name: String) -> (name: String, nameNode: YAMLNode, arguments: YAMLNode?)? {
        if let s = node.scalar, !node.isNull { return (s, node, nil) }
        if let pairs = node.pairs, pairs.count == 1, let k = pairs[0].key.scalar {
            let v = pairs[0].value
            return (k, pairs[0].key, v.isNull ? nil : v)
        }
        error(.wrongType, "`\(name)` must be a name or a one-key mapping `name: {arguments}`, found \(node.kindDescription)\(node.pairs.map { " with \($0.count) keys" } ?? "")", at: node)
        return nil
    }

    /// An int or a list of ints, each at least `minimum`. Returns the entries as written (1 or more).
    mutating func intList(_ f: Field, minimum: Int = 1) -> [Int]? {
        if let items = f.value.items {
            guard !items.isEmpty else {
                error(.emptyList, "`\(f.written)` must not be an empty list", at: f.value)
                return nil
            }
            var out: [Int] = []
            var ok = true
            for item in items {
                if let v = positive(item, name: f.written, minimum: minimum) { out.append(v) } else { ok = false }
            }
            return ok ? out : nil
        }
        return positive(f, minimum: minimum).map { [$0] }
    }

    static func list(_ names: [String]) -> String {
        let q = names.map { "`\($0)`" }
        if q.count <= 1 { return q.joined() }
        return q.dropLast().joined(separator: ", ") + " or " + q.last!
    }

    /// YAML 1.2 core-schema decimal integer: optional sign, digits (so `010` is ten).
    static func isInteger(_ s: String) -> Bool {
        var u = Substring(s)
        if u.first == "-" || u.first == "+" { u = u.dropFirst() }
        return !u.isEmpty && u.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// YAML 1.2 core-schema float (finite forms only): `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
    static func isNumber(_ s: String) -> Bool {
        var chars = Array(s.utf8)[...]
        if chars.first == UInt8(ascii: "-") || chars.first == UInt8(ascii: "+") { chars = chars.dropFirst() }
        func digits() -> Int {
            var n = 0
            while let c = chars.first, c >= 48, c <= 57 { chars = chars.dropFirst(); n += 1 }
            return n
        }
        let whole = digits()
        var fraction = 0
        if chars.first == UInt8(ascii: ".") {
            chars = chars.dropFirst()
            fraction = digits()
        }
        guard whole > 0 || fraction > 0 else { return false }
        if chars.first == UInt8(ascii: "e") || chars.first == UInt8(ascii: "E") {
            chars = chars.dropFirst()
            if chars.first == UInt8(ascii: "-") || chars.first == UInt8(ascii: "+") { chars = chars.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return chars.isEmpty
    }
}
