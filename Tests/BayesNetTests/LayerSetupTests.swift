import Foundation
import Testing
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// How layers start: initial locs with TensorFlow's fans, the posterior scale, and noise keyed by layer name.
@Suite struct LayerSetupTests {
    static func firstLayer(initializer: Initializer, filters: Int = 32, scale: Double = 1e-3) throws -> VariationalLayer<Double> {
        let layer = SpecBuilder.conv("conv", input: [6, 6, 16], filters: filters, kernel: [3, 3], initializer: initializer,
                                     variational: SpecBuilder.variational(scale: scale))
        let net = try Network<Double>(spec: SpecBuilder.spec(input: [6, 6, 16], layers: [layer], dtype: .float64),
                                      seed: 4, trainingExamples: 10, maxBatch: 1)
        return TestNetworks.variationalLayer(net)
    }

    @Test func glorotUniformUsesTheFilterVolumeInBothFans() throws {
        let w = try Self.firstLayer(initializer: .glorotUniform).kernelLoc.values
        // fan_in = 9 · 16, fan_out = 9 · 32
        let limit = (6.0 / (144 + 288)).squareRoot()
        #expect(w.allSatisfy { abs($0) <= limit })
        #expect(w.map(abs).max()! > 0.95 * limit)
        let variance = w.reduce(0) { $0 + $1 * $1 } / Double(w.count)
        #expect(abs(variance / (limit * limit / 3) - 1) < 0.1)
    }

    @Test func heUniformUsesFanIn() throws {
        let w = try Self.firstLayer(initializer: .heUniform).kernelLoc.values
        let limit = (6.0 / 144).squareRoot()
        #expect(w.allSatisfy { abs($0) <= limit })
        #expect(w.map(abs).max()! > 0.95 * limit)
    }

    @Test func heNormalIsTruncatedAtTwoDeviationsWithTheRequestedVariance() throws {
        let w = try Self.firstLayer(initializer: .heNormal).kernelLoc.values
        let stddev = (2.0 / 144).squareRoot()
        #expect(w.allSatisfy { abs($0) <= 2 * stddev / WeightInitializer.truncatedStddevCorrection + 1e-12 })
        let variance = w.reduce(0) { $0 + $1 * $1 } / Double(w.count)
        #expect(abs(variance / (stddev * stddev) - 1) < 0.1)
    }

    @Test func posteriorScaleStartsAtTheInitialScaleAndBiasLocAtZero() throws {
        let layer = try Self.firstLayer(initializer: .glorotUniform, scale: 0.02)
        for rho in layer.kernelRho.values + layer.biasRho.values {
            #expect(abs(Softplus.scale(rho: rho) - 0.02) < 1e-12)
        }
        #expect(layer.biasLoc.values.allSatisfy { $0 == 0 })
    }

    @Test func addingALayerLeavesAnotherLayersWeightsAndNoiseUnchanged() throws {
        let conv = SpecBuilder.conv("conv", input: [6, 6, 2], filters: 3, kernel: [3, 3])
        let small = SpecBuilder.spec(input: [6, 6, 2], layers: [conv], dtype: .float64)
        let large = SpecBuilder.spec(input: [6, 6, 2], layers: [
            SpecBuilder.conv("before", input: [6, 6, 2], filters: 2, kernel: [1, 1], estimator: .deterministic,
                             activation: .linear),
            conv,
        ], dtype: .float64)
        let a = try Network<Double>(spec: small, seed: 3, trainingExamples: 10, maxBatch: 2)
        let b = try Network<Double>(spec: large, seed: 3, trainingExamples: 10, maxBatch: 2)
        #expect(a.parameter(named: "conv.kernel_posterior_loc")!.values == b.parameter(named: "conv.kernel_posterior_loc")!.values)
        // Feed the conv layer the same input in both networks: an identity 1x1 layer in front of it.
        let before = try #require(b.parameter(named: "before.kernel"))
        before.values = [1, 0, 0, 1]
        let x = TestNetworks.normals(2 * 72, seed: 8)
        TestNetworks.setInput(a, x)
        TestNetworks.setInput(b, x)
        let noise = NoiseContext(seed: 3, step: 17)
        a.forward(batch: 2, noise: noise)
        b.forward(batch: 2, noise: noise)
        #expect(TestNetworks.output(a, count: 2 * 108) == TestNetworks.output(b, count: 2 * 108))
    }

    @Test func flipoutSignsAreSharedAcrossPositionsPerChannel() throws {
        // A 1x1 convolution with zero mean and one non-zero perturbation weight (input 0 → output 0): every
        // position of an example then shows ±σε·x with the same sign, the product of that example's two signs.
        let layer = SpecBuilder.conv("conv", input: [4, 4, 1], filters: 1, kernel: [1, 1], activation: .linear,
                                     variational: SpecBuilder.variational(scale: 0.5))
        let net = try Network<Double>(spec: SpecBuilder.spec(input: [4, 4, 1], layers: [layer], dtype: .float64),
                                      seed: 1, trainingExamples: 1, maxBatch: 8)
        let w = TestNetworks.variationalLayer(net)
        w.kernelLoc.values = [0]
        w.biasRho.values = [Softplus.rho(forScale: 1e-5)]
        TestNetworks.setInput(net, [Double](repeating: 1, count: 8 * 16))
        net.forward(batch: 8, noise: NoiseContext(seed: 1, step: 0))
        let y = TestNetworks.output(net, count: 8 * 16)
        var signs: Set<Bool> = []
        for b in 0..<8 {
            let row = y[(b * 16)..<(b * 16 + 16)]
            #expect(row.allSatisfy { abs(abs($0) - abs(row.first!)) < 1e-4 && ($0 > 0) == (row.first! > 0) })
            signs.insert(row.first! > 0)
        }
        #expect(signs.count == 2, "eight examples should not all share one sign")
    }

    /// One product per example pays only with enough output positions to amortise forming each example's
    /// kernel; a small map runs the two batched products (both forms are gradient-checked in GradientCheckTests).
    @Test(arguments: [(3, false), (4, true), (8, true)])
    func flipoutConvolutionFusesOnlyOnMapsOfAtLeastSixteenPositions(side: Int, fused: Bool) throws {
        let layer = SpecBuilder.conv("conv", input: [side, side, 2], filters: 4, kernel: [3, 3],
                                     variational: SpecBuilder.variational(scale: 0.1))
        let net = try Network<Double>(spec: SpecBuilder.spec(input: [side, side, 2], layers: [layer], dtype: .float64),
                                      seed: 1, trainingExamples: 1, maxBatch: 4)
        #expect((TestNetworks.weightLayer(net) is FusedFlipoutLayer<Double>) == fused)
    }

    /// In Float at the AVX-512 level the fused form runs on the padded-plane kernels, whose per-example
    /// overhead is smaller: it pays from 8 positions (FlipoutConvolution.pays).
    @Test(arguments: [(2, false), (3, true)])
    func floatFlipoutConvolutionOnPlaneKernelsFusesFromEightPositions(side: Int, fused: Bool) throws {
        try #require(Runtime.cpuLevel == .avx512 && Runtime.fewChannelKernels)
        let layer = SpecBuilder.conv("conv", input: [side, side, 2], filters: 4, kernel: [3, 3],
                                     variational: SpecBuilder.variational(scale: 0.1))
        let net = try Network<Float>(spec: SpecBuilder.spec(input: [side, side, 2], layers: [layer], dtype: .float32),
                                     seed: 1, trainingExamples: 1, maxBatch: 4)
        #expect((TestNetworks.weightLayer(net) is FusedFlipoutLayer<Float>) == fused)
    }

    static func identicalExamples(_ estimator: Estimator, value: PosteriorValue = .sample) throws -> Network<Double> {
        let layer = SpecBuilder.dense("dense", inputs: 5, outputs: 3, estimator: estimator,
                                      variational: SpecBuilder.variational(scale: 0.3, value: value))
        let net = try Network<Double>(spec: SpecBuilder.spec(input: [5], layers: [layer], dtype: .float64), seed: 2,
                                      trainingExamples: 1, maxBatch: 4)
        let x = TestNetworks.normals(5, seed: 12)
        TestNetworks.setInput(net, x + x + x + x)
        return net
    }

    @Test func reparameterizationSharesOneWeightSampleAcrossTheBatch() throws {
        let net = try Self.identicalExamples(.reparameterization)
        net.forward(batch: 4, noise: NoiseContext(seed: 2, step: 1))
        let y = TestNetworks.output(net, count: 12)
        for b in 1..<4 { #expect(Array(y[(3 * b)..<(3 * b + 3)]) == Array(y[0..<3])) }
    }

    @Test func flipoutDecorrelatesTheExamplesOfABatch() throws {
        let net = try Self.identicalExamples(.flipout)
        net.forward(batch: 4, noise: NoiseContext(seed: 2, step: 1))
        let y = TestNetworks.output(net, count: 12)
        #expect((1..<4).contains { Array(y[(3 * $0)..<(3 * $0 + 3)]) != Array(y[0..<3]) })
    }

    @Test func posteriorValueMeanGivesTheSameOutputForEveryDraw() throws {
        let net = try Self.identicalExamples(.flipout, value: .mean)
        net.forward(batch: 1, noise: NoiseContext(seed: 2, step: 1))
        let a = TestNetworks.output(net, count: 3)
        net.forward(batch: 1, noise: NoiseContext(seed: 2, step: 2))
        #expect(TestNetworks.output(net, count: 3) == a)
    }
}

/// The plan checks the runtime's geometry against the shapes validation inferred.
@Suite struct PlanGeometryTests {
    @Test func aShapeTheRuntimeDoesNotComputeIsRefused() throws {
        var layer = SpecBuilder.conv("conv", input: [6, 6, 2], filters: 3, kernel: [3, 3], initializer: .zeros,
                                     variational: SpecBuilder.variational(scale: 1e-3))
        layer.outputShape = [5, 5, 3]
        let spec = SpecBuilder.spec(input: [6, 6, 2], layers: [layer], dtype: .float64)
        #expect(throws: PlanError.geometryMismatch(layer: "conv", inferred: [5, 5, 3], planned: [6, 6, 3])) {
            _ = try Network<Double>(spec: spec, seed: 1, trainingExamples: 1, maxBatch: 1)
        }
    }
}
