#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Gauss–Hermite quadrature: ∫ e^(−x²) f(x) dx ≈ Σ w_k f(x_k), exact for polynomials of degree below 2n. With
/// x = μ + √2 σ t it gives expectations under N(μ, σ²): E f = Σ (w_k / √π) f(μ + √2 σ x_k).
public enum GaussHermite {
    /// The n nodes (ascending) and weights, from Newton's method on the orthonormal Hermite recurrence
    /// (Numerical Recipes' `gauher`); they agree with numpy's `hermgauss` to rounding.
    public static func rule(points n: Int) -> (nodes: [Double], weights: [Double]) {
        precondition(n >= 1 && n <= 200, "Gauss-Hermite rules from 1 to 200 points")
        var x = [Double](repeating: 0, count: n), w = [Double](repeating: 0, count: n)
        let piToMinusQuarter = 0.7511255444649425
        let half = (n + 1) / 2
        var z = 0.0
        for i in 0..<half {
            // Starting guesses for the largest roots first (Numerical Recipes).
            switch i {
            case 0: z = (Double(2 * n + 1)).squareRoot() - 1.85575 * pow(Double(2 * n + 1), -0.16667)
            case 1: z -= 1.14 * pow(Double(n), 0.426) / z
            case 2: z = 1.86 * z - 0.86 * x[0]
            case 3: z = 1.91 * z - 0.91 * x[1]
            default: z = 2 * z - x[i - 2]
            }
            var derivative = 0.0
            for _ in 0..<100 {
                var p1 = piToMinusQuarter, p2 = 0.0
                for j in 1...n {
                    let p3 = p2
                    p2 = p1
                    p1 = z * (2 / Double(j)).squareRoot() * p2 - (Double(j - 1) / Double(j)).squareRoot() * p3
                }
                derivative = (2 * Double(n)).squareRoot() * p2
                let previous = z
                z = previous - p1 / derivative
                if abs(z - previous) <= 1e-15 * max(1, abs(z)) { break }
            }
            x[i] = z
            x[n - 1 - i] = -z
            w[i] = 2 / (derivative * derivative)
            w[n - 1 - i] = w[i]
        }
        return (x.reversed(), w.reversed())
    }
}

extension Divergence {
    /// KL(q || p) summed over the weights, for q = Π N(loc_i, σ_i²), σ_i = 1e-5 + softplus(ρ_i), and the scale
    /// mixture p = pi · N(0, scale1²) + (1 − pi) · N(0, scale2²) per weight, which has no closed form:
    /// KL = −H(q) − E_q[log p], the expectation by Gauss–Hermite quadrature with `points` nodes per weight. For
    /// reporting (`bayesnet weights --kl`); training uses the one-sample estimate `monteCarloKL`.
    public static func klNormalScaleMixture(
        loc: UnsafePointer<Double>, rho: UnsafePointer<Double>, prior: (pi: Double, scale1: Double, scale2: Double),
        count: Int, points: Int = 64
    ) -> Double {
        let (nodes, weights) = GaussHermite.rule(points: points)
        let normalised = weights.map { $0 / Double.pi.squareRoot() }
        // Component log weights without −½ log 2π, which cancels against the entropy's; a component of weight 0
        // drops out, as in `monteCarloKL`.
        let use1 = prior.pi > 0, use2 = prior.pi < 1
        let logW1 = use1 ? log(prior.pi) - log(prior.scale1) : 0
        let logW2 = use2 ? log1p(-prior.pi) - log(prior.scale2) : 0
        let prec1 = 1 / (prior.scale1 * prior.scale1), prec2 = 1 / (prior.scale2 * prior.scale2)
        var total = 0.0
        for i in 0..<max(count, 0) {
            let sigma = Softplus.scale(rho: rho[i])
            var expectedLogPrior = 0.0
            for k in 0..<nodes.count {
                let x = loc[i] + 2.0.squareRoot() * sigma * nodes[k]
                let half = 0.5 * x * x
                let logP: Double
                if use1 && use2 {
                    let a1 = logW1 - half * prec1, a2 = logW2 - half * prec2
                    logP = max(a1, a2) + log1p(exp(-abs(a1 - a2)))
                } else if use1 {
                    logP = logW1 - half * prec1
                } else {
                    logP = logW2 - half * prec2
                }
                expectedLogPrior += normalised[k] * logP
            }
            // −H(N(μ, σ²)) = −½ log 2πe − log σ; the −½ log 2π cancels with the prior's.
            total += -log(sigma) - 0.5 - expectedLogPrior
        }
        return total
    }
}
