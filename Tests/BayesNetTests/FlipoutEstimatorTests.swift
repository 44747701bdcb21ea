import Foundation
import Testing
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// The Flipout estimator's statistics: unbiased mean, the right per-output variance, and the lower
/// minibatch-gradient variance that is its reason to exist (Wen et al., 2018).
@Suite struct FlipoutEstimatorTests {
    static let batch = 3
    static let inputShape = [5, 5, 2]
    static let filters = 3

    /// One rank-2 convolution, 3x3 SAME, no activation, with random locs and random posterior scales.
    static func layerNetwork(_ estimator: Estimator, signs: SignSharing = .perChannel) throws -> Network<Double> {
        let layer = SpecBuilder.conv("conv", input: inputShape, filters: filters, kernel: [3, 3], estimator: estimator,
                                     activation: .linear,
                                     variational: SpecBuilder.variational(scale: 0.3, signs: signs))
        let spec = SpecBuilder.spec(input: inputShape, layers: [layer], dtype: .float64)
        let net = try Network<Double>(spec: spec, seed: 11, trainingExamples: 100, maxBatch: batch)
        let w = TestNetworks.variationalLayer(net)
        let kc = w.kernelLoc.count
        w.kernelLoc.values = TestNetworks.normals(kc, seed: 1, scale: 0.5)
        w.biasLoc.values = TestNetworks.normals(filters, seed: 2)
        w.kernelRho.values = TestNetworks.uniforms(kc, seed: 3).map { Softplus.rho(forScale: 0.1 + 0.6 * $0) }
        w.biasRho.values = TestNetworks.uniforms(filters, seed: 4).map { Softplus.rho(forScale: 0.1 + 0.6 * $0) }
        TestNetworks.setInput(net, TestNetworks.normals(batch * inputShape.reduce(1, *), seed: 5))
        return net
    }

    /// Σ x²σ² over each output's receptive field, plus the bias variance: the variance of every output under
    /// independent weight noise, computed directly from the convolution's definition.
    static func exactOutputVariance(_ net: Network<Double>) -> [Double] {
        let w = TestNetworks.variationalLayer(net)
        let sigma = w.kernelRho.values.map { Softplus.scale(rho: $0) }
        let biasSigma = w.biasRho.values.map { Softplus.scale(rho: $0) }
        let (h, wd, c) = (inputShape[0], inputShape[1], inputShape[2])
        var out: [Double] = []
        for b in 0..<batch {
            for i in 0..<h {
                for j in 0..<wd {
                    for o in 0..<filters {
                        var v = biasSigma[o] * biasSigma[o]
                        for di in 0..<3 {
                            for dj in 0..<3 {
                                let (y, x) = (i + di - 1, j + dj - 1)
                                guard y >= 0, y < h, x >= 0, x < wd else { continue }
                                for ci in 0..<c {
                                    let xv = net.input[((b * h + y) * wd + x) * c + ci]
                                    let s = sigma[((di * 3 + dj) * c + ci) * filters + o]
                                    v += xv * xv * s * s
                                }
                            }
                        }
                        out.append(v)
                    }
                }
            }
        }
        return out
    }

    /// Mean and variance of every output over `draws` forward passes (steps 0..<draws).
    static func outputMoments(_ net: Network<Double>, draws: Int) -> (mean: [Double], variance: [Double]) {
        let n = batch * net.outputCount
        var sum = [Double](repeating: 0, count: n), sq = sum
        for t in 0..<draws {
            net.forward(batch: batch, noise: NoiseContext(seed: 99, step: UInt64(t)))
            for i in 0..<n {
                let y = net.output[i]
                sum[i] += y
                sq[i] += y * y
            }
        }
        let mean = sum.map { $0 / Double(draws) }
        let variance = (0..<n).map { sq[$0] / Double(draws) - mean[$0] * mean[$0] }
        return (mean, variance)
    }

    static func meanOutput(_ net: Network<Double>) -> [Double] {
        net.forward(batch: batch, noise: NoiseContext(seed: 99, step: 0, useMean: true))
        return TestNetworks.output(net, count: batch * net.outputCount)
    }

    @Test func flipoutOutputAveragesToTheMeanConvolution() throws {
        let net = try Self.layerNetwork(.flipout)
        let draws = 4000
        let expected = Self.meanOutput(net)
        let variance = Self.exactOutputVariance(net)
        let (mean, _) = Self.outputMoments(net, draws: draws)
        for i in expected.indices {
            // Five standard errors of a mean of `draws` independent outputs.
            #expect(abs(mean[i] - expected[i]) < 5 * (variance[i] / Double(draws)).squareRoot(), "output \(i)")
        }
    }

    @Test(arguments: [SignSharing.perChannel, .perElement])
    func flipoutOutputVarianceIsTheSumOfSquaredInputsTimesWeightVariances(signs: SignSharing) throws {
        let net = try Self.layerNetwork(.flipout, signs: signs)
        let exact = Self.exactOutputVariance(net)
        let (_, variance) = Self.outputMoments(net, draws: 4000)
        for i in exact.indices {
            // The variance of a 4000-draw variance estimate is about 2σ⁴/4000: 2.2 % relative; allow 12 %.
            #expect(abs(variance[i] / exact[i] - 1) < 0.12, "output \(i): \(variance[i]) vs \(exact[i])")
        }
    }

    @Test func reparameterizationOutputVarianceEqualsFlipouts() throws {
        let flip = try Self.layerNetwork(.flipout)
        let reparam = try Self.layerNetwork(.reparameterization)
        let exact = Self.exactOutputVariance(flip)
        #expect(exact == Self.exactOutputVariance(reparam))
        let (_, vf) = Self.outputMoments(flip, draws: 4000)
        let (_, vr) = Self.outputMoments(reparam, draws: 4000)
        for i in exact.indices {
            #expect(abs(vr[i] / exact[i] - 1) < 0.12, "output \(i)")
            #expect(abs(vr[i] / vf[i] - 1) < 0.2, "output \(i)")
        }
    }

    @Test func reparameterizationOutputAveragesToTheMeanConvolution() throws {
        let net = try Self.layerNetwork(.reparameterization)
        let expected = Self.meanOutput(net)
        let variance = Self.exactOutputVariance(net)
        let (mean, _) = Self.outputMoments(net, draws: 4000)
        for i in expected.indices {
            #expect(abs(mean[i] - expected[i]) < 5 * (variance[i] / 4000).squareRoot(), "output \(i)")
        }
    }
}
