import Testing
@testable import BayesNetSpec

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every spec in Fixtures/invalid/, each ending with comments that pin its diagnostics:
/// `# expect LINE:COLUMN: message`, optionally followed by `# help: text`.
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
    var message: String
    var help: String?
    var description: String { "\(line):\(column): \(message)" + (help.map { " [help: \($0)]" } ?? "") }
}

func expectations(in text: String) -> [Expected] {
    var out: [Expected] = []
    for raw in text.split(separator: "\n") {
        let line = String(raw)
        if line.hasPrefix("# expect ") {
            let rest = line.dropFirst("# expect ".count)
            let parts = rest.split(separator: ":", maxSplits: 2)
            guard parts.count == 3, let l = Int(parts[0]), let c = Int(parts[1]) else { continue }
            out.append(Expected(line: l, column: c, message: String(parts[2].dropFirst())))
        } else if line.hasPrefix("# help: "), !out.isEmpty {
            out[out.count - 1].help = String(line.dropFirst("# help: ".count))
        }
    }
    return out
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
        let actual = result.diagnostics.map { Expected(line: $0.location.line, column: $0.location.column, message: $0.message, help: $0.help) }
        #expect(actual == expected)
        #expect(result.diagnostics.allSatisfy { $0.location.file == path && $0.severity == .error })
    }
}
