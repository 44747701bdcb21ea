import Testing
@testable import BayesNetSpec

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every spec in Fixtures/invalid/, each ending with comments that pin its diagnostics:
/// `# expect LINE:COLUMN [id]: message`, optionally followed by `# help: text` and `# note LINE:COLUMN: text` lines.
func invalidFixtures() -> [String] {
    let folder = packageRoot() + "/Tests/BayesNetSpecTests/Fixtures/invalid"
    guard let d = opendir(folder) else { return [] }
    defer { closedir(d) }
    var out: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name.hasSuffix(".yaml") { out.append(folder + "/" + name) }
    }
    return out.sorted()
}

struct Expected: Equatable, CustomStringConvertible {
    var line: Int
    var column: Int
    var id: String
    var message: String
    var help: String?
    var notes: [String] = []
    var description: String {
        "\(line):\(column) [\(id)]: \(message)" + (help.map { " [help: \($0)]" } ?? "") + notes.map { " [note \($0)]" }.joined()
    }
}

func expectations(in text: String) -> [Expected] {
    var out: [Expected] = []
    for raw in text.split(separator: "\n") {
        let line = String(raw)
        if line.hasPrefix("# expect ") {
            let rest = line.dropFirst("# expect ".count)
            let parts = rest.split(separator: ":", maxSplits: 2)
            let columnAndID = parts.count == 3 ? parts[1].split(separator: " ") : []
            guard columnAndID.count == 2, let l = Int(parts[0]), let c = Int(columnAndID[0]) else { continue }
            let id = String(columnAndID[1].dropFirst().dropLast())
            out.append(Expected(line: l, column: c, id: id, message: String(parts[2].dropFirst())))
        } else if line.hasPrefix("# help: "), !out.isEmpty {
            out[out.count - 1].help = String(line.dropFirst("# help: ".count))
        } else if line.hasPrefix("# note "), !out.isEmpty {
            out[out.count - 1].notes.append(String(line.dropFirst("# note ".count)))
        }
    }
    return out
}

extension Expected {
    init(_ d: Diagnostic) {
        self.init(line: d.location.line, column: d.location.column, id: d.id.rawValue, message: d.message, help: d.help,
                  notes: d.notes.map { "\($0.location.line):\($0.location.column): \($0.message)" })
    }
}

@Suite struct InvalidFixtureTests {
    @Test func fixturesExist() {
        #expect(invalidFixtures().count >= 30)
    }

    @Test(arguments: invalidFixtures())
    func fixtureReportsExactlyItsPinnedDiagnostics(path: String) {
        let result = SpecLoader.load(path: path)
        let expected = expectations(in: result.source.text)
        #expect(!expected.isEmpty, "the fixture pins no diagnostic")
        #expect(result.spec == nil)
        let actual = result.diagnostics.map(Expected.init)
        #expect(actual == expected)
        #expect(result.diagnostics.allSatisfy { $0.location.file == path && $0.severity == .error })
    }
}
