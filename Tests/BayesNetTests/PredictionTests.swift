import Foundation
import Testing
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// `predict` and `evaluate` from a checkpoint.
@Suite struct PredictionTests {
    /// A short run on the bundled digits, shared by the tests below.
    static let trained: (spec: ModelSpec, directory: String) = {
        var spec = SpecBuilder.spec(name: "predict-digits", input: [8, 8, 1], layers: [
            SpecBuilder.conv("conv_0", input: [8, 8, 1], filters: 4, kernel: [3, 3]),
            SpecBuilder.pool("pool_1", input: [8, 8, 4]),
            SpecBuilder.flatten("flatten_2", input: [4, 4, 4]),
            SpecBuilder.dense("logits", inputs: 64, outputs: 10, variational: SpecBuilder.variational(scale: 0.05)),
        ], train: TrainSpec(epochs: 2, batchSize: 50, optimizer: .adam(learningRate: 0.01)),
        evaluate: EvaluateSpec(samples: 8, batchSize: 100))
        spec.source.text = "name: predict-digits\n"
        let dir = TestNetworks.temporaryDirectory("predict")
        _ = try! Runner.run(spec: spec, options: RunOptions(outputDirectory: dir))
        return (spec, dir)
    }()

    static var weights: String { trained.directory + "/checkpoint.safetensors" }

    static func inputs(_ count: Int) -> [Float] {
        TestNetworks.uniforms(count * 64, seed: 71).map(Float.init)
    }

    @Test func evaluateFromTheCheckpointReproducesTheRunsEvaluation() throws {
        let (spec, dir) = Self.trained
        let result = try Serving.evaluate(spec: spec, weights: Self.weights)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
        let fromRun = summary["evaluation"] as! [String: Any]
        let fromCheckpoint = try JSONSerialization.jsonObject(with: Data(result.json.rendered().utf8)) as! [String: Any]
        #expect(NSDictionary(dictionary: fromRun).isEqual(to: fromCheckpoint))
    }

    /// The predictive is streamed sample by sample; keeping every sample and mixing them gives the same bits.
    @Test func streamedPredictiveEqualsTheMixtureOfKeptSamples() throws {
        let net = try Serving.network(Float.self, spec: Self.trained.spec, weights: Self.weights, seed: 5, maxBatch: 16)
        let inputs = Self.inputs(37)
        let streamed = Predictor.predictive(net, inputs: inputs, count: 37, samples: 6, useMean: false)
        var kept = PredictiveAccumulator(examples: 37, classes: 10)
        for sample in Predictor.outputs(net, inputs: inputs, count: 37, samples: 6, useMean: false) {
            var p = [Float](repeating: 0, count: sample.count)
            sample.withUnsafeBufferPointer { s in p.withUnsafeMutableBufferPointer { q in
                Losses.softmax(logits: s.baseAddress!, probabilities: q.baseAddress!, batch: 37, classes: 10)
            } }
            kept.add(p)
        }
        #expect(streamed.meanProbabilities == kept.meanProbabilities)
        #expect(streamed.perExample == kept.perExample)
    }

    @Test func posteriorMeanPredictionIsDeterministicAndHasNoEpistemicUncertainty() throws {
        let spec = Self.trained.spec
        let a = try Serving.predict(spec: spec, weights: Self.weights, inputs: Self.inputs(5), count: 5, samples: 1,
                                    posteriorMean: true)
        let b = try Serving.predict(spec: spec, weights: Self.weights, inputs: Self.inputs(5), count: 5, samples: 1,
                                    posteriorMean: true, seed: 999)
        #expect(a.outputs == b.outputs)
        #expect(a.outputs.count == 50)
        for row in a.uncertainty! { #expect(abs(row.mutualInformation) < 1e-9) }
    }

    @Test func sampledPredictionAveragesProbabilitiesAndSplitsUncertainty() throws {
        let spec = Self.trained.spec
        let r = try Serving.predict(spec: spec, weights: Self.weights, inputs: Self.inputs(6), count: 6, samples: 16,
                                    posteriorMean: false)
        let p = try #require(r.probabilities)
        for n in 0..<6 {
            let row = p[(n * 10)..<(n * 10 + 10)]
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
        }
        let u = try #require(r.uncertainty)
        #expect(u.allSatisfy { $0.mutualInformation >= 0 && $0.entropy >= $0.expectedEntropy - 1e-9 })
        #expect(u.contains { $0.mutualInformation > 0 })
    }

    @Test func checkpointOfAnotherArchitectureIsRefused() throws {
        let other = SpecBuilder.spec(input: [8, 8, 1], layers: [
            SpecBuilder.flatten("flatten_0", input: [8, 8, 1]),
            SpecBuilder.dense("logits", inputs: 64, outputs: 10, estimator: .deterministic),
        ])
        let error = #expect(throws: RunError.self) {
            _ = try Serving.predict(spec: other, weights: Self.weights, inputs: Self.inputs(1), count: 1, samples: 1,
                                    posteriorMean: true)
        }
        guard case .weightsUnreadable(.doesNotFit)? = error else { Issue.record("refused for another reason: \(String(describing: error))"); return }
    }

    @Test func channelsFirstInputIsMovedToChannelsLast() {
        // [N=1, C=2, L=3] → [N=1, L=3, C=2]
        let moved = Serving.channelsLast([1, 2, 3, 10, 20, 30], count: 1, exampleShape: [3, 2])
        #expect(moved == [1, 10, 2, 20, 3, 30])
    }

    /// Rank `rank` of `size` in one process: collectives leave its own values, and `gather` records the segment
    /// sizes it was given.
    final class PretendRank: Communicator, @unchecked Sendable {
        let rank: Int, size: Int
        var ranksOnThisNode: Int { size }
        var gatheredCounts: [Int] = []
        init(rank: Int, of size: Int) { self.rank = rank; self.size = size }
        func sum<S: TensorScalar>(_ values: UnsafeMutablePointer<S>, count: Int) {}
        func gather(_ values: UnsafeMutablePointer<Float>, counts: [Int]) { gatheredCounts = counts }
        func gather(_ text: String) -> [String] { [String](repeating: text, count: size) }
        func abort(status: Int32) -> Never { fatalError("aborted with \(status)") }
        func setInterruptionNote(_ note: String) {}
        func finish() {}
    }

    /// 37 examples in batches of 16 on 2 and 3 ranks: every example's outputs are the single process's, bit for
    /// bit, since each rank predicts whole batches at their single-process positions.
    @Test(arguments: [2, 3])
    func everyRankPredictsItsExamplesAsOneProcessDoes(ranks: Int) throws {
        let net = try Serving.network(Float.self, spec: Self.trained.spec, weights: Self.weights, seed: 5, maxBatch: 16)
        let inputs = Self.inputs(37)
        let one = Predictor.outputs(net, inputs: inputs, count: 37, samples: 3, useMean: false)
        var covered = 0
        for r in 0..<ranks {
            let rank = PretendRank(rank: r, of: ranks)
            let outputs = Predictor.outputs(net, inputs: inputs, count: 37, samples: 3, useMean: false, communicator: rank)
            #expect(rank.gatheredCounts.count == ranks && rank.gatheredCounts.reduce(0, +) == 37 * 10)
            let own = rank.gatheredCounts[..<r].reduce(0, +) ..< rank.gatheredCounts[...r].reduce(0, +)
            #expect(!own.isEmpty)
            for (pass, outputs) in outputs.enumerated() {
                #expect(Array(outputs[own]) == Array(one[pass][own]), "rank \(r) of \(ranks), pass \(pass)")
            }
            covered += own.count
        }
        #expect(covered == 37 * 10)
    }
}
