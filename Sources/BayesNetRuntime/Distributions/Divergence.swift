#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// KL divergences between a factorised Normal posterior q = Π N(loc_i, scale_i), scale_i = 1e-5 + softplus(rho_i),
/// and a prior on each weight. Each function returns the (unweighted) sum over the `count` weights, computed in
/// Double, and adds `weight` × its gradient into `dLoc` and `dRho` when they are given (so a layer's KL penalty
/// can go straight into the buffers that already hold the likelihood's gradients).
public enum Divergence {
    /// Analytic KL(N(loc, scale) || N(priorLoc, priorScale)) summed over the weights.
    @inlinable
    public static func klNormalNormal<S: BinaryFloatingPoint>(
        loc: UnsafePointer<S>, rho: UnsafePointer<S>, priorLoc: Double, priorScale: Double, count: Int,
        weight: S, dLoc: UnsafeMutablePointer<S>?, dRho: UnsafeMutablePointer<S>?
    ) -> Double {
        let logPriorScale = log(priorScale)
        let priorPrecision = 1 / (priorScale * priorScale)
        let w = Double(weight)
        var total = 0.0
        for i in 0..<max(count, 0) {
            let r = Double(rho[i])
            let sigma = Softplus.scale(rho: r)
            let diff = Double(loc[i]) - priorLoc
            total += logPriorScale - log(sigma) + 0.5 * (sigma * sigma + diff * diff) * priorPrecision - 0.5
            if let dLoc {
                dLoc[i] += S(w * diff * priorPrecision)
            }
            if let dRho {
                let dSigma = -1 / sigma + sigma * priorPrecision
                dRho[i] += S(w * dSigma * Softplus.derivative(r))
            }
        }
        return total
    }

    /// Single-sample Monte Carlo estimate of KL(q || p), log q(w) − log p(w) at w = loc + scale · epsilon,
    /// for the scale mixture p(w) = pi · N(w; 0, scale1²) + (1 − pi) · N(w; 0, scale2²). Its gradients are the
    /// reparameterization (pathwise) gradients through w, which is what makes the estimate trainable.
    /// `epsilon` must be the standard normal noise that produced the weights the layer used.
    @inlinable
    public static func monteCarloKL<S: BinaryFloatingPoint>(
        loc: UnsafePointer<S>, rho: UnsafePointer<S>, epsilon: UnsafePointer<S>,
        prior: (pi: Double, scale1: Double, scale2: Double), count: Int, weight: S,
        dLoc: UnsafeMutablePointer<S>?, dRho: UnsafeMutablePointer<S>?
    ) -> Double {
        // Component log weights; a component of weight 0 drops out instead of producing log(0).
        let use1 = prior.pi > 0, use2 = prior.pi < 1
        let logW1 = use1 ? log(prior.pi) - log(prior.scale1) : 0
        let logW2 = use2 ? log1p(-prior.pi) - log(prior.scale2) : 0
        let prec1 = 1 / (prior.scale1 * prior.scale1)
        let prec2 = 1 / (prior.scale2 * prior.scale2)
        let w = Double(weight)
        var total = 0.0
        for i in 0..<max(count, 0) {
            let r = Double(rho[i])
            let sigma = Softplus.scale(rho: r)
            let eps = Double(epsilon[i])
            let x = Double(loc[i]) + sigma * eps
            // log q(x) up to the constant −½ log 2π, which cancels against the prior's.
            let logQ = -log(sigma) - 0.5 * eps * eps
            // log p(x) by log-sum-exp, and d log p / dx as the responsibility-weighted component slopes.
            let a1 = use1 ? logW1 - 0.5 * x * x * prec1 : -Double.infinity
            let a2 = use2 ? logW2 - 0.5 * x * x * prec2 : -Double.infinity
            let top = max(a1, a2)
            let e1 = use1 ? exp(a1 - top) : 0
            let e2 = use2 ? exp(a2 - top) : 0
            let sum = e1 + e2
            let logP = top + log(sum)
            let dLogP = -x * (e1 * prec1 + e2 * prec2) / sum
            total += logQ - logP
            // Along w = loc + sigma·eps: d log q / d loc = 0 and d log q / d sigma = −1/sigma.
            if let dLoc {
                dLoc[i] += S(w * -dLogP)
            }
            if let dRho {
                let dSigma = -1 / sigma - dLogP * eps
                dRho[i] += S(w * dSigma * Softplus.derivative(r))
            }
        }
        return total
    }
}
