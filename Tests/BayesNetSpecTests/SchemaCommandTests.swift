import Foundation
import Testing
import BayesNetSpec

@Suite struct SchemaCommandTests {
    let committed = packageRoot() + "/docs/bayesnet.schema.json"

    @Test func committedSchemaIsTheCommandsOutput() throws {
        let r = try Command.run(["schema"])
        #expect(r.status == 0)
        #expect(r.stderr == "")
        let file = try String(contentsOfFile: committed, encoding: .utf8)
        #expect(r.stdout == file, "docs/bayesnet.schema.json is stale: regenerate it with `bayesnet schema -o docs/bayesnet.schema.json`")
        #expect(r.stdout == SpecSchema.json())
    }

    @Test func outputOptionWritesTheSameSchemaToAFile() throws {
        let path = NSTemporaryDirectory() + "bayesnet-schema-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try Command.run(["schema", "-o", path])
        #expect(r.status == 0 && r.stdout == "")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == SpecSchema.json())
    }

    @Test func anUnwritableOutputFailsAndLeavesNothingBehind() throws {
        let dir = NSTemporaryDirectory() + "bayesnet-schema-missing-\(getpid())"
        let r = try Command.run(["schema", "-o", dir + "/schema.json"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot write \(dir)/schema.json"))
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test func everySpecNamesTheCommittedSchemaInItsFirstLine() throws {
        for path in librarySpecs() + benchSpecs() {
            let first = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
            let prefix = "# yaml-language-server: $schema="
            #expect(first.hasPrefix(prefix), "\(path) lacks the modeline")
            let target = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(String(first.dropFirst(prefix.count))).standardized.path
            #expect(target == URL(fileURLWithPath: committed).standardized.path, "\(path) names \(target)")
        }
    }
}
