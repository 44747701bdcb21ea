import Foundation
import Testing

/// Runs the built `bayesnet` executable (a product of the same build as this test bundle).
struct Command {
    var status: Int32
    var stdout: String
    var stderr: String

    static var executable: String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var dir = here
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("bayesnet").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return here.appendingPathComponent("bayesnet").path
    }

    static func run(_ arguments: [String]) throws -> Command {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Command(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
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
