import BayesNetRuntime
import BayesNetSpec
import Foundation
import Testing
import TestSupport
@testable import BayesNet

/// Graph specs run: layers in topological order, batch normalization and dropout switching between training and
/// evaluation, their state in the checkpoint, and a resumed run that ends with the uninterrupted run's bits.
@Suite struct GraphPlanTests {
    static func load(_ layers: String, input: String = "[64]", extra: String = "") throws -> ModelSpec {
        let text = """
            bayesnet: 1
            seed: 3
            input: {shape: \(input)}
            layers:
            \(layers)
            likelihood: categorical
            data: {train: {builtin: digits, split: train}}
            train: {epochs: 1}
            \(extra)
            """
        let result = SpecLoader.load(text: text, path: "graph.yaml")
        return try #require(result.spec, "\(result.diagnostics.map(\.message))")
    }

    static let residual = """
          - Dense: {name: a, units: 6, activation: relu}
          - BatchNormalization: {name: bn}
          - Dropout: {name: drop, rate: 0.5}
          - Add: {name: add, inputs: [drop, a]}
          - Dense: {units: 10}
        """

    static func output(_ net: Network<Float>, _ x: [Double], batch: Int, noise: NoiseContext) -> [Double] {
        TestNetworks.setInput(net, x)
        net.forward(batch: batch, noise: noise)
        return TestNetworks.output(net, count: batch * net.outputCount)
    }

    @Test func anOutputReadByTwoLayersGetsTheSumOfTheirGradients() throws {
        // b reads a twice (directly and through the identity Activation): the gradient into a is twice b's.
        let twice = try Network<Double>(spec: Self.load("  - Dense: {name: a, units: 3}\n  - Activation: {name: same, activation: linear}\n  - Add: {name: b, inputs: [a, same]}\n  - Dense: {units: 10}"),
                                        seed: 1, trainingExamples: 1, maxBatch: 2)
        let once = try Network<Double>(spec: Self.load("  - Dense: {name: a, units: 3}\n  - Dense: {units: 10}"),
                                       seed: 1, trainingExamples: 1, maxBatch: 2)
        // The last layer's kernel doubled in `once` gives the same function as a + a in `twice`.
        let last = try #require(once.parameters.first { $0.name.hasSuffix(".kernel") && !$0.name.hasPrefix("a.") })
        last.values = try #require(twice.parameters.first { $0.name.hasSuffix(".kernel") && !$0.name.hasPrefix("a.") }).values.map { 2 * $0 }
        let x = TestNetworks.normals(2 * 64, seed: 9)
        for net in [twice, once] {
            TestNetworks.setInput(net, x)
            net.zeroGradients()
            net.forward(batch: 2, noise: NoiseContext(seed: 1, step: 0))
            for i in 0..<(2 * net.outputCount) { net.outputGradient[i] = Double(i % 3) - 1 }
            net.backward(batch: 2)
        }
        let a = try #require(twice.parameter(named: "a.kernel")).gradients
        let b = try #require(once.parameter(named: "a.kernel")).gradients
        for i in a.indices { #expect(abs(a[i] - b[i]) <= 1e-12 * max(1, abs(b[i]))) }
    }

    @Test func batchNormalizationUsesItsMovingStatisticsInEvaluation() throws {
        let spec = try Self.load("  - Dense: {name: a, units: 4}\n  - BatchNormalization: {name: bn}\n  - Dense: {units: 10}")
        let net = try Network<Float>(spec: spec, seed: 1, trainingExamples: 1, maxBatch: 4)
        let x = TestNetworks.normals(4 * 64, seed: 2)
        // In evaluation an example's output does not depend on the rest of the batch; in training it does.
        let evaluation = NoiseContext(seed: 1, step: 0, evaluation: true)
        let alone = Self.output(net, Array(x[0..<64]), batch: 1, noise: evaluation)
        let together = Self.output(net, x, batch: 4, noise: evaluation)
        #expect(Array(together[0..<10]) == alone)
        let trained = Self.output(net, x, batch: 4, noise: NoiseContext(seed: 1, step: 0))
        #expect(Array(trained[0..<10]) != alone)
        // The training pass moved the averages away from (0, 1).
        #expect(try #require(net.parameter(named: "bn.moving_mean")).values.contains { $0 != 0 })
        #expect(try #require(net.parameter(named: "bn.moving_variance")).values.contains { $0 != 1 })
    }

    /// The moving variance after one training pass from 1, momentum 0.99 (Keras's default), on an 8x8x1 map.
    static func movingVarianceOnAMap<S: TensorScalar>(_ type: S.Type) throws -> (moved: Double, biased: Double) {
        let spec = try Self.load("  - BatchNormalization: {name: bn}\n  - Flatten\n  - Dense: {units: 10}",
                                 input: "[8, 8, 1]")
        let net = try Network<S>(spec: spec, seed: 1, trainingExamples: 1, maxBatch: 2)
        let x = (0..<128).map { Double(($0 * 37) % 11) }
        TestNetworks.setInput(net, x)
        net.forward(batch: 2, noise: NoiseContext(seed: 1, step: 0))
        let mean = x.reduce(0, +) / 128
        let biased = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 128
        let moving = try #require(net.parameter(named: "bn.moving_variance"))
        return (Double(moving.values[0]), biased)
    }

    @Test func float32MapsMoveTheVarianceByTheUnbiasedBatchVariance() throws {
        let (moved, biased) = try Self.movingVarianceOnAMap(Float.self)
        #expect(abs(moved - (0.99 + 0.01 * biased * 128 / 127)) < 1e-6)
    }

    @Test func float64MapsMoveTheVarianceByTheBiasedBatchVarianceAsKerasUnfusedLayerDoes() throws {
        let (moved, biased) = try Self.movingVarianceOnAMap(Double.self)
        #expect(abs(moved - (0.99 + 0.01 * biased)) < 1e-12)
    }

    @Test func dropoutIsOffInEvaluationUnlessMCDropout() throws {
        let x = TestNetworks.normals(3 * 64, seed: 4)
        let plain = try Network<Float>(spec: Self.load(Self.residual), seed: 1, trainingExamples: 1, maxBatch: 3)
        let a = Self.output(plain, x, batch: 3, noise: NoiseContext(seed: 1, step: 0, evaluation: true))
        let b = Self.output(plain, x, batch: 3, noise: NoiseContext(seed: 1, step: 1, evaluation: true))
        #expect(a == b)
        let mc = try Network<Float>(spec: Self.load(Self.residual, extra: "evaluate: {mc_dropout: true}"), seed: 1,
                                    trainingExamples: 1, maxBatch: 3)
        let c = Self.output(mc, x, batch: 3, noise: NoiseContext(seed: 1, step: 0, evaluation: true))
        let d = Self.output(mc, x, batch: 3, noise: NoiseContext(seed: 1, step: 1, evaluation: true))
        #expect(c != d)
        // At the posterior mean, MC dropout is off too.
        let m = Self.output(mc, x, batch: 3, noise: NoiseContext(seed: 1, step: 0, useMean: true, evaluation: true))
        #expect(m == a)
    }

    @Test func dropoutMasksDependOnTheExampleNotTheBatching() throws {
        let net = try Network<Float>(spec: Self.load(Self.residual), seed: 1, trainingExamples: 1, maxBatch: 3)
        let x = TestNetworks.normals(3 * 64, seed: 5)
        let whole = Self.output(net, x, batch: 3, noise: NoiseContext(seed: 1, step: 7, evaluation: true))
        let mc = try Network<Float>(spec: Self.load(Self.residual, extra: "evaluate: {mc_dropout: true}"), seed: 1,
                                    trainingExamples: 1, maxBatch: 3)
        let all = Self.output(mc, x, batch: 3, noise: NoiseContext(seed: 1, step: 7, evaluation: true))
        let last = Self.output(mc, Array(x[128...]), batch: 1,
                               noise: NoiseContext(seed: 1, step: 7, evaluation: true, exampleOffset: 2))
        #expect(Array(all[20...]) == last)
        #expect(whole != all)
    }

    @Test func theCheckpointHoldsBatchNormalizationStateBesideItsParameters() throws {
        let spec = try Self.load("  - Dense: {name: a, units: 4}\n  - BatchNormalization: {name: bn}\n  - Dense: {units: 10}")
        let net = try Network<Float>(spec: spec, seed: 1, trainingExamples: 1, maxBatch: 1)
        let names = net.checkpointTensors.map(\.name)
        for n in ["bn.gamma", "bn.beta", "bn.moving_mean", "bn.moving_variance"] { #expect(names.contains(n)) }
        #expect(!net.parameters.map(\.name).contains("bn.moving_mean"))
        #expect(try #require(net.parameter(named: "bn.gamma")).values == [1, 1, 1, 1])
    }

    @Test func aResumedGraphRunEndsWithTheUninterruptedRunsCheckpoint() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let spec = folder.write("graph.yaml", text: """
            bayesnet: 1
            name: graph-resume
            seed: 5
            input: {shape: [8, 8, 1]}
            layers:
              - Conv2DFlipout: {name: stem, filters: 4, kernel_size: 3, padding: same}
              - BatchNormalization: {name: bn}
              - Activation: relu
              - Conv2DFlipout: {name: conv, filters: 4, kernel_size: 3, padding: same}
              - Add: {name: add, inputs: [conv, activation_2]}
              - Dropout: {rate: 0.2}
              - GlobalAveragePooling2D: {name: pool}
              - DenseFlipout: {units: 10}
            likelihood: categorical
            data:
              train: {builtin: digits, split: train}
              test: {builtin: digits, split: test}
            train: {epochs: 3, batch_size: 64}
            evaluate: {samples: 2}
            """)
        let part = folder.file("part"), full = folder.file("full")
        let first = try BayesnetProcess.run(["run", spec, "--out", part, "--quiet", "--epochs", "1"])
        #expect(first.status == 0, "\(first.stderr)")
        let resumed = try BayesnetProcess.run(["run", spec, "--resume", part, "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let whole = try BayesnetProcess.run(["run", spec, "--out", full, "--quiet"])
        #expect(whole.status == 0, "\(whole.stderr)")
        let a = FileManager.default.contents(atPath: part + "/checkpoint.safetensors")
        #expect(a != nil && a == FileManager.default.contents(atPath: full + "/checkpoint.safetensors"),
                "the resumed run's final checkpoint differs from the uninterrupted run's")
        let (entries, _) = try CheckpointIO.read(path: full + "/checkpoint.safetensors")
        #expect(entries.contains { $0.name == "bn.moving_variance" })
    }

    @Test func mcDropoutGivesADeterministicNetworkEpistemicUncertainty() throws {
        let data = TestNetworks.patterns(shape: [64], classes: 10, count: 12, noise: 0.3, seed: 8)
        func mutualInformation(_ extra: String) throws -> Double {
            let net = try Network<Float>(spec: Self.load(Self.residual, extra: extra), seed: 1, trainingExamples: 1,
                                         maxBatch: 12)
            return Serving.classify(net, data: data, samples: 8).1.map(\.mutualInformation).reduce(0, +)
        }
        #expect(try mutualInformation("") < 1e-6)
        #expect(try mutualInformation("evaluate: {mc_dropout: true}") > 1e-3)
    }
}
