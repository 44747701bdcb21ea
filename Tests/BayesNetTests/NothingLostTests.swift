import Foundation
import Testing
import TestSupport
@testable import BayesNet

/// No run loses what it already wrote: SIGKILL at any moment, a full disk, or a second spec pointed at the
/// same folder each leave a loadable checkpoint and a metrics.jsonl whose lines all parse.
@Suite(.serialized) struct NothingLostTests {
    static let spec = """
        bayesnet: 1
        name: nothing-lost
        seed: 3
        input: {shape: [8, 8, 1]}
        layers:
          - Flatten
          - DenseFlipout: {units: 16, activation: relu}
          - DenseFlipout: {units: 10}
        likelihood: categorical
        data:
          train: {builtin: digits, split: train}
        train: {epochs: 3, batch_size: 32}

        """

    static func folder(_ name: String) throws -> (root: String, spec: String) {
        let root = NSTemporaryDirectory() + "bayesnet-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let spec = root + "/spec.yaml"
        try Self.spec.write(toFile: spec, atomically: true, encoding: .utf8)
        return (root, spec)
    }

    /// The epochs of metrics.jsonl, in file order; nil when a line does not parse or names no epoch.
    static func metricEpochs(_ run: String) -> [Int]? {
        guard let text = try? String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8) else { return [] }
        var epochs: [Int] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let epoch = object["epoch"] as? Int else { return nil }
            epochs.append(epoch)
        }
        return epochs
    }

    /// What a run folder holds after a kill, or a description of what is wrong with it.
    static func check(_ run: String) -> (checkpointEpoch: Int?, problem: String?) {
        var checkpointEpoch: Int?
        if FileManager.default.fileExists(atPath: run + "/checkpoint.safetensors") {
            do {
                checkpointEpoch = try CheckpointIO.read(path: run + "/checkpoint.safetensors").info.epoch
            } catch {
                return (nil, "checkpoint does not load: \(error)")
            }
        }
        guard let epochs = metricEpochs(run) else { return (checkpointEpoch, "a metrics.jsonl line does not parse") }
        guard epochs == Array(1..<(epochs.count + 1)) else { return (checkpointEpoch, "metrics.jsonl epochs \(epochs)") }
        // Metrics are written before the checkpoint: at most one line ahead of it.
        let held = checkpointEpoch ?? 0
        guard epochs.count == held || epochs.count == held + 1 else {
            return (checkpointEpoch, "metrics.jsonl has \(epochs.count) lines for a checkpoint at epoch \(held)")
        }
        return (checkpointEpoch, nil)
    }

    @Test func sigkillAtRandomMomentsLeavesALoadableRunThatResumes() throws {
        let (root, spec) = try Self.folder("sigkill")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let run = root + "/run"
        var random = UInt64(0x5EED)
        var kills = 0, attempts = 0, epochsSeen: [Int] = []
        while kills < 24 && attempts < 80 {
            attempts += 1
            random = random &* 6364136223846793005 &+ 1442695040888963407
            let delay = 30_000 + Int(random >> 33) % 500_000  // 30-530 ms after launch
            let resume = FileManager.default.fileExists(atPath: run + "/checkpoint.safetensors")
            // Far more epochs than can run between kills, so every kill lands inside the run.
            let process = try BayesnetProcess.launch(["run", spec, "--quiet", "--epochs", "100000"] + (resume ? ["--resume", run] : ["--out", run]))
            usleep(useconds_t(delay))
            guard process.isRunning else {
                process.waitUntilExit()
                Issue.record("the run ended (status \(process.terminationStatus)) before kill \(kills + 1), \(delay) µs after launch")
                break
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            kills += 1
            let (epoch, problem) = Self.check(run)
            #expect(problem == nil, "after kill \(kills) at \(delay) µs: \(problem ?? "")")
            epochsSeen.append(epoch ?? 0)
        }
        #expect(kills >= 20)
        // Kills landed at different points of the run, and it moved forward between them.
        #expect(Set(epochsSeen).count >= 3, "checkpoint epochs after each kill: \(epochsSeen)")
        // The run then finishes: two more epochs, evaluation and summary.
        let reached = Self.check(run).checkpointEpoch ?? 0
        let finish = try BayesnetProcess.run(["run", spec, "--resume", run, "--quiet", "--epochs", "\(reached + 2)"])
        #expect(finish.status == 0, "\(finish.stderr)")
        #expect(Self.metricEpochs(run) == Array(1...(reached + 2)))
        #expect(Self.check(run).checkpointEpoch == reached + 2)
        #expect(FileManager.default.fileExists(atPath: run + "/summary.json"))
    }

    @Test func fullDiskIsAnErrorAndThePreviousCheckpointSurvives() throws {
        let (root, spec) = try Self.folder("fulldisk")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let run = root + "/run"
        let first = try BayesnetProcess.run(["run", spec, "--out", run, "--epochs", "1", "--quiet"])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint.safetensors"))

        // Files may grow to 8 KiB only; the checkpoint needs more. SIGXFSZ ignored, so the write fails with EFBIG.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", #"ulimit -f 16; trap "" XFSZ; exec "$0" "$@""#, BayesnetProcess.executable,
                       "run", spec, "--resume", run, "--epochs", "3", "--quiet"]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()

        #expect(p.terminationReason == .exit && p.terminationStatus == 1)
        #expect(message.contains("error: cannot write to the run folder \(run): \(run)/checkpoint.safetensors: cannot write: File too large"))
        let after = try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint.safetensors"))
        #expect(after == before)
        #expect(Self.check(run).problem == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: run).sorted() == ["checkpoint.safetensors", "metrics.jsonl", "spec.yaml", "summary.json"])

        // With room again, the run resumes from the surviving checkpoint.
        let resumed = try BayesnetProcess.run(["run", spec, "--resume", run, "--epochs", "3", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(Self.metricEpochs(run) == [1, 2, 3])
    }

    @Test func anotherSpecsRunFolderIsNotOverwrittenWithoutForce() throws {
        let (root, spec) = try Self.folder("overwrite")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let run = root + "/run"
        let first = try BayesnetProcess.run(["run", spec, "--out", run, "--epochs", "1", "--quiet"])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try FileManager.default.contentsOfDirectory(atPath: run).sorted().map {
            try Data(contentsOf: URL(fileURLWithPath: run + "/" + $0))
        }
        let other = root + "/other.yaml"
        try Self.spec.replacingOccurrences(of: "units: 16", with: "units: 12").write(toFile: other, atomically: true, encoding: .utf8)

        let refused = try BayesnetProcess.run(["run", other, "--out", run, "--epochs", "1", "--quiet"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(run) holds a finished run (1 epoch, seed "))
        #expect(refused.stderr.contains("choose another folder with --out, or replace it with --force"))
        let after = try FileManager.default.contentsOfDirectory(atPath: run).sorted().map {
            try Data(contentsOf: URL(fileURLWithPath: run + "/" + $0))
        }
        #expect(after == before)

        let forced = try BayesnetProcess.run(["run", other, "--out", run, "--epochs", "1", "--quiet", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let spec2 = try CheckpointIO.read(path: run + "/checkpoint.safetensors").info.specText
        #expect(spec2.contains("units: 12"))
    }
}
