import Foundation
import Testing
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// Whole small networks in Double: the back-propagated gradient of NLL + KL with respect to every parameter
/// (locs and untransformed scales) against central finite differences, with the noise held fixed.
@Suite struct GradientCheckTests {
    static let batch = 3
    static let classes = 3

    static func loss(_ net: Network<Double>, labels: [Int32], gradients: Bool) -> Double {
        let noise = NoiseContext(seed: 17, step: 3)
        net.forward(batch: batch, noise: noise)
        let nll = labels.withUnsafeBufferPointer {
            Losses.softmaxCrossEntropy(logits: net.output, labels: $0.baseAddress!, batch: batch, classes: classes,
                                       dlogits: gradients ? net.outputGradient : nil)
        }
        let kl = net.divergence(accumulateGradients: gradients)
        if gradients { net.backward(batch: batch) }
        return nll + kl
    }

    static func check(_ spec: ModelSpec) throws {
        let net = try Network<Double>(spec: spec, seed: 5, trainingExamples: 10, maxBatch: batch)
        // Scales large enough that the noise paths matter.
        for p in net.parameters where p.name.hasSuffix("untransformed_scale") {
            p.values = TestNetworks.uniforms(p.count, seed: UInt64(p.count)).map { Softplus.rho(forScale: 0.05 + 0.3 * $0) }
        }
        for p in net.parameters where p.name.hasSuffix(".bias") || p.name.hasSuffix("bias_posterior_loc") {
            p.values = TestNetworks.normals(p.count, seed: 77, scale: 0.1)
        }
        let x = TestNetworks.normals(batch * net.inputCount, seed: 40)
        let labels: [Int32] = [0, 2, 1]
        TestNetworks.setInput(net, x)
        net.zeroGradients()
        _ = loss(net, labels: labels, gradients: true)
        let analytic = net.parameters.map(\.gradients)
        let h = 1e-5
        for (pi, p) in net.parameters.enumerated() {
            let stride = max(1, p.count / 40)
            for i in Swift.stride(from: 0, to: p.count, by: stride) {
                let original = p.value.pointer[i]
                p.value.pointer[i] = original + h
                TestNetworks.setInput(net, x)
                let up = loss(net, labels: labels, gradients: false)
                p.value.pointer[i] = original - h
                TestNetworks.setInput(net, x)
                let down = loss(net, labels: labels, gradients: false)
                p.value.pointer[i] = original
                let numeric = (up - down) / (2 * h)
                let a = analytic[pi][i]
                #expect(abs(a - numeric) <= 1e-6 + 1e-5 * max(abs(a), abs(numeric)),
                        "\(p.name)[\(i)]: backprop \(a), finite difference \(numeric)")
            }
        }
    }

    static let mixture = SpecBuilder.variational(scale: 0.1, prior: .spikeAndSlab, penalty: .value(0.05))
    static let normal = SpecBuilder.variational(scale: 0.1, prior: .normal(loc: 0, scale: 1), penalty: .value(0.05))

    @Test func rank1FlipoutConvolutionWithAveragePooling() throws {
        try Self.check(SpecBuilder.spec(input: [9, 2], layers: [
            SpecBuilder.conv("conv", input: [9, 2], filters: 3, kernel: [3], activation: .tanh, variational: Self.mixture),
            SpecBuilder.pool("pool", input: [9, 3], kind: .average),
            SpecBuilder.flatten("flat", input: [5, 3]),
            SpecBuilder.dense("logits", inputs: 15, outputs: 3, variational: Self.normal),
        ], dtype: .float64))
    }

    @Test func rank2FlipoutConvolutionWithMaxPoolingAndMixedEstimators() throws {
        try Self.check(SpecBuilder.spec(input: [6, 6, 2], layers: [
            SpecBuilder.conv("conv", input: [6, 6, 2], filters: 3, kernel: [3, 3], activation: .elu, variational: Self.mixture),
            SpecBuilder.pool("pool", input: [6, 6, 3]),
            SpecBuilder.flatten("flat", input: [3, 3, 3]),
            SpecBuilder.dense("hidden", inputs: 27, outputs: 5, estimator: .reparameterization, activation: .tanh,
                              variational: Self.normal),
            SpecBuilder.dense("logits", inputs: 5, outputs: 3, estimator: .deterministic),
        ], dtype: .float64))
    }

    @Test func rank3FlipoutConvolution() throws {
        try Self.check(SpecBuilder.spec(input: [4, 4, 4, 1], layers: [
            SpecBuilder.conv("conv", input: [4, 4, 4, 1], filters: 2, kernel: [3, 3, 3], activation: .softplus,
                             variational: Self.normal),
            SpecBuilder.pool("pool", input: [4, 4, 4, 2], kind: .average),
            SpecBuilder.flatten("flat", input: [2, 2, 2, 2]),
            SpecBuilder.dense("logits", inputs: 16, outputs: 3, variational: Self.mixture),
        ], dtype: .float64))
    }

    @Test func perElementSignsFlipout() throws {
        let v = SpecBuilder.variational(scale: 0.1, prior: .spikeAndSlab, penalty: .value(0.05), signs: .perElement)
        try Self.check(SpecBuilder.spec(input: [5, 5, 2], layers: [
            SpecBuilder.conv("conv", input: [5, 5, 2], filters: 2, kernel: [2, 2], activation: .sigmoid, variational: v),
            SpecBuilder.flatten("flat", input: [5, 5, 2]),
            SpecBuilder.dense("logits", inputs: 50, outputs: 3, activation: .linear, variational: v),
        ], dtype: .float64))
    }

    @Test func reparameterizationConvolutionWithStridesAndValidPadding() throws {
        try Self.check(SpecBuilder.spec(input: [7, 7, 2], layers: [
            SpecBuilder.conv("conv", input: [7, 7, 2], filters: 3, kernel: [3, 3], strides: [2, 2], padding: .valid,
                             estimator: .reparameterization, activation: .leakyRelu, variational: Self.mixture),
            SpecBuilder.flatten("flat", input: [3, 3, 3]),
            SpecBuilder.dense("logits", inputs: 27, outputs: 3, variational: Self.normal),
        ], dtype: .float64))
    }

    @Test func deterministicDilatedConvolution() throws {
        try Self.check(SpecBuilder.spec(input: [6, 6, 1], layers: [
            SpecBuilder.conv("conv", input: [6, 6, 1], filters: 2, kernel: [3, 3], dilations: [2, 2],
                             estimator: .deterministic, activation: .tanh, initializer: .glorotUniform),
            SpecBuilder.flatten("flat", input: [6, 6, 2]),
            SpecBuilder.dense("logits", inputs: 72, outputs: 3, estimator: .deterministic),
        ], dtype: .float64))
    }

    @Test func posteriorMeanValuedLayerStillLearnsItsScaleFromTheKL() throws {
        let mean = SpecBuilder.variational(scale: 0.1, prior: .spikeAndSlab, penalty: .value(0.05), value: .mean)
        try Self.check(SpecBuilder.spec(input: [4], layers: [
            SpecBuilder.dense("hidden", inputs: 4, outputs: 5, activation: .tanh, variational: mean),
            SpecBuilder.dense("logits", inputs: 5, outputs: 3, variational: Self.normal),
        ], dtype: .float64))
    }
}
