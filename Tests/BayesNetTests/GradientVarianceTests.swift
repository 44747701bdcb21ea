import Foundation
import Testing
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// The variance, across weight-noise draws, of the minibatch gradient of the kernel loc, with the setup of
/// the reference measurements: x [N, 8, 8, 4] ~ N(0, 1), a 3x3 SAME convolution 4 → 8, μ ~ N(0, 0.1²),
/// σ = 0.1, loss = ½ · mean of y². Flipout's variance falls as 1/N; a shared weight sample's does not.
@Suite struct GradientVarianceTests {
    static let sigma = 0.1
    static let channelsIn = 4
    static let channelsOut = 8
    static let taps = 9 * 4

    static func network(_ estimator: Estimator, batch: Int) throws -> Network<Double> {
        let layer = SpecBuilder.conv("conv", input: [8, 8, channelsIn], filters: channelsOut, kernel: [3, 3],
                                     estimator: estimator, activation: .linear,
                                     variational: SpecBuilder.variational(scale: sigma))
        let spec = SpecBuilder.spec(input: [8, 8, channelsIn], layers: [layer], dtype: .float64)
        let net = try Network<Double>(spec: spec, seed: 3, trainingExamples: 1, maxBatch: batch)
        let w = TestNetworks.variationalLayer(net)
        w.kernelLoc.values = TestNetworks.normals(w.kernelLoc.count, seed: 21, scale: 0.1)
        w.biasRho.values = [Double](repeating: Softplus.rho(forScale: 1e-5), count: channelsOut)
        TestNetworks.setInput(net, TestNetworks.normals(batch * 8 * 8 * channelsIn, seed: 22))
        return net
    }

    /// Σ over kernel coordinates of the variance of ∂loss/∂μ (and of ∂loss/∂ρ) over `draws` noise draws.
    static func monteCarloVariances(_ estimator: Estimator, batch: Int, draws: Int) throws -> (loc: Double, rho: Double) {
        let net = try network(estimator, batch: batch)
        let w = TestNetworks.variationalLayer(net)
        let m = batch * net.outputCount
        let n = w.kernelLoc.count
        var sum = [Double](repeating: 0, count: 2 * n), sq = sum
        for t in 0..<draws {
            net.zeroGradients()
            net.forward(batch: batch, noise: NoiseContext(seed: 5, step: UInt64(t)))
            for i in 0..<m { net.outputGradient[i] = net.output[i] / Double(m) }
            net.backward(batch: batch)
            for (k, g) in (w.kernelLoc.gradients + w.kernelRho.gradients).enumerated() {
                sum[k] += g
                sq[k] += g * g
            }
        }
        let d = Double(draws)
        func total(_ range: Range<Int>) -> Double {
            range.reduce(0) { $0 + (sq[$1] / d - (sum[$1] / d) * (sum[$1] / d)) * d / (d - 1) }
        }
        return (total(0..<n), total(n..<(2 * n)))
    }

    /// The exact total variances for this draw of x (the bias is a point estimate here: its scale is 1e-5).
    static func exactVariances(batch: Int) throws -> (shared: Double, flipout: Double) {
        let net = try network(.flipout, batch: batch)
        let x = (0..<(batch * 8 * 8 * channelsIn)).map { net.input[$0] }
        let exact = ConvolutionClosedForm(inputs: x, batch: batch).variances(sigma: sigma, biasSigma: 0)
        return (exact.shared, exact.flipout)
    }

    struct Measurement: Sendable {
        var shared: Double
        var flipout: Double
        var sharedRho: Double
        var flipoutRho: Double
    }

    /// Measured once and shared by the tests below (a static let is initialised exactly once).
    static let measured: [Int: Measurement] = {
        var result: [Int: Measurement] = [:]
        for batch in [8, 32, 128] {
            let shared = try! monteCarloVariances(.reparameterization, batch: batch, draws: 200)
            let flipout = try! monteCarloVariances(.flipout, batch: batch, draws: 200)
            result[batch] = Measurement(shared: shared.loc, flipout: flipout.loc, sharedRho: shared.rho,
                                        flipoutRho: flipout.rho)
        }
        return result
    }()

    @Test(arguments: [8, 32, 128])
    func flipoutGradientVarianceMatchesItsExactValue(batch: Int) throws {
        let measured = Self.measured[batch]!.flipout
        let exact = try Self.exactVariances(batch: batch).flipout
        #expect(abs(measured / exact - 1) < 0.2, "measured \(measured), exact \(exact)")
    }

    @Test(arguments: [8, 32, 128])
    func sharedSampleGradientVarianceMatchesItsExactValue(batch: Int) throws {
        let measured = Self.measured[batch]!.shared
        let exact = try Self.exactVariances(batch: batch).shared
        #expect(abs(measured / exact - 1) < 0.2, "measured \(measured), exact \(exact)")
    }

    @Test func flipoutAdvantageGrowsWithTheBatch() {
        let ratios = [8, 32, 128].map { Self.measured[$0]!.shared / Self.measured[$0]!.flipout }
        // The reference law: shared ÷ Flipout ≈ 5, 20, 80 for N = 8, 32, 128 (it grows about linearly in N).
        #expect(ratios[0] > 2, "ratios \(ratios)")
        #expect(ratios[1] > 2 * ratios[0], "ratios \(ratios)")
        #expect(ratios[2] > 2 * ratios[1], "ratios \(ratios)")
    }

    @Test func scaleGradientGainIsSmallAndBoundedUnlikeTheLocGain() {
        // The reference: shared ÷ Flipout for ρ stays below 2 (1.39, 1.52, 1.56 for N = 8, 32, 128).
        for batch in [8, 32, 128] {
            let m = Self.measured[batch]!
            let ratio = m.sharedRho / m.flipoutRho
            #expect(ratio > 0.9 && ratio < 2.2, "N = \(batch): ρ ratio \(ratio)")
            #expect(ratio < m.shared / m.flipout, "N = \(batch)")
        }
    }
}
