import Foundation
import Testing
@testable import BayesNetRuntime

@Suite struct SoftplusTests {
    @Test func valuesAtZeroAndFarOut() {
        #expect(abs(Softplus.forward(0.0) - log(2.0)) < 1e-15)
        #expect(Softplus.forward(1000.0) == 1000)
        #expect(Softplus.forward(-1000.0) == 0)
        // log(1 + e^-50) ≈ e^-50, kept to full relative precision.
        #expect(abs(Softplus.forward(-50.0) / exp(-50.0) - 1) < 1e-12)
    }

    @Test func inverseUndoesForward() {
        for y in [1e-12, 1e-6, 1e-3, 0.5, 1, 30, 700] {
            let x = Softplus.inverse(y)
            #expect(x.isFinite)
            #expect(abs(Softplus.forward(x) / y - 1) < 1e-12)
        }
    }

    @Test func derivativeIsSlopeAndStaysFinite() {
        for x in [-20.0, -1, 0, 0.5, 3, 20] {
            let h = 1e-6
            let numeric = (Softplus.forward(x + h) - Softplus.forward(x - h)) / (2 * h)
            #expect(abs(Softplus.derivative(x) - numeric) < 1e-8)
        }
        #expect(Softplus.derivative(-1000.0) == 0 && Softplus.derivative(1000.0) == 1)
    }

    @Test func scaleStartsWhereAsked() {
        let rho = Softplus.rho(forScale: 1e-3)
        #expect(abs(Softplus.scale(rho: rho) - 1e-3) < 1e-15)
        var scales: [Float] = [0, 0], draws: [Float] = [0, 0]
        let rhos: [Float] = [Float(rho), -100], ones: [Float] = [1, 1]
        PosteriorMath.sample(rho: rhos, loc: nil, epsilon: ones, sigma: &scales, draw: &draws, count: 2)
        #expect(abs(scales[0] - 1e-3) < 1e-8)
        #expect(scales[1] == Float(1e-5))  // never below the floor
    }
}

/// Calls a divergence function on arrays; returns (value, dLoc, dRho) with gradient buffers starting at `start`.
private func evaluate(
    loc: [Double], rho: [Double], weight: Double = 1, start: Double = 0,
    _ f: (UnsafePointer<Double>, UnsafePointer<Double>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Double
) -> (Double, [Double], [Double]) {
    var dLoc = [Double](repeating: start, count: loc.count), dRho = dLoc
    let value = loc.withUnsafeBufferPointer { l in
        rho.withUnsafeBufferPointer { r in
            dLoc.withUnsafeMutableBufferPointer { dl in
                dRho.withUnsafeMutableBufferPointer { dr in
                    f(l.baseAddress!, r.baseAddress!, dl.baseAddress!, dr.baseAddress!)
                }
            }
        }
    }
    return (value, dLoc, dRho)
}

private func analyticKL(_ loc: [Double], _ rho: [Double], priorLoc: Double = 0, priorScale: Double = 1,
                        weight: Double = 1, start: Double = 0) -> (Double, [Double], [Double]) {
    evaluate(loc: loc, rho: rho, start: start) { l, r, dl, dr in
        Divergence.klNormalNormal(loc: l, rho: r, priorLoc: priorLoc, priorScale: priorScale, count: loc.count,
                                  weight: weight, dLoc: dl, dRho: dr)
    }
}

private func monteCarloKL(_ loc: [Double], _ rho: [Double], _ eps: [Double], prior: (pi: Double, scale1: Double, scale2: Double),
                          weight: Double = 1, start: Double = 0) -> (Double, [Double], [Double]) {
    eps.withUnsafeBufferPointer { e in
        evaluate(loc: loc, rho: rho, start: start) { l, r, dl, dr in
            Divergence.monteCarloKL(loc: l, rho: r, epsilon: e.baseAddress!, prior: prior, count: loc.count,
                                    weight: weight, dLoc: dl, dRho: dr)
        }
    }
}

/// Central differences of a scalar function of (loc, rho) in each coordinate.
private func numericGradient(_ loc: [Double], _ rho: [Double], h: Double = 1e-6,
                             _ f: ([Double], [Double]) -> Double) -> ([Double], [Double]) {
    var gLoc = [Double](), gRho = [Double]()
    for i in loc.indices {
        var a = loc, b = loc
        a[i] += h; b[i] -= h
        gLoc.append((f(a, rho) - f(b, rho)) / (2 * h))
        var c = rho, d = rho
        c[i] += h; d[i] -= h
        gRho.append((f(loc, c) - f(loc, d)) / (2 * h))
    }
    return (gLoc, gRho)
}

private func close(_ a: [Double], _ b: [Double], _ tol: Double) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
}

@Suite struct AnalyticKLTests {
    @Test func matchesHandComputedValue() {
        // loc 0.5, scale 1e-5 + softplus(0) = 1e-5 + ln 2, prior N(0, 1):
        // KL = -log(scale) + (scale^2 + 0.25) / 2 - 1/2.
        let s = 1e-5 + log(2.0)
        let (kl, _, _) = analyticKL([0.5], [0])
        #expect(abs(kl - (-log(s) + (s * s + 0.25) / 2 - 0.5)) < 1e-14)
    }

    @Test func isZeroWhenPosteriorEqualsPrior() {
        let rho = Softplus.rho(forScale: 2)
        let (kl, dLoc, dRho) = analyticKL([0.3, 0.3], [rho, rho], priorLoc: 0.3, priorScale: 2)
        #expect(abs(kl) < 1e-12)
        #expect(dLoc.allSatisfy { abs($0) < 1e-12 } && dRho.allSatisfy { abs($0) < 1e-12 })
    }

    @Test func gradientsMatchFiniteDifferences() {
        let loc = [0.4, -1.2, 0.0, 2.5], rho = [-3.0, 0.2, 1.5, -6.0]
        let (_, dLoc, dRho) = analyticKL(loc, rho, priorLoc: 0.1, priorScale: 0.7)
        let (nLoc, nRho) = numericGradient(loc, rho) { analyticKL($0, $1, priorLoc: 0.1, priorScale: 0.7).0 }
        #expect(close(dLoc, nLoc, 1e-6))
        #expect(close(dRho, nRho, 1e-6))
    }

    @Test func gradientsAreScaledByWeightAndAdded() {
        let loc = [0.4, -1.2], rho = [-3.0, 0.2]
        let (_, dLoc, dRho) = analyticKL(loc, rho)
        let (_, wLoc, wRho) = analyticKL(loc, rho, weight: 0.25, start: 1)
        #expect(close(wLoc, dLoc.map { 1 + 0.25 * $0 }, 1e-14))
        #expect(close(wRho, dRho.map { 1 + 0.25 * $0 }, 1e-14))
    }

    @Test func floatAgreesWithDouble() {
        let loc: [Float] = [0.4, -1.2], rho: [Float] = [-3, 0.2]
        var dLoc: [Float] = [0, 0], dRho: [Float] = [0, 0]
        let kl = Divergence.klNormalNormal(loc: loc, rho: rho, priorLoc: 0, priorScale: 1, count: 2, weight: Float(1),
                                           dLoc: &dLoc, dRho: &dRho)
        let (expected, eLoc, eRho) = analyticKL([0.4, -1.2], [-3, 0.2])
        #expect(abs(kl - expected) < 1e-5 * abs(expected))
        #expect(close(dLoc.map(Double.init), eLoc, 1e-6) && close(dRho.map(Double.init), eRho, 1e-6))
    }
}

@Suite struct MonteCarloKLTests {
    static let spikeAndSlab = (pi: 0.5, scale1: 1.0, scale2: 2000.0)

    @Test func matchesDirectLogDensities() {
        // log q(w) - log p(w) written out with plain densities at w = 0.3 + scale * 0.8.
        let rho = 0.1, eps = 0.8
        let s = Softplus.scale(rho: rho), w = 0.3 + s * eps
        func normal(_ x: Double, _ m: Double, _ sd: Double) -> Double {
            exp(-0.5 * (x - m) * (x - m) / (sd * sd)) / (sd * (2 * Double.pi).squareRoot())
        }
        let expected = log(normal(w, 0.3, s)) - log(0.5 * normal(w, 0, 1) + 0.5 * normal(w, 0, 2000))
        let (kl, _, _) = monteCarloKL([0.3], [rho], [eps], prior: Self.spikeAndSlab)
        #expect(abs(kl - expected) < 1e-12)
    }

    @Test func gradientsMatchFiniteDifferencesAtFixedNoise() {
        let loc = [0.4, -1.2, 0.0, 2.5, 30], rho = [-3.0, 0.2, 1.5, -6.0, 2], eps = [0.3, -1.1, 2.0, 0.05, -0.7]
        for prior in [Self.spikeAndSlab, (pi: 0.3, scale1: 0.5, scale2: 4.0), (pi: 1.0, scale1: 0.8, scale2: 1.0)] {
            let (_, dLoc, dRho) = monteCarloKL(loc, rho, eps, prior: prior)
            let (nLoc, nRho) = numericGradient(loc, rho) { monteCarloKL($0, $1, eps, prior: prior).0 }
            #expect(close(dLoc, nLoc, 1e-5))
            #expect(close(dRho, nRho, 1e-5))
        }
    }

    @Test func staysFiniteFarInTheTails() {
        // Far from the spike, N(0, 1)'s log density is about -1e12: log-sum-exp must not underflow to log(0).
        let (kl, dLoc, dRho) = monteCarloKL([1e6, -1e6], [0, 0], [0.5, -0.5], prior: Self.spikeAndSlab)
        #expect(kl.isFinite && dLoc.allSatisfy(\.isFinite) && dRho.allSatisfy(\.isFinite))
        let (one, _, _) = monteCarloKL([1e6], [0], [0.5], prior: (pi: 1, scale1: 1, scale2: 1))
        #expect(one.isFinite && one > 1e11)
    }

    @Test func averagesToAnalyticKLForNormalPrior() {
        // E_eps[log q(w) - log p(w)] = KL(q || p); the pathwise gradients average to the analytic gradients too.
        let n = 200, draws = 400
        let loc = (0..<n).map { 0.8 * sin(Double($0)) }
        let rho = (0..<n).map { Softplus.rho(forScale: 0.2 + 0.6 * Double($0 % 7) / 7) }
        let (analytic, aLoc, aRho) = analyticKL(loc, rho, priorScale: 1.5)
        var values = [Double](), sumLoc = [Double](repeating: 0, count: n), sumRho = sumLoc
        for d in 0..<draws {
            var eps = [Double](repeating: 0, count: n)
            RandomStream(seed: 3, name: "kl-test", step: UInt64(d)).fillNormal(&eps, count: n)
            let (kl, gLoc, gRho) = monteCarloKL(loc, rho, eps, prior: (pi: 1, scale1: 1.5, scale2: 1))
            values.append(kl)
            for i in 0..<n { sumLoc[i] += gLoc[i]; sumRho[i] += gRho[i] }
        }
        let mean = values.reduce(0, +) / Double(draws)
        let sd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws - 1)).squareRoot()
        #expect(abs(mean - analytic) < 4 * sd / Double(draws).squareRoot())
        #expect(abs(mean / analytic - 1) < 0.03)
        let totalGradient = { (g: [Double]) in g.reduce(0, +) }
        #expect(abs(totalGradient(sumLoc) / Double(draws) - totalGradient(aLoc)) < 0.05 * abs(totalGradient(aLoc)) + 0.5)
        #expect(abs(totalGradient(sumRho) / Double(draws) - totalGradient(aRho)) < 0.05 * abs(totalGradient(aRho)) + 0.5)
    }
}

@Suite struct ScaleAndSlopeTests {
    @Test func agreesWithSeparateForms() {
        for rho in [-800.0, -30, -2, 0, 0.7, 15, 800] {
            let (scale, slope) = Softplus.scaleAndSlope(rho: rho)
            #expect(scale == Softplus.scale(rho: rho))
            #expect(abs(slope - Softplus.derivative(rho)) <= 1e-15 * max(1, slope))
        }
    }
}

@Suite struct FloatKernelTests {
    @Test func floatMonteCarloKLAgreesWithDouble() {
        let n = 1000
        let loc = (0..<n).map { 0.3 * sin(Double($0)) }, rho = (0..<n).map { -7 + 6 * cos(Double($0) * 0.7) }
        var eps = [Double](repeating: 0, count: n)
        RandomStream(seed: 9, name: "float-kl", step: 0).fillNormal(&eps, count: n)
        let prior = (pi: 0.5, scale1: 1.0, scale2: 2000.0)
        var dLoc = [Double](repeating: 0, count: n), dRho = dLoc
        let expected = Divergence.monteCarloKL(loc: loc, rho: rho, epsilon: eps, prior: prior, count: n, weight: 0.01, dLoc: &dLoc, dRho: &dRho)
        var fLoc = [Float](repeating: 0, count: n), fRho = fLoc
        let value = Divergence.monteCarloKL(loc: loc.map(Float.init), rho: rho.map(Float.init), epsilon: eps.map(Float.init),
                                            prior: prior, count: n, weight: Float(0.01), dLoc: &fLoc, dRho: &fRho)
        #expect(abs(value - expected) < 1e-5 * abs(expected))
        #expect(zip(fLoc, dLoc).allSatisfy { abs(Double($0) - $1) <= 1e-5 * max(abs($1), 1e-3) })
        #expect(zip(fRho, dRho).allSatisfy { abs(Double($0) - $1) <= 1e-5 * max(abs($1), 1e-3) })
    }
}
