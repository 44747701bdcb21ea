#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The spec library's entry point: reads a spec, parses its YAML, lowers it to the IR and validates it.
public enum SpecLoader {
    /// Largest spec file read by default (a spec is a few kilobytes; this keeps a wrong path from reading a disk image).
    public static let maxFileBytes = SpecLimits.default.maxFileBytes

    /// Reads, parses, lowers and validates. Never throws, never crashes: problems come back as diagnostics.
    public static func load(path: String, limits: SpecLimits = .default) -> SpecLoadResult {
        switch readFile(path, limits: limits) {
        case .success(let text): return load(text: text, path: path, limits: limits)
        case .failure(let message): return load(failure: message, path: path)
        }
    }

    public static func load(text: String, path: String = "<string>", limits: SpecLimits = .default) -> SpecLoadResult {
        let source = SpecSource(path: path, text: text)
        var diagnostics: [Diagnostic] = []
        var spec: ModelSpec?
        if let root = YAMLParser(file: path, limits: limits).parse(text, diagnostics: &diagnostics) {
            var lowering = Lowering(source: source, limits: limits)
            spec = lowering.lower(root)
            diagnostics += lowering.r.diagnostics
        }
        if spec == nil && !diagnostics.contains(where: { $0.severity == .error }) {
            // Every failing path reports; this keeps "no spec" from ever coming back without a reason.
            diagnostics.append(Diagnostic(id: .noSpec, message: "could not read a spec from this YAML document", location: SourceLocation(file: path, line: 1, column: 1)))
        }
        diagnostics = capped(ordered(diagnostics), limits.maxDiagnostics)
        if diagnostics.contains(where: { $0.severity == .error }) { spec = nil }
        return SpecLoadResult(spec: spec, diagnostics: diagnostics, source: source)
    }

    /// The first `limit` diagnostics, then one that counts the rest (an error if any of them is).
    static func capped(_ ds: [Diagnostic], _ limit: Int) -> [Diagnostic] {
        guard ds.count > max(limit, 0) else { return ds }
        let rest = ds[max(limit, 0)...]
        let n = rest.count
        let summary = Diagnostic(id: .moreDiagnostics,
            severity: rest.contains { $0.severity == .error } ? .error : rest.contains { $0.severity == .warning } ? .warning : .note,
            message: "\(n) more problem\(n == 1 ? "" : "s") from here on not shown (raise the limit of \(limit) with \(SpecLimits.Option.maxDiagnostics))",
            location: rest.first!.location)
        return Array(ds.prefix(max(limit, 0))) + [summary]
    }

    /// Unique diagnostics in source order (defaults shared by several layers report once; a block's line
    /// reports once per instance, each with its note).
    static func ordered(_ ds: [Diagnostic]) -> [Diagnostic] {
        var seen = Set<String>()
        var out: [Diagnostic] = []
        for d in ds where seen.insert("\(d.location)|\(d.message)|\(d.notes.map { "\($0.location)" })").inserted { out.append(d) }
        return out.enumerated().sorted {
            let a = $0.element.location, b = $1.element.location
            return (a.line, a.column, $0.offset) < (b.line, b.column, $1.offset)
        }.map(\.element)
    }

    private enum ReadResult { case success(String), failure(String) }

    private static func readFile(_ path: String, limits: SpecLimits) -> ReadResult {
        guard let f = fopen(path, "rb") else {
            return .failure("cannot read spec file: \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n == 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > limits.maxFileBytes { return .failure(tooLarge(limits)) }
        }
        if ferror(f) != 0 { return .failure("cannot read spec file: \(String(cString: strerror(errno)))") }
        return decode(bytes)
    }

    /// Loads a spec from the bytes of a file, checking its size and encoding as `load(path:)` does.
    public static func load(bytes: [UInt8], path: String = "<bytes>", limits: SpecLimits = .default) -> SpecLoadResult {
        if bytes.count > limits.maxFileBytes { return load(failure: tooLarge(limits), path: path) }
        switch decode(bytes) {
        case .success(let text): return load(text: text, path: path, limits: limits)
        case .failure(let message): return load(failure: message, path: path)
        }
    }

    private static func tooLarge(_ limits: SpecLimits) -> String {
        "spec file is larger than the limit of \(Lowering.bytesText(Double(limits.maxFileBytes))) (raise it with \(SpecLimits.Option.maxFileBytes)); a spec is a short YAML file"
    }

    private static func load(failure message: String, path: String) -> SpecLoadResult {
        let d = Diagnostic(id: .unreadableFile, message: message, location: SourceLocation(file: path, line: 1, column: 1))
        return SpecLoadResult(spec: nil, diagnostics: [d], source: SpecSource(path: path, text: ""))
    }

    private static func decode(_ bytes: [UInt8]) -> ReadResult {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            var line = 1
            for l in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
                if String(validating: l, as: UTF8.self) == nil { break }
                line += 1
            }
            return .failure("spec file is not valid UTF-8 (line \(line))")
        }
        return .success(text)
    }
}

public struct SpecLoadResult: Sendable {
    /// Non-nil iff there is no error-severity diagnostic.
    public var spec: ModelSpec?
    public var diagnostics: [Diagnostic]
    /// For rendering diagnostics.
    public var source: SpecSource

    public init(spec: ModelSpec?, diagnostics: [Diagnostic], source: SpecSource) {
        self.spec = spec
        self.diagnostics = diagnostics
        self.source = source
    }

    public var isValid: Bool { spec != nil }
}
