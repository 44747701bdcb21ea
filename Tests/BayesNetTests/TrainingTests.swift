import Foundation
import Testing
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// The training loop and its run folder.
@Suite struct TrainingTests {
    static func smallSpec(name: String = "small", epochs: Int = 3, optimizer: Optimizer = .adam(learningRate: 0.01),
                          samples: Int = 1) -> ModelSpec {
        SpecBuilder.spec(name: name, input: [8, 8, 1], layers: [
            SpecBuilder.conv("conv_0", input: [8, 8, 1], filters: 4, kernel: [3, 3]),
            SpecBuilder.pool("pool_1", input: [8, 8, 4]),
            SpecBuilder.flatten("flatten_2", input: [4, 4, 4]),
            SpecBuilder.dense("logits", inputs: 64, outputs: 3),
        ], train: TrainSpec(epochs: epochs, batchSize: 16, optimizer: optimizer, samples: samples),
        evaluate: EvaluateSpec(samples: 5, batchSize: 32), text: "name: \(name)\nepochs: \(epochs)\n")
    }

    static let train = TestNetworks.patterns(shape: [8, 8, 1], classes: 3, count: 90, noise: 0.8, seed: 100)
    static let test = TestNetworks.patterns(shape: [8, 8, 1], classes: 3, count: 30, noise: 0.8, seed: 100, split: 1)

    static func metricsWithoutTimes(_ directory: String) throws -> String {
        let text = try String(contentsOfFile: directory + "/metrics.jsonl", encoding: .utf8)
        return text.replacingOccurrences(of: #", "seconds": [0-9.eE+-]+"#, with: "", options: .regularExpression)
    }

    @Test func sameSeedGivesBitIdenticalMetricsAndWeightsWithAnyThreadCount() throws {
        let saved = Runtime.threadCount
        defer { Runtime.threadCount = saved }
        var metrics: [String] = []
        var checkpoints: [Data] = []
        for threads in [1, 2, 1] {
            Runtime.threadCount = threads
            let dir = TestNetworks.temporaryDirectory("determinism")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            _ = try Runner.run(spec: Self.smallSpec(samples: 2), train: Self.train, test: Self.test,
                               options: RunOptions(outputDirectory: dir))
            metrics.append(try Self.metricsWithoutTimes(dir))
            checkpoints.append(try Data(contentsOf: URL(fileURLWithPath: dir + "/checkpoint.safetensors")))
        }
        #expect(metrics[0].split(separator: "\n").count == 3)
        #expect(metrics[0] == metrics[1])
        #expect(metrics[0] == metrics[2])
        #expect(checkpoints[0] == checkpoints[1])
        #expect(checkpoints[0] == checkpoints[2])
    }

    @Test func differentSeedsGiveDifferentRuns() throws {
        var metrics: [String] = []
        for seed: UInt64 in [1, 2] {
            let dir = TestNetworks.temporaryDirectory("seeds")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            _ = try Runner.run(spec: Self.smallSpec(epochs: 1), train: Self.train, test: Self.test,
                               options: RunOptions(outputDirectory: dir, seed: seed))
            metrics.append(try Self.metricsWithoutTimes(dir))
        }
        #expect(metrics[0] != metrics[1])
    }

    @Test func runFolderHoldsEveryFileWithItsDocumentedFields() throws {
        let dir = TestNetworks.temporaryDirectory("folder")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Runner.run(spec: Self.smallSpec(), train: Self.train, test: Self.test,
                                    options: RunOptions(outputDirectory: dir))
        for file in ["spec.yaml", "metrics.jsonl", "summary.json", "checkpoint.safetensors", "predictions.csv",
                     "test-inputs.npy"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + file), "\(file)")
        }
        let lines = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix(#"{"epoch": 1, "step": 6, "loss": "#))
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
        #expect(summary["steps"] as? Int == 18)
        #expect(summary["training_examples"] as? Int == 90)
        let evaluation = summary["evaluation"] as! [String: Any]
        let predictive = evaluation["predictive"] as! [String: Any]
        #expect(evaluation["samples"] as? Int == 5)
        #expect(result.evaluation?.examples == 30)
        for key in ["accuracy", "nll", "ece", "brier", "entropy", "mutual_information"] {
            #expect(predictive[key] is Double, "\(key)")
        }
        let csv = try String(contentsOfFile: dir + "/predictions.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "index,label,predicted,confidence,entropy,expected_entropy,mutual_information,correct")
        #expect(csv.count == 31)
        let npy = try Data(contentsOf: URL(fileURLWithPath: dir + "/test-inputs.npy"))
        #expect(npy.count == 128 + 30 * 64 * 4)
    }

    @Test func checkpointHoldsTheNamedTensorsOptimizerStateAndSpec() throws {
        let dir = TestNetworks.temporaryDirectory("checkpoint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = Self.smallSpec(epochs: 1)
        _ = try Runner.run(spec: spec, train: Self.train, test: nil, options: RunOptions(outputDirectory: dir))
        let (entries, info) = try CheckpointIO.read(path: dir + "/checkpoint.safetensors")
        let names = Set(entries.map(\.name))
        for name in ["conv_0.kernel_posterior_loc", "conv_0.kernel_posterior_untransformed_scale",
                     "conv_0.bias_posterior_loc", "conv_0.bias_posterior_untransformed_scale",
                     "logits.kernel_posterior_loc", "optimizer.m.logits.kernel_posterior_loc",
                     "optimizer.v.conv_0.bias_posterior_untransformed_scale"] {
            #expect(names.contains(name), "\(name)")
        }
        #expect(entries.first { $0.name == "conv_0.kernel_posterior_loc" }?.shape == [3, 3, 1, 4])
        #expect(info.step == 6)
        #expect(info.epoch == 1)
        #expect(info.specText == spec.source.text)
        #expect(info.specSHA256 == Runner.specHash(spec))
    }

    @Test func resumingAnInterruptedRunEndsWithTheUninterruptedWeights() throws {
        let full = TestNetworks.temporaryDirectory("full")
        let parted = TestNetworks.temporaryDirectory("parted")
        defer {
            try? FileManager.default.removeItem(atPath: full)
            try? FileManager.default.removeItem(atPath: parted)
        }
        let spec = Self.smallSpec(epochs: 4)
        _ = try Runner.run(spec: spec, train: Self.train, test: Self.test, options: RunOptions(outputDirectory: full))
        _ = try Runner.run(spec: spec, train: Self.train, test: Self.test,
                           options: RunOptions(outputDirectory: parted, stopAfterEpochs: 1))
        _ = try Runner.run(spec: spec, train: Self.train, test: Self.test,
                           options: RunOptions(resume: parted, stopAfterEpochs: 1))
        _ = try Runner.run(spec: spec, train: Self.train, test: Self.test, options: RunOptions(resume: parted))
        let a = try Data(contentsOf: URL(fileURLWithPath: full + "/checkpoint.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: parted + "/checkpoint.safetensors"))
        #expect(a == b)
        #expect(try Self.metricsWithoutTimes(full) == Self.metricsWithoutTimes(parted))
    }

    @Test func refusesToOverwriteAnotherSpecsRunFolderWithoutForce() throws {
        let dir = TestNetworks.temporaryDirectory("overwrite")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try Runner.run(spec: Self.smallSpec(name: "first", epochs: 1), train: Self.train, test: nil,
                           options: RunOptions(outputDirectory: dir))
        let other = Self.smallSpec(name: "second", epochs: 1)
        let error = #expect(throws: RunError.self) {
            _ = try Runner.run(spec: other, train: Self.train, test: nil, options: RunOptions(outputDirectory: dir))
        }
        guard case .folderHoldsRun(dir, _)? = error else { Issue.record("refused for another reason: \(String(describing: error))"); return }
        _ = try Runner.run(spec: other, train: Self.train, test: nil, options: RunOptions(outputDirectory: dir, force: true))
        let (_, info) = try CheckpointIO.read(path: dir + "/checkpoint.safetensors")
        #expect(info.specText == other.source.text)
    }

    @Test func nonFiniteLossStopsTheRunNamingTheStepAndLayer() throws {
        let dir = TestNetworks.temporaryDirectory("nan")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = Self.smallSpec(epochs: 2, optimizer: .sgd(learningRate: 1e38, momentum: 0))
        do {
            _ = try Runner.run(spec: spec, train: Self.train, test: nil, options: RunOptions(outputDirectory: dir))
            Issue.record("the run should have stopped")
        } catch let error as RunError {
            #expect(error.description.contains("at step 2"), "\(error)")
            #expect(error.description.contains("layer 'conv_0"), "\(error)")
        }
    }

    @Test func lastPartialBatchIsTrained() throws {
        let session = try TrainingSession<Float>(spec: Self.smallSpec(), seed: 1,
                                                 train: TestNetworks.patterns(shape: [8, 8, 1], classes: 3, count: 37, noise: 0.5, seed: 3),
                                                 test: nil)
        #expect(session.stepsPerEpoch == 3)
        let m = try session.runEpoch()
        #expect(m.step == 3)
    }

    @Test func shuffleDiffersBetweenEpochsAndCoversEveryExample() throws {
        let session = try TrainingSession<Float>(spec: Self.smallSpec(), seed: 1, train: Self.train, test: nil)
        let a = session.order(forEpoch: 0), b = session.order(forEpoch: 1)
        #expect(a != b)
        #expect(a.sorted() == Array(0..<90))
        #expect(b.sorted() == Array(0..<90))
    }

    @Test func labelsOutsideTheClassesAreRefusedBeforeTraining() throws {
        var bad = Self.train
        bad.labels![5] = 7
        #expect(throws: TrainingError.self) {
            _ = try TrainingSession<Float>(spec: Self.smallSpec(), seed: 1, train: bad, test: nil)
        }
    }
}
