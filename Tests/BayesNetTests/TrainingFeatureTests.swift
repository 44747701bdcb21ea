import BayesNetFormats
import Foundation
import Testing
@testable import BayesNet
import BayesNetSpec

/// Validation data, early stopping, learning-rate schedules, KL annealing and the Bernoulli likelihood.
@Suite struct TrainingFeatureTests {
    static func spec(_ extra: String, likelihood: String = "categorical", layers: String = "{DenseFlipout: {units: 10}}",
                     data: String = "  train: {builtin: digits, split: train}\n  test: {builtin: digits, split: test}\n") -> ModelSpec {
        let text = """
            bayesnet: 1
            name: features
            seed: 4
            input: {shape: [8, 8, 1]}
            layers: [Flatten, {DenseFlipout: {units: 16, activation: relu}}, \(layers)]
            likelihood: \(likelihood)
            data:
            \(data)train:
              epochs: 6
              batch_size: 100
              optimizer: {adam: {learning_rate: 0.01}}
            \(extra)
            evaluate: {samples: 2}

            """
        let result = SpecLoader.load(text: text, path: "<features>.yaml")
        return result.spec!
    }

    static func metrics(_ dir: String) throws -> [[String: Any]] {
        try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    @Test func aValidationFractionHoldsOutTheLastTrainingExamples() throws {
        let spec = Self.spec("", data: "  train: {builtin: digits, split: train}\n  validation: {fraction: 0.2}\n")
        let dir = TestNetworks.temporaryDirectory("validation")
        let r = try Runner.run(spec: spec, options: RunOptions(outputDirectory: dir))
        let lines = try Self.metrics(dir)
        #expect(lines.allSatisfy { $0["validation_nll"] is Double && $0["validation_accuracy"] is Double && $0["test_accuracy"] == nil })
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
        #expect(summary["training_examples"] as? Int == 1200)
        #expect(r.epochs.count == 6)
    }

    @Test func theHeldOutExamplesAreTheLastOnes() throws {
        let data = try DataLoader.builtin(.digits, split: "train")
        let (head, tail) = data.split(at: 1200)
        #expect(head.count == 1200 && tail.count == 300)
        #expect(tail.labels! == Array(data.labels![1200...]))
        #expect(tail.inputs == Array(data.inputs[(1200 * 64)...]))
    }

    @Test func earlyStoppingStopsAndEvaluatesTheBestEpoch() throws {
        // A learning rate far too high for the validation NLL to keep falling.
        var spec = Self.spec("  early_stopping: {patience: 1}", data: "  train: {builtin: digits, split: train}\n  validation: {fraction: 0.2}\n  test: {builtin: digits, split: test}\n")
        spec.train.epochs = 60
        spec.train.optimizer = .adam(learningRate: 0.05)
        let dir = TestNetworks.temporaryDirectory("early")
        let r = try Runner.run(spec: spec, options: RunOptions(outputDirectory: dir))
        #expect(r.epochs.count < 60)
        let nll = try Self.metrics(dir).map { $0["validation_nll"] as! Double }
        let best = nll.indices.min { nll[$0] < nll[$1] }! + 1
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
        let stopping = summary["early_stopping"] as! [String: Any]
        #expect(stopping["best_epoch"] as? Int == best)
        #expect(stopping["stopped_after_epoch"] as? Int == r.epochs.count)
        #expect(r.epochs.count == best + 1, "patience 1: one epoch without improvement")
        let kept = try CheckpointIO.read(path: dir + "/" + RunFolderFiles.bestCheckpoint).info.epoch
        #expect(kept == best)
    }

    @Test func earlyStoppingWithoutValidationDataIsRefused() throws {
        let spec = Self.spec("  early_stopping: {patience: 2}")
        let error = #expect(throws: RunError.self) { _ = try Runner.run(spec: spec, options: RunOptions(outputDirectory: TestNetworks.temporaryDirectory("novalidation"))) }
        guard case .earlyStoppingWithoutValidation? = error else { Issue.record("refused for another reason: \(String(describing: error))"); return }
    }

    @Test func schedulesFollowTheirCurves() {
        let cosine = LearningRateSchedule(kind: .cosine(finalFraction: 0.1), warmupEpochs: 2)
        #expect(abs(cosine.factor(epoch: 1, of: 12) - 0.5) < 1e-9, "half-way up the warm-up")
        #expect(abs(cosine.factor(epoch: 2, of: 12) - 1) < 1e-9)
        #expect(abs(cosine.factor(epoch: 7, of: 12) - 0.55) < 1e-9, "half-way down: (1 + 0.1) / 2")
        #expect(abs(cosine.factor(epoch: 12, of: 12) - 0.1) < 1e-9)
        let step = LearningRateSchedule(kind: .step(everyEpochs: 3, factor: 0.5))
        #expect(step.factor(epoch: 2.9, of: 10) == 1 && step.factor(epoch: 3, of: 10) == 0.5 && step.factor(epoch: 6.5, of: 10) == 0.25)
        let exponential = LearningRateSchedule(kind: .exponential(factor: 0.9))
        #expect(abs(exponential.factor(epoch: 2, of: 10) - 0.81) < 1e-12)
    }

    @Test func theScheduledLearningRateIsWhatTheOptimizerGets() throws {
        let spec = Self.spec("  schedule: {step: {every_epochs: 2, factor: 0.5}}")
        let dir = TestNetworks.temporaryDirectory("schedule")
        _ = try Runner.run(spec: spec, options: RunOptions(outputDirectory: dir))
        let rates = try Self.metrics(dir).map { $0["learning_rate"] as! Double }
        // Each epoch's last step: epochs 1-2 at the full rate, then halved every two epochs.
        #expect(rates == [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025])
    }

    @Test func klAnnealingRaisesTheKLWeightToOne() throws {
        let spec = Self.spec("  kl_warmup_epochs: 3")
        let dir = TestNetworks.temporaryDirectory("kl-warmup")
        _ = try Runner.run(spec: spec, options: RunOptions(outputDirectory: dir))
        let lines = try Self.metrics(dir)
        let weights = lines.map { $0["kl_weight"] as! Double }
        #expect(abs(weights[0] - 1.0 / 3) < 1e-12 && abs(weights[1] - 2.0 / 3) < 1e-12 && weights[2...].allSatisfy { $0 == 1 })
        // The reported KL term is the weighted one: far below the full weight's in the first epoch.
        let plain = TestNetworks.temporaryDirectory("kl-plain")
        _ = try Runner.run(spec: Self.spec(""), options: RunOptions(outputDirectory: plain))
        let full = try Self.metrics(plain)
        #expect((lines[0]["kl"] as! Double) < 0.5 * (full[0]["kl"] as! Double))
    }

    @Test func bernoulliTrainsOnBinaryLabelsAndReportsTwoClasses() throws {
        let root = TestNetworks.temporaryDirectory("bernoulli")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let digits = try DataLoader.builtin(.digits, split: "train")
        // Is the digit a 0? From the bundled digits, as bytes 0-16.
        let labels = digits.labels!.map { $0 == 0 ? Int32(1) : Int32(0) }
        try NPY.writeFloat32(digits.inputs, shape: [digits.count, 8, 8], to: root + "/x.npy")
        try NPY.write(NumericArray(shape: [digits.count], storage: .int32(labels)), to: root + "/y.npy")
        var spec = Self.spec("", likelihood: "bernoulli", layers: "{DenseFlipout: {units: 1}}",
                             data: "  train: {format: npy, x: \(root)/x.npy, y: \(root)/y.npy}\n  test: {format: npy, x: \(root)/x.npy, y: \(root)/y.npy}\n")
        spec.train.epochs = 8
        let r = try Runner.run(spec: spec, options: RunOptions(outputDirectory: root + "/run"))
        let accuracy = try #require(r.evaluation?.lines.first)
        // Always answering "not a zero" would score 0.90.
        let value = Double(accuracy.split(separator: " ")[4])!
        #expect(value > 0.97, "\(accuracy)")
        let csv = try String(contentsOfFile: root + "/run/predictions.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.dropFirst().allSatisfy { $0.split(separator: ",")[2] == "0" || $0.split(separator: ",")[2] == "1" })
    }

    @Test func bernoulliNeedsOneOutput() {
        let text = "bayesnet: 1\ninput: {shape: [4]}\nlayers: [{Dense: {units: 2}}]\nlikelihood: bernoulli\n"
        let result = SpecLoader.load(text: text, path: "<b>.yaml")
        #expect(result.spec == nil)
        #expect(result.diagnostics.contains { $0.message.contains("a Bernoulli likelihood needs one logit per example") })
    }
}
