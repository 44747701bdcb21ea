import Foundation
import Testing
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// The layers' KL term: analytic for a Normal prior, a one-sample Monte Carlo estimate otherwise, both
/// multiplied by the penalty weight.
@Suite struct DivergenceTests {
    static func affine(prior: Prior, penalty: PenaltyWeight = .value(1)) throws -> Network<Double> {
        let layer = SpecBuilder.dense("dense", inputs: 6, outputs: 4,
                                      variational: SpecBuilder.variational(prior: prior, penalty: penalty))
        let net = try Network<Double>(spec: SpecBuilder.spec(input: [6], layers: [layer], dtype: .float64),
                                      seed: 8, trainingExamples: 250, maxBatch: 2)
        let w = TestNetworks.variationalLayer(net)
        w.kernelLoc.values = TestNetworks.normals(24, seed: 30, scale: 0.7)
        w.biasLoc.values = TestNetworks.normals(4, seed: 31, scale: 0.7)
        w.kernelRho.values = TestNetworks.uniforms(24, seed: 32).map { Softplus.rho(forScale: 0.2 + $0) }
        w.biasRho.values = TestNetworks.uniforms(4, seed: 33).map { Softplus.rho(forScale: 0.2 + $0) }
        return net
    }

    @Test func monteCarloKLMatchesTheAnalyticKLOnAverage() throws {
        let net = try Self.affine(prior: .normal(loc: 0, scale: 1))
        let analytic = net.divergence(accumulateGradients: false)
        TestNetworks.variationalLayer(net).klEstimate = .monteCarlo
        let draws = 4000
        var sum = 0.0, sq = 0.0
        for t in 0..<draws {
            net.forward(batch: 1, noise: NoiseContext(seed: 1, step: UInt64(t)))
            let kl = net.divergence(accumulateGradients: false)
            sum += kl
            sq += kl * kl
        }
        let mean = sum / Double(draws)
        let standardError = ((sq / Double(draws) - mean * mean) / Double(draws)).squareRoot()
        #expect(abs(mean - analytic) < 5 * standardError, "MC \(mean) ± \(standardError), analytic \(analytic)")
        #expect(standardError > 0)
    }

    @Test func analyticKLOfANormalPosteriorAgainstANormalPrior() throws {
        let net = try Self.affine(prior: .normal(loc: 0.5, scale: 2))
        let w = TestNetworks.variationalLayer(net)
        var expected = 0.0
        for (locs, rhos) in [(w.kernelLoc.values, w.kernelRho.values), (w.biasLoc.values, w.biasRho.values)] {
            for (m, r) in zip(locs, rhos) {
                let s = Softplus.scale(rho: r)
                expected += log(2 / s) + (s * s + (m - 0.5) * (m - 0.5)) / 8 - 0.5
            }
        }
        #expect(abs(net.divergence(accumulateGradients: false) - expected) < 1e-9 * expected)
    }

    @Test func autoPenaltyWeightIsOneOverTheTrainingExamples() throws {
        let weighted = try Self.affine(prior: .normal(loc: 0, scale: 1), penalty: .auto)
        let unweighted = try Self.affine(prior: .normal(loc: 0, scale: 1), penalty: .value(1))
        let a = weighted.divergence(accumulateGradients: false)
        let b = unweighted.divergence(accumulateGradients: false)
        #expect(abs(a - b / 250) < 1e-12 * b)
    }

    @Test func scaleMixtureKLIsEvaluatedAtTheForwardPassWeights() throws {
        let net = try Self.affine(prior: .spikeAndSlab)
        net.forward(batch: 1, noise: NoiseContext(seed: 1, step: 4))
        let first = net.divergence(accumulateGradients: false)
        net.forward(batch: 1, noise: NoiseContext(seed: 1, step: 4))
        #expect(net.divergence(accumulateGradients: false) == first)
        net.forward(batch: 1, noise: NoiseContext(seed: 1, step: 5))
        #expect(net.divergence(accumulateGradients: false) != first)
    }
}
