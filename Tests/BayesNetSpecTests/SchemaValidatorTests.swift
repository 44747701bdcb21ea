import BayesNetFormats
import Foundation
import Testing
import TestSupport
@testable import BayesNetSpec

/// `bayesnet schema` checked by a real JSON Schema validator (Python's `jsonschema`, Draft 2020-12): every
/// spec in `specs/` and every valid fixture passes; the invalid fixtures marked `# schema: refused` fail.
@Suite struct SchemaValidatorTests {
    @Test func everyLibrarySpecAndValidFixturePasses() throws {
        let files = librarySpecs() + benchSpecs() + validFixtures()
        #expect(files.count >= 12)
        let verdicts = try validate(files)
        for file in files {
            #expect(verdicts[file] == "ok", "\(file): \(verdicts[file] ?? "not validated")")
        }
    }

    @Test func invalidFixturesWithSchemaProblemsAreRefused() throws {
        let files = invalidFixtures().filter { (try? String(contentsOfFile: $0, encoding: .utf8))?.contains("\n# schema: refused\n") == true }
        #expect(files.count >= 8)
        let verdicts = try validate(files)
        for file in files {
            #expect(verdicts[file]?.hasPrefix("invalid") == true, "\(file): \(verdicts[file] ?? "not validated")")
        }
    }

    @Test(arguments: validFixtures())
    func validFixtureLoadsWithoutADiagnostic(path: String) {
        let result = SpecLoader.load(path: path)
        #expect(result.isValid)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.message))")
    }

    @Test func fractionsPassWhereNumbersGoAndNowhereElse() throws {
        let dir = NSTemporaryDirectory() + "bayesnet-schema-\(getpid())-fractions"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = "bayesnet: 1\ninput: {shape: [4]}\nlayers:\n"
        let cases = [
            ("scale", base + "  - Dense: {units: 2}\ndata: {train: {format: npy, x: x.npy, scale: 1/255}}\n", true),
            ("penalty", base + "  - DenseFlipout: {units: 2, penalty_weight: 1/60000}\n", true),
            ("rate", base + "  - Dense: {units: 2}\ntrain: {optimizer: {adam: {learning_rate: 3/1000}}}\n", true),
            ("count", base + "  - Dense: {units: 4/2}\n", false),
            ("negative-scale", base + "  - Dense: {units: 2}\nlikelihood: {normal: {scale: -1/2}}\n", false),
        ]
        var paths: [String: Bool] = [:]
        for (name, text, valid) in cases {
            let path = dir + "/" + name + ".yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            paths[path] = valid
            #expect(SpecLoader.load(path: path).isValid == valid, "\(name): the loader disagrees")
        }
        let verdicts = try validate(Array(paths.keys))
        for (path, valid) in paths {
            #expect(verdicts[path].map { $0 == "ok" } == valid, "\(path): \(verdicts[path] ?? "not validated")")
        }
    }
}

func benchSpecs() -> [String] { yamlFiles(in: packageRoot() + "/specs/bench") }

/// Every spec in Fixtures/valid/: each loads without a single diagnostic.
func validFixtures() -> [String] { yamlFiles(in: packageRoot() + "/Tests/BayesNetSpecTests/Fixtures/valid") }

func yamlFiles(in folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted().map { folder + "/" + $0 }
}

/// Validates spec files against `SpecSchema.json()` with Python's `jsonschema`; returns "ok" or "invalid: ..."
/// per file. Each spec becomes JSON by the YAML 1.2 core schema, as the YAML language server reads it.
func validate(_ files: [String]) throws -> [String: String] {
    let dir = NSTemporaryDirectory() + "bayesnet-schema-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let schemaPath = dir + "/schema.json"
    try SpecSchema.json().write(toFile: schemaPath, atomically: true, encoding: .utf8)
    var arguments = [schemaPath]
    for (i, file) in files.enumerated() {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        var diagnostics: [Diagnostic] = []
        let root = try #require(YAMLParser(file: file).parse(text, diagnostics: &diagnostics), "\(file) is not YAML: \(diagnostics)")
        let json = dir + "/\(i).json"
        try coreSchemaJSON(root).text.write(toFile: json, atomically: true, encoding: .utf8)
        arguments += [json, file]
    }
    guard let python = JSONSchemaValidator.python else {
        Issue.record("""
            No JSON Schema validator found: the schema tests need Python 3 with `jsonschema`. Install it with \
            `apt-get install python3-jsonschema` (Debian; .ci/run does this) or `pip install jsonschema`.
            """)
        return [:]
    }
    let run = try JSONSchemaValidator.run(python, ["-c", JSONSchemaValidator.script] + arguments)
    #expect(run.status == 0, "the validator failed: \(run.stderr)")
    var verdicts: [String: String] = [:]
    for line in run.stdout.split(separator: "\n") {
        let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
        if parts.count == 2 { verdicts[parts[0]] = parts[1] }
    }
    return verdicts
}

/// A YAML node as JSON, typed by the YAML 1.2 core schema (what editors see), merge keys applied.
func coreSchemaJSON(_ node: YAMLNode) -> BayesNetSpec.JSONValue {
    switch node.value {
    case .mapping(let pairs): return .object(pairs.map { ($0.key.scalar ?? "", coreSchemaJSON($0.value)) })
    case .sequence(let items): return .array(items.map(coreSchemaJSON))
    case .scalar(let s, let plain):
        guard plain else { return .string(s) }
        if node.isNull { return .null }
        if ["true", "True", "TRUE"].contains(s) { return .bool(true) }
        if ["false", "False", "FALSE"].contains(s) { return .bool(false) }
        let unsigned = s.hasPrefix("+") ? String(s.dropFirst()) : s
        if Reader.isInteger(s) {
            let negative = unsigned.hasPrefix("-")
            let digits = String((negative ? String(unsigned.dropFirst()) : unsigned).drop { $0 == "0" })
            return .number((negative && !digits.isEmpty ? "-" : "") + (digits.isEmpty ? "0" : digits))
        }
        if Reader.isNumber(s), let d = Double(unsigned), d.isFinite { return .number("\(d)") }
        return .string(s)
    }
}

enum JSONSchemaValidator {
    /// Reads the schema, then (instance, name) pairs; prints `name<TAB>ok` or `name<TAB>invalid: ...`.
    static let script = """
        import json, sys
        import jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        args = sys.argv[2:]
        for instance, name in zip(args[0::2], args[1::2]):
            errors = sorted(validator.iter_errors(json.load(open(instance))), key=lambda e: list(map(str, e.absolute_path)))
            if errors:
                shown = "; ".join("/".join(map(str, e.absolute_path)) + ": " + e.message[:200] for e in errors)
                print(name + "\\tinvalid: " + shown.replace("\\n", " "))
            else:
                print(name + "\\tok")
        """

    /// The first Python 3 that imports `jsonschema`: the one on PATH, then Debian's.
    static let python: String? = {
        for candidate in ["/usr/bin/env python3", "/usr/bin/python3"] {
            let parts = candidate.split(separator: " ").map(String.init)
            if let r = try? run(parts[0], Array(parts.dropFirst()) + ["-c", "import jsonschema"]), r.status == 0 { return candidate }
        }
        return nil
    }()

    static func run(_ command: String, _ arguments: [String]) throws -> ProcessOutcome {
        let parts = command.split(separator: " ").map(String.init)
        return try Subprocess.run(parts[0], Array(parts.dropFirst()) + arguments)
    }
}
