import Foundation
import Testing
import BayesNetSpec
@testable import BayesNet

/// The benchmark workloads in specs/bench and the figures `bayesnet bench` reports.
@Suite("Benchmark")
struct BenchTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func benchSpec(_ name: String) throws -> ModelSpec {
        let path = repository.appendingPathComponent("specs/bench/\(name).yaml").path
        let result = SpecLoader.load(path: path)
        #expect(result.diagnostics.isEmpty, "\(name): \(result.diagnostics.map(\.message))")
        return try #require(result.spec)
    }

    /// The unpublished shapes that `specs/bench/compare.sh` also takes, to check results beyond the four workloads.
    static let extraSpecs = ["x1-stride2-rgb", "x2-conv3d-pool", "x3-wide-dense"]

    static func flipoutConvolution(_ layer: Layer) -> ConvolutionOp? {
        if case .convolution(let c) = layer.op, c.estimator == .flipout { return c }
        return nil
    }

    static let tiny = """
        bayesnet: 1
        name: tiny
        seed: 5
        input: {shape: [6, 6, 2]}
        layers:
          - Conv2DFlipout: {filters: 3, kernel_size: 3, padding: same, activation: relu, penalty_weight: 1/60000}
          - Flatten
          - DenseFlipout: {units: 4, penalty_weight: 1/60000}
        likelihood: categorical
        train: {batch_size: 5, optimizer: {adam: {learning_rate: 0.001}}}
        """

    static func tinySpec() throws -> ModelSpec {
        try #require(SpecLoader.load(text: tiny).spec)
    }

    @Test func lenetWorkloadHasTheArchitectureOfTheTFPExample() throws {
        let spec = try Self.benchSpec("w1-lenet5")
        #expect(spec.input.shape == [28, 28, 1])
        #expect(spec.train.batchSize == 128)
        #expect(spec.outputShape == [10])
        let convolutions = spec.layers.compactMap(Self.flipoutConvolution)
        #expect(convolutions.map(\.outputSize) == [6, 16, 120])
        #expect(convolutions.allSatisfy { $0.filterShape == [5, 5] && $0.padding == .same && $0.activation == .relu })
        #expect(spec.layers.map(\.outputShape) == [[28, 28, 6], [14, 14, 6], [14, 14, 16], [7, 7, 16], [7, 7, 120],
                                                   [5880], [84], [10]])
        #expect(spec.layers.allSatisfy { layer in
            switch layer.op {
            case .convolution(let c): return c.variational?.penaltyWeight == .value(1.0 / 60000)
            case .affine(let a): return a.estimator == .flipout && a.variational?.penaltyWeight == .value(1.0 / 60000)
            default: return true
            }
        })
    }

    @Test func wideConvolutionWorkloadIsOneFlipoutLayerWithASquaredLoss() throws {
        let spec = try Self.benchSpec("w2-conv64")
        #expect(spec.input.shape == [32, 32, 64])
        #expect(spec.train.batchSize == 32)
        let c = try #require(spec.layers.count == 1 ? Self.flipoutConvolution(spec.layers[0]) : nil)
        #expect(c.inputSize == 64 && c.outputSize == 64 && c.filterShape == [3, 3] && c.padding == .same)
        #expect(c.activation == .relu)
        #expect(spec.likelihood == .normal(scale: 1))
    }

    @Test func sequenceWorkloadIsADilatedRankOneConvolution() throws {
        let spec = try Self.benchSpec("w3-conv1d")
        #expect(spec.input.shape == [1024, 32])
        #expect(spec.train.batchSize == 32)
        let c = try #require(spec.layers.count == 1 ? Self.flipoutConvolution(spec.layers[0]) : nil)
        #expect(c.rank == 1 && c.inputSize == 32 && c.outputSize == 64 && c.filterShape == [9] && c.dilations == [2])
        #expect(c.padding == .same)
    }

    @Test func volumeWorkloadIsARankThreeConvolution() throws {
        let spec = try Self.benchSpec("w3-conv3d")
        #expect(spec.input.shape == [16, 16, 16, 8])
        #expect(spec.train.batchSize == 8)
        let c = try #require(spec.layers.count == 1 ? Self.flipoutConvolution(spec.layers[0]) : nil)
        #expect(c.rank == 3 && c.inputSize == 8 && c.outputSize == 16 && c.filterShape == [3, 3, 3])
    }

    @Test func medianAndQuartilesInterpolateBetweenSteps() {
        let r = BenchResult(mode: .train, batch: 10, threads: 1, milliseconds: [4, 1, 3, 2], flopsPerStep: 5e9,
                            peakResidentBytes: nil)
        #expect(r.median == 2.5)
        #expect(r.interquartile.low == 1.75 && r.interquartile.high == 3.25)
        #expect(r.minimum == 1 && r.maximum == 4)
        #expect(r.imagesPerSecond == 4000)
        #expect(r.gflops == 2000)
    }

    @Test func trainingStepCountsThreeForwardPasses() throws {
        let spec = try Self.tinySpec()
        let results = try Benchmark.run(spec: spec, options: BenchOptions(steps: 3, warmup: 1, mode: .both))
        #expect(results.map(\.mode) == [.train, .predict])
        #expect(results.allSatisfy { $0.milliseconds.count == 3 && $0.batch == 5 })
        let forward = 2.0 * Double(Benchmark.forwardMACs(spec)) * 5
        #expect(results[0].flopsPerStep == 3 * forward)
        #expect(results[1].flopsPerStep == forward)
        // conv: 36 positions x 9 taps x 2 in x 3 out x 2 products; dense: 108 x 4 x 2 products.
        #expect(Benchmark.forwardMACs(spec) == 36 * 9 * 2 * 3 * 2 + 108 * 4 * 2)
    }

    @Test func workCountsTheProductsEachLayerRuns() throws {
        let spec = try #require(SpecLoader.load(text: """
            bayesnet: 1
            name: work
            seed: 5
            input: {shape: [6, 6, 2]}
            layers:
              - Conv2D: {filters: 3, kernel_size: 3, padding: same, activation: relu}
              - Flatten
              - DenseFlipout: {units: 4, penalty_weight: 1/60000}
            likelihood: categorical
            train: {batch_size: 5, optimizer: {adam: {learning_rate: 0.001}}}
            """).spec)
        let results = try Benchmark.run(spec: spec, options: BenchOptions(steps: 1, warmup: 0, mode: .both))
        let conv = 36 * 9 * 2 * 3, dense = 108 * 4
        // Training: the first layer has no input gradient, so conv forward and kernel gradient only; the
        // Flipout dense layer runs two products in each of forward, kernel gradient and input gradient.
        #expect(results[0].workFlopsPerStep == 2 * 5 * Double(2 * conv + 6 * dense))
        #expect(results[1].workFlopsPerStep == 2 * 5 * Double(conv + 2 * dense))
    }

    @Test func randomDataIsFixedBySeed() throws {
        let spec = try Self.tinySpec()
        let a = Benchmark.randomData(spec, count: 7, seed: 3)
        #expect(a == Benchmark.randomData(spec, count: 7, seed: 3))
        #expect(a != Benchmark.randomData(spec, count: 7, seed: 4))
        #expect(a.inputs.count == 7 * 72 && a.inputs.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(a.labels?.allSatisfy { (0..<4).contains($0) } == true)
    }

    @Test func batchOptionOverridesTheSpecsBatchSize() throws {
        let spec = try Self.tinySpec()
        let results = try Benchmark.run(spec: spec, options: BenchOptions(batch: 4, steps: 2, warmup: 0, mode: .train))
        #expect(results.count == 1 && results[0].mode == .train && results[0].batch == 4)
        #expect(results[0].imagesPerSecond == 4000 / results[0].median)
    }

    @Test func peakResidentMemoryIsReportedOnLinux() throws {
        #if os(Linux)
        let memory = try #require(ResidentMemory.read())
        #expect(memory.peak >= memory.current && memory.current > 1 << 20)
        #endif
    }

    @Test func specWithoutLikelihoodCannotBeTrainedButPredicts() throws {
        let text = Self.tiny.replacingOccurrences(of: "likelihood: categorical\n", with: "")
        let spec = try #require(SpecLoader.load(text: text).spec)
        #expect(throws: BenchError.self) { try Benchmark.run(spec: spec, options: BenchOptions(steps: 1, warmup: 0)) }
        let predict = try Benchmark.run(spec: spec, options: BenchOptions(steps: 2, warmup: 0, mode: .predict))
        #expect(predict.map(\.mode) == [.predict] && predict[0].milliseconds.count == 2)
    }

    @Test func unpublishedShapesHaveTheLayersTheirCommentsDescribe() throws {
        let specs = try Self.extraSpecs.map { try Self.benchSpec("extra/\($0)") }
        // Stride 2 with SAME padding on 64x64 RGB, then a dense layer to 10 classes.
        #expect(specs[0].layers.map(\.outputShape) == [[32, 32, 32], [16, 16, 64], [16384], [10]])
        // Rank 3 with max pooling 30 -> 15 and SAME average pooling 15 -> 8 (the last window half padding).
        #expect(specs[1].layers.map(\.outputShape) == [[30, 30, 30, 8], [15, 15, 15, 8], [15, 15, 15, 16],
                                                      [8, 8, 8, 16], [8192], [4]])
        #expect(specs[1].likelihood == .normal(scale: 0.5))
        // Wide dense layers: 11.6 million parameters counting loc and scale.
        #expect(specs[2].layerSummaries.reduce(0) { $0 + $1.parameters } == 11_649_044)
    }

    @Test func unpublishedShapesTrainAndPredictUnderBench() throws {
        for name in Self.extraSpecs {
            let spec = try Self.benchSpec("extra/\(name)")
            let results = try Benchmark.run(spec: spec, options: BenchOptions(batch: 2, steps: 1, warmup: 0, mode: .both))
            #expect(results.map(\.mode) == [.train, .predict], "\(name)")
            #expect(results.allSatisfy { $0.milliseconds.count == 1 && $0.milliseconds[0] > 0 }, "\(name)")
        }
    }
}
