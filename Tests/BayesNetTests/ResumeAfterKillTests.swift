import Foundation
import Testing
import TestSupport

/// Runs the built `bayesnet` executable, kills it with SIGKILL mid-run, resumes it, and compares the final
/// weights with an uninterrupted run of the same seed.
@Suite struct ResumeAfterKillTests {
    static let spec = """
        bayesnet: 1
        name: kill-and-resume
        seed: 5
        input: {shape: [8, 8, 1]}
        layers:
          - Conv2DFlipout: {filters: 6, kernel_size: 3, padding: same, activation: relu}
          - MaxPool: {pool_size: 2}
          - Flatten
          - DenseFlipout: {units: 10}
        likelihood: categorical
        data:
          train: {builtin: digits, split: train}
        train: {epochs: 12, batch_size: 16}

        """

    static func lines(_ path: String) -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").count
    }

    @Test func resumeAfterSIGKILLEndsWithTheUninterruptedWeights() throws {
        #expect(FileManager.default.isExecutableFile(atPath: BayesnetProcess.executable), "build the bayesnet executable first")
        let root = NSTemporaryDirectory() + "bayesnet-kill-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let specPath = root + "/kill.yaml"
        try Self.spec.write(toFile: specPath, atomically: true, encoding: .utf8)

        let killed = root + "/killed", full = root + "/full"
        let victim = try BayesnetProcess.launch(["run", specPath, "--out", killed, "--quiet"])
        let deadline = Date().addingTimeInterval(120)
        while Self.lines(killed + "/metrics.jsonl") < 2 && victim.isRunning && Date() < deadline {
            usleep(2000)
        }
        #expect(victim.isRunning, "the run ended before it could be killed")
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        #expect(victim.terminationReason == .uncaughtSignal)
        let epochsBeforeKill = Self.lines(killed + "/metrics.jsonl")
        #expect(epochsBeforeKill >= 2 && epochsBeforeKill < 12)

        let resumed = try BayesnetProcess.launch(["run", specPath, "--resume", killed, "--quiet"])
        resumed.waitUntilExit()
        #expect(resumed.terminationStatus == 0)
        let uninterrupted = try BayesnetProcess.launch(["run", specPath, "--out", full, "--quiet"])
        uninterrupted.waitUntilExit()
        #expect(uninterrupted.terminationStatus == 0)

        let a = try Data(contentsOf: URL(fileURLWithPath: killed + "/checkpoint.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: full + "/checkpoint.safetensors"))
        #expect(a == b, "the resumed run's final checkpoint differs from the uninterrupted run's")
        #expect(Self.lines(killed + "/metrics.jsonl") == 12)
    }
}
