import Foundation
import Testing
import TestSupport

/// The built `bayesnet`, with colour off so that text output can be compared.
enum Command {
    static func run(_ arguments: [String]) throws -> ProcessOutcome {
        try BayesnetProcess.run(arguments, environment: ["NO_COLOR": "1"])
    }
}

@Suite struct CommandTests {
    let lenetPath = packageRoot() + "/specs/digits-lenet5-flipout.yaml"
    let invalidPath = packageRoot() + "/Tests/BayesNetSpecTests/Fixtures/invalid/unknown-argument.yaml"

    @Test func validateValidSpecsPrintsOkAndExitsZero() throws {
        let r = try Command.run(["validate"] + librarySpecs())
        #expect(r.status == 0)
        #expect(r.stdout.split(separator: "\n").map(String.init) == librarySpecs().map { "ok: \($0)" })
        #expect(r.stderr == "")
    }

    @Test func validateInvalidSpecPrintsRenderedDiagnosticsAndExitsOne() throws {
        let r = try Command.run(["validate", lenetPath, invalidPath])
        #expect(r.status == 1)
        #expect(r.stdout == "ok: \(lenetPath)\n")
        #expect(r.stderr.contains("""
        \(invalidPath):4:33: error: unknown key `kernal_size` in the arguments of `Conv2DFlipout`
              - Conv2DFlipout: {filters: 4, kernal_size: 3}
                                            ^
        help: did you mean `kernel_size`?
        """))
    }

    @Test func validateJSONListsDiagnosticsOnStdout() throws {
        let r = try Command.run(["validate", "--format", "json", invalidPath])
        #expect(r.status == 1)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(list.count == 5)
        #expect(list[1]["line"] as? Int == 4 && list[1]["column"] as? Int == 33)
        #expect(list[1]["help"] as? String == "did you mean `kernel_size`?")
        #expect(list[0]["help"] is NSNull)
    }

    @Test func badCommandLineUseExits64() throws {
        #expect(try Command.run(["validate"]).status == 64)
        #expect(try Command.run(["validate", "--format", "xml", lenetPath]).status == 64)
        #expect(try Command.run(["inspect"]).status == 64)
    }

    @Test func inspectPrintsTheTable() throws {
        let r = try Command.run(["inspect", lenetPath])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Total parameters: 17,764"))
        #expect(try Command.run(["inspect", invalidPath]).status == 1)
    }

    @Test func compileWritesTheJSONFile() throws {
        let out = NSTemporaryDirectory() + "bayesnet-compile-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try Command.run(["compile", lenetPath, "-o", out])
        #expect(r.status == 0)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        #expect(o["name"] as? String == "digits-lenet5-flipout")
        #expect(try Command.run(["compile", lenetPath]).stdout == String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self))
    }
}
