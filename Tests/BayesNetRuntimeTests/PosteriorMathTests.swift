import Foundation
import Testing
@testable import BayesNetRuntime

// The single-precision posterior kernels against Double references evaluated at the same Float inputs.
//
// Tolerances are in units of u = 2⁻²⁴, the unit roundoff of Float. A kernel's e^x and log are good to about
// 1 ulp and every other step rounds once, so an element carries a handful of roundings of the quantities it
// combines: each check allows a small multiple of u times the magnitude of those quantities (not of the
// result, which may cancel). Where Float must first form w = loc + σ·ε, w itself is off by a few u·(|loc| +
// |σ·ε|), and a result is then off by its derivative in w times that; those checks add that term. A kernel
// with a wrong formula, a lost log1p correction (σ off by about 2e-5 relative at ρ = −5.8) or a mishandled
// tail is off by orders of magnitude more.
private let u = 0x1p-24

/// ρ from −20 to 20 in steps of 0.01, the range a posterior's scale parameter lives in, plus the values
/// around σ ≈ 3e-3 (ρ ≈ −5.8), where the digits model's posteriors start and softplus is tiny next to 1.
private let rhoSweep: [Float] = (0...4000).map { Float(-20 + 0.01 * Double($0)) } + [-5.8, -5.81, -5.79]

private func normals(_ n: Int, seed: UInt64) -> [Float] {
    var e = [Float](repeating: 0, count: n)
    RandomStream(seed: seed, name: "posterior-math", step: 0).fillNormal(&e, count: n)
    return e
}

/// Locations over several magnitudes, signs mixed, out to where a narrow mixture component underflows.
private func locations(_ n: Int, seed: UInt64) -> [Float] {
    var r = TestRandom(seed)
    let magnitudes = [1e-3, 1e-2, 0.1, 1, 5, 50]
    return (0..<n).map { i in Float(r.uniform() * magnitudes[i % magnitudes.count]) }
}

/// Runs `body` with each supported kernel family selected in turn, restoring the previous one.
private func forEachKernel(_ body: (Runtime.CPULevel) -> Void) {
    for kernel in Runtime.CPULevel.allCases where kernel.isSupported {
        withCPULevel(kernel) { body(kernel) }
    }
}

@Suite struct PosteriorSampleTests {
    @Test func scaleIsOnePlusSoftplusToAFewUlp() {
        let n = rhoSweep.count
        let eps = normals(n, seed: 1)
        var sigma = [Float](repeating: 0, count: n), draw = sigma
        forEachKernel { _ in
            PosteriorMath.sample(rho: rhoSweep, loc: nil, epsilon: eps, sigma: &sigma, draw: &draw, count: n)
            for i in 0..<n {
                let expected = Softplus.scale(rho: Double(rhoSweep[i]))
                // e^−|ρ| (1 ulp), log1p of it (2 ulp), two additions: 4u relative, checked at 6u.
                #expect(abs(Double(sigma[i]) - expected) <= 6 * u * expected, "ρ = \(rhoSweep[i])")
            }
        }
    }

    /// Far outside the range training visits, σ still follows softplus: the floor 1e-5 for very negative ρ
    /// (the vector e^x must flush to 0, not wrap), ρ itself for very large ρ, and the sigmoid down to 0 and up to 1.
    @Test func extremeScaleParametersStayOnSoftplus() {
        let rho: [Float] = [-.greatestFiniteMagnitude, -1e30, -1e4, -200, -104, -88, -87, 87, 88, 200, 1e4, 1e30,
                            .greatestFiniteMagnitude]
        let n = rho.count
        let eps = [Float](repeating: 1, count: n), ones = eps
        var sigma = [Float](repeating: 0, count: n), draw = sigma
        forEachKernel { kernel in
            PosteriorMath.sample(rho: rho, loc: nil, epsilon: eps, sigma: &sigma, draw: &draw, count: n)
            var gradient = [Float](repeating: 0, count: n)
            PosteriorMath.addRhoGradient(rho: rho, dDraw: ones, epsilon: ones, gradient: &gradient, count: n)
            for i in 0..<n {
                let expected = Float(Softplus.scale(rho: Double(rho[i])))
                #expect(abs(sigma[i] - expected) <= 6 * Float(u) * expected, "\(kernel): ρ = \(rho[i]) gave σ \(sigma[i])")
                let sigmoid = 1 / (1 + exp(-Double(rho[i])))
                #expect(abs(Double(gradient[i]) - sigmoid) <= 4 * u * sigmoid + Double(Float.leastNormalMagnitude),
                        "\(kernel): ρ = \(rho[i]) gave sigmoid \(gradient[i])")
            }
        }
    }

    @Test func drawIsLocPlusScaleTimesNoise() {
        let n = rhoSweep.count
        let eps = normals(n, seed: 2), loc = locations(n, seed: 3)
        var sigma = [Float](repeating: 0, count: n), draw = sigma, centred = sigma
        forEachKernel { _ in
            PosteriorMath.sample(rho: rhoSweep, loc: loc, epsilon: eps, sigma: &sigma, draw: &draw, count: n)
            PosteriorMath.sample(rho: rhoSweep, loc: nil, epsilon: eps, sigma: &sigma, draw: &centred, count: n)
            for i in 0..<n {
                let spread = Softplus.scale(rho: Double(rhoSweep[i])) * Double(eps[i])
                // σ's error (6u) carried by ε, then one rounding of the product and one of the sum.
                let tolerance = 8 * u * (abs(Double(loc[i])) + abs(spread))
                #expect(abs(Double(draw[i]) - (Double(loc[i]) + spread)) <= tolerance)
                #expect(abs(Double(centred[i]) - spread) <= 8 * u * abs(spread))
            }
        }
    }

    @Test func drawMayOverwriteTheNoise() {
        let n = 37
        let rho = Array(rhoSweep.prefix(n)), loc = locations(n, seed: 4)
        var eps = normals(n, seed: 5)
        var sigma = [Float](repeating: 0, count: n), draw = sigma
        PosteriorMath.sample(rho: rho, loc: loc, epsilon: eps, sigma: &sigma, draw: &draw, count: n)
        eps.withUnsafeMutableBufferPointer { e in
            sigma.withUnsafeMutableBufferPointer { s in
                PosteriorMath.sample(rho: rho, loc: loc, epsilon: e.baseAddress!, sigma: s.baseAddress!,
                                     draw: e.baseAddress!, count: n)
            }
        }
        #expect(eps == draw)
    }

    @Test func doubleUsesTheScalarFormula() {
        let rho = rhoSweep.map(Double.init), n = rho.count
        let eps = normals(n, seed: 6).map(Double.init), loc = locations(n, seed: 7).map(Double.init)
        var sigma = [Double](repeating: 0, count: n), draw = sigma
        PosteriorMath.sample(rho: rho, loc: loc, epsilon: eps, sigma: &sigma, draw: &draw, count: n)
        #expect(sigma == rho.map { Softplus.scale(rho: $0) })
        #expect(draw == (0..<n).map { loc[$0] + sigma[$0] * eps[$0] })
    }
}

@Suite struct RhoGradientTests {
    @Test func addsDrawGradientTimesNoiseTimesSigmoid() {
        let n = rhoSweep.count
        let eps = normals(n, seed: 8), dDraw = locations(n, seed: 9), start = locations(n, seed: 10)
        forEachKernel { _ in
            var gradient = start
            PosteriorMath.addRhoGradient(rho: rhoSweep, dDraw: dDraw, epsilon: eps, gradient: &gradient, count: n)
            for i in 0..<n {
                let added = Double(dDraw[i]) * Double(eps[i]) * Softplus.derivative(Double(rhoSweep[i]))
                // sigmoid from e^−|ρ| and one division (3u), two products and the sum.
                let tolerance = 6 * u * (abs(Double(start[i])) + abs(added))
                #expect(abs(Double(gradient[i]) - (Double(start[i]) + added)) <= tolerance, "ρ = \(rhoSweep[i])")
            }
        }
    }

    @Test func doubleUsesTheScalarFormula() {
        let rho = rhoSweep.map(Double.init), n = rho.count
        let eps = normals(n, seed: 11).map(Double.init), dDraw = locations(n, seed: 12).map(Double.init)
        var gradient = [Double](repeating: 0.5, count: n)
        PosteriorMath.addRhoGradient(rho: rho, dDraw: dDraw, epsilon: eps, gradient: &gradient, count: n)
        #expect(gradient == (0..<n).map { 0.5 + dDraw[$0] * eps[$0] * Softplus.scaleAndSlope(rho: rho[$0]).slope })
    }
}

/// One weight's Monte Carlo KL term against the mixture, its gradients, and the bound on the Float kernel's
/// error for each, all in Double.
private struct MixtureReference {
    var term = 0.0, dLoc = 0.0, dRho = 0.0
    var termTolerance = 0.0, dLocTolerance = 0.0, dRhoTolerance = 0.0

    init(loc: Float, rho: Float, eps: Float, prior: (pi: Double, scale1: Double, scale2: Double), weight: Double) {
        let (sigma, slope) = Softplus.scaleAndSlope(rho: Double(rho))
        let e = Double(eps), x = Double(loc) + sigma * e
        let p1 = 1 / (prior.scale1 * prior.scale1), p2 = 1 / (prior.scale2 * prior.scale2)
        let a1 = prior.pi > 0 ? log(prior.pi) - log(prior.scale1) - 0.5 * x * x * p1 : -Double.infinity
        let a2 = prior.pi < 1 ? log1p(-prior.pi) - log(prior.scale2) - 0.5 * x * x * p2 : -Double.infinity
        let top = max(a1, a2)
        let logP = top + log(exp(a1 - top) + exp(a2 - top))
        let r1 = exp(a1 - logP)
        let precision = r1 * p1 + (1 - r1) * p2
        let dLogP = -x * precision
        let logQ = -log(sigma) - 0.5 * e * e
        term = logQ - logP
        dLoc = -weight * dLogP
        let dSigma = -1 / sigma - dLogP * e
        dRho = weight * dSigma * slope

        // w = loc + σ·ε in Float: σ to 6u, then a product and a sum.
        let dx = 8 * u * (abs(Double(loc)) + abs(sigma * e))
        let used = [a1, a2].filter(\.isFinite).map(abs).reduce(0, +)
        // Float forms a1 − a2 from parts of size |a1| + |a2| and from w; the responsibility's slope
        // r1(1 − r1) carries that error into the precision.
        let dd = 8 * u * used + abs(x * (p1 - p2)) * dx
        let dPrecision = r1 * (1 - r1) * abs(p1 - p2) * dd + 4 * u * precision
        let ddLogP = precision * dx + abs(x) * dPrecision + 4 * u * abs(dLogP)
        termTolerance = 8 * u * (abs(log(sigma)) + 0.5 * e * e + used + 1) + abs(dLogP) * dx
        dLocTolerance = abs(weight) * (ddLogP + 2 * u * abs(dLogP))
        dRhoTolerance = abs(weight) * slope * (8 * u / sigma + abs(e) * ddLogP + 8 * u * abs(dLogP * e))
            + 8 * u * abs(dRho)
    }
}

@Suite struct MixtureKLKernelTests {
    /// Blundell et al.'s scale mixture with −log σ₁ = 0, −log σ₂ = 6: past |w| ≈ 0.3 the narrow component
    /// underflows even in Double, so only the log-sum-exp form stays finite.
    static let priors: [(pi: Double, scale1: Double, scale2: Double)] = [
        (0.5, 1, exp(-6)), (0.25, exp(-1), exp(-7)), (0.5, 1, 2000), (1, 0.7, 3), (0, 0.7, 3),
    ]

    private func check(prior: (pi: Double, scale1: Double, scale2: Double)) {
        let n = rhoSweep.count
        let loc = locations(n, seed: 13), eps = normals(n, seed: 14)
        let weight = 0.03
        forEachKernel { kernel in
            var dLoc = [Float](repeating: 0, count: n), dRho = dLoc
            let total = Divergence.monteCarloKL(loc: loc, rho: rhoSweep, epsilon: eps, prior: prior, count: n,
                                                weight: Float(weight), dLoc: &dLoc, dRho: &dRho)
            var expected = 0.0, tolerance = 0.0
            for i in 0..<n {
                let r = MixtureReference(loc: loc[i], rho: rhoSweep[i], eps: eps[i], prior: prior, weight: weight)
                expected += r.term
                tolerance += r.termTolerance
                #expect(abs(Double(dLoc[i]) - r.dLoc) <= r.dLocTolerance,
                        "\(kernel) prior \(prior) loc \(loc[i]) rho \(rhoSweep[i]) eps \(eps[i])")
                #expect(abs(Double(dRho[i]) - r.dRho) <= r.dRhoTolerance,
                        "\(kernel) prior \(prior) loc \(loc[i]) rho \(rhoSweep[i]) eps \(eps[i])")
            }
            #expect(abs(total - expected) <= tolerance, "\(kernel) prior \(prior)")
        }
    }

    @Test func twoComponentsMatchDouble() {
        for prior in Self.priors.prefix(3) { check(prior: prior) }
    }

    @Test func onlyTheFirstComponentWhenPiIsOne() {
        check(prior: Self.priors[3])
    }

    @Test func onlyTheSecondComponentWhenPiIsZero() {
        check(prior: Self.priors[4])
    }

    @Test func staysFiniteWhereOneComponentUnderflows() {
        let loc: [Float] = [300, -300, 1e4, 0.9, -0.9], rho: [Float] = [-6, -6, 0, -20, 20], eps: [Float] = [1, -2, 0.5, 3, -1]
        var dLoc = [Float](repeating: 0, count: 5), dRho = dLoc
        let total = Divergence.monteCarloKL(loc: loc, rho: rho, epsilon: eps, prior: Self.priors[0], count: 5,
                                            weight: Float(1), dLoc: &dLoc, dRho: &dRho)
        #expect(total.isFinite)
        #expect(dLoc.allSatisfy(\.isFinite) && dRho.allSatisfy(\.isFinite))
    }
}

@Suite struct AnalyticKLKernelTests {
    @Test func matchesDouble() {
        let n = rhoSweep.count
        let loc = locations(n, seed: 15)
        let weight = 0.2
        for (priorLoc, priorScale) in [(0.0, 1.0), (0.3, 0.05), (-1.0, 20.0)] {
            forEachKernel { kernel in
                var dLoc = [Float](repeating: 0, count: n), dRho = dLoc
                let total = Divergence.klNormalNormal(loc: loc, rho: rhoSweep, priorLoc: priorLoc, priorScale: priorScale,
                                                      count: n, weight: Float(weight), dLoc: &dLoc, dRho: &dRho)
                let precision = 1 / (priorScale * priorScale)
                var expected = 0.0, tolerance = 0.0
                for i in 0..<n {
                    let (sigma, slope) = Softplus.scaleAndSlope(rho: Double(rhoSweep[i]))
                    let diff = Double(loc[i]) - priorLoc
                    let quadratic = 0.5 * (sigma * sigma + diff * diff) * precision
                    expected += log(priorScale) - log(sigma) + quadratic - 0.5
                    // The four parts' magnitudes, a few roundings each; σ's 6u error doubles in σ².
                    tolerance += 8 * u * (abs(log(priorScale)) + abs(log(sigma)) + quadratic + 0.5)
                    let gLoc = weight * diff * precision
                    // diff rounds once relative to |loc| + |priorLoc|, then two products.
                    #expect(abs(Double(dLoc[i]) - gLoc)
                            <= weight * precision * 4 * u * (abs(Double(loc[i])) + abs(priorLoc)), "\(kernel)")
                    let gRho = weight * (-1 / sigma + sigma * precision) * slope
                    // 1/σ and σ·precision, each to 8u (σ's 6u and a rounding), then the products.
                    let rhoTolerance = weight * slope * 10 * u * (1 / sigma + sigma * precision)
                    #expect(abs(Double(dRho[i]) - gRho) <= rhoTolerance, "\(kernel) rho \(rhoSweep[i])")
                }
                #expect(abs(total - expected) <= tolerance, "\(kernel) prior \(priorLoc), \(priorScale)")
            }
        }
    }
}

/// A Float buffer owned by a test, for kernels called on sub-ranges and from several threads.
private final class Floats: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ n: Int) {
        count = n
        p = .allocate(capacity: n)
        p.initialize(repeating: 0, count: n)
    }
    convenience init(_ values: [Float]) {
        self.init(values.count)
        for i in values.indices { p[i] = values[i] }
    }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
    deinit { p.deallocate() }
}

@Suite struct PosteriorKernelDeterminismTests {
    static let n = 70_000

    /// The KL kernels' results on every kernel family, and for the mixture also with the ranges split at
    /// arbitrary points: gradients, and the sums of fixed blocks.
    private struct Outcome: Equatable {
        var blockSums: [Double]
        var dLoc: [Float], dRho: [Float]
    }

    private static let block = 4096

    /// Sums of consecutive fixed blocks, computed by `parts` concurrent workers each taking whole blocks.
    private func mixtureOutcome(parts: Int) -> Outcome {
        let n = Self.n
        let loc = Floats(locations(n, seed: 16)), eps = Floats(normals(n, seed: 17))
        let rho = Floats((0..<n).map { rhoSweep[$0 % rhoSweep.count] })
        let dLoc = Floats(n), dRho = Floats(n)
        let blocks = (n + Self.block - 1) / Self.block
        let sums = UnsafeMutableBufferPointer<Double>.allocate(capacity: blocks)
        defer { sums.deallocate() }
        nonisolated(unsafe) let out = sums.baseAddress!
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            for b in stride(from: part, to: blocks, by: parts) {
                let lo = b * Self.block, c = min(Self.block, n - lo)
                out[b] = Divergence.monteCarloKL(
                    loc: loc.p + lo, rho: rho.p + lo, epsilon: eps.p + lo, prior: MixtureKLKernelTests.priors[0],
                    count: c, weight: Float(0.01), dLoc: dLoc.p + lo, dRho: dRho.p + lo)
            }
        }
        return Outcome(blockSums: Array(sums), dLoc: dLoc.array, dRho: dRho.array)
    }

    @Test func blockSumsAndGradientsDoNotDependOnTheThreadCount() {
        let one = mixtureOutcome(parts: 1)
        for parts in [2, 3, 7] {
            #expect(mixtureOutcome(parts: parts) == one)
        }
    }

    @Test func resultsDoNotDependOnWhereARangeIsCut() {
        let n = 1000
        let loc = Floats(locations(n, seed: 18)), eps = Floats(normals(n, seed: 19))
        let rho = Floats(Array(rhoSweep.prefix(n)))
        func run(cuts: [Int]) -> [Float] {
            let dLoc = Floats(n), dRho = Floats(n), sigma = Floats(n), draw = Floats(n), gradient = Floats(n)
            let bounds = [0] + cuts + [n]
            for (lo, hi) in zip(bounds, bounds.dropFirst()) {
                _ = Divergence.monteCarloKL(loc: loc.p + lo, rho: rho.p + lo, epsilon: eps.p + lo,
                                            prior: MixtureKLKernelTests.priors[1], count: hi - lo, weight: Float(1),
                                            dLoc: dLoc.p + lo, dRho: dRho.p + lo)
                PosteriorMath.sample(rho: rho.p + lo, loc: loc.p + lo, epsilon: eps.p + lo, sigma: sigma.p + lo,
                                     draw: draw.p + lo, count: hi - lo)
                PosteriorMath.addRhoGradient(rho: rho.p + lo, dDraw: loc.p + lo, epsilon: eps.p + lo,
                                             gradient: gradient.p + lo, count: hi - lo)
            }
            return dLoc.array + dRho.array + sigma.array + draw.array + gradient.array
        }
        let whole = run(cuts: [])
        #expect(run(cuts: [1, 17, 18, 500, 999]) == whole)
        #expect(run(cuts: [256, 512, 768]) == whole)
    }

    @Test func aRangeSumDoesNotDependOnItsPositionInMemory() {
        let n = 333
        let loc = locations(n + 5, seed: 20), eps = normals(n + 5, seed: 21), rho = Array(rhoSweep.prefix(n + 5))
        func sum(at offset: Int) -> Double {
            let l = Array(loc[5..<(n + 5)]), r = Array(rho[5..<(n + 5)]), e = Array(eps[5..<(n + 5)])
            let pad = [Float](repeating: 0, count: offset)
            let lp = pad + l, rp = pad + r, ep = pad + e
            return lp.withUnsafeBufferPointer { lb in rp.withUnsafeBufferPointer { rb in ep.withUnsafeBufferPointer { eb in
                Divergence.monteCarloKL(loc: lb.baseAddress! + offset, rho: rb.baseAddress! + offset,
                                        epsilon: eb.baseAddress! + offset, prior: MixtureKLKernelTests.priors[0],
                                        count: n, weight: Float(1), dLoc: nil, dRho: nil)
            } } }
        }
        let aligned = sum(at: 0)
        for offset in 1...17 { #expect(sum(at: offset) == aligned) }
    }

    @Test func everyKernelFamilyGivesTheSameBits() {
        let n = 1001
        let loc = locations(n, seed: 22), eps = normals(n, seed: 23), rho = Array(rhoSweep.prefix(n))
        var results: [[Double]] = []
        forEachKernel { _ in
            var sigma = [Float](repeating: 0, count: n), draw = sigma, gradient = sigma
            var mLoc = sigma, mRho = sigma, aLoc = sigma, aRho = sigma
            PosteriorMath.sample(rho: rho, loc: loc, epsilon: eps, sigma: &sigma, draw: &draw, count: n)
            PosteriorMath.addRhoGradient(rho: rho, dDraw: loc, epsilon: eps, gradient: &gradient, count: n)
            let mixture = Divergence.monteCarloKL(loc: loc, rho: rho, epsilon: eps, prior: MixtureKLKernelTests.priors[0],
                                                  count: n, weight: Float(0.5), dLoc: &mLoc, dRho: &mRho)
            let analytic = Divergence.klNormalNormal(loc: loc, rho: rho, priorLoc: 0.1, priorScale: 0.5, count: n,
                                                     weight: Float(0.5), dLoc: &aLoc, dRho: &aRho)
            results.append([mixture, analytic] + (sigma + draw + gradient + mLoc + mRho + aLoc + aRho).map(Double.init))
        }
        for r in results.dropFirst() { #expect(r == results[0]) }
    }
}
