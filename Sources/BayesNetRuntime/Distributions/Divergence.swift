#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels

/// KL divergences between a factorised Normal posterior q = Π N(loc_i, scale_i), scale_i = 1e-5 + softplus(rho_i),
/// and a prior on each weight. Each function returns the (unweighted) sum over the `count` weights, computed in
/// Double, and adds `weight` × its gradient into `dLoc` and `dRho` when they are given (so a layer's KL penalty
/// can go straight into the buffers that already hold the likelihood's gradients).
public enum Divergence {
    /// Analytic KL(N(loc, scale) || N(priorLoc, priorScale)) summed over the weights.
    /// Float buffers are processed in Float arithmetic by the vectorised kernel (each term; the sum is kept in
    /// Double lanes in an order fixed by the range alone, so equal blocks give equal sums on any thread), others
    /// in Double.
    @inlinable
    public static func klNormalNormal<S: BinaryFloatingPoint>(
        loc: UnsafePointer<S>, rho: UnsafePointer<S>, priorLoc: Double, priorScale: Double, count: Int,
        weight: S, dLoc: UnsafeMutablePointer<S>?, dRho: UnsafeMutablePointer<S>?
    ) -> Double {
        if S.self == Float.self {
            return klNormalNormalFloat(
                loc: UnsafeRawPointer(loc).assumingMemoryBound(to: Float.self),
                rho: UnsafeRawPointer(rho).assumingMemoryBound(to: Float.self), priorLoc: priorLoc,
                priorScale: priorScale, count: count, weight: Float(weight),
                dLoc: dLoc.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) },
                dRho: dRho.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) })
        }
        if S.self == Double.self {
            return klNormalNormalDouble(
                loc: UnsafeRawPointer(loc).assumingMemoryBound(to: Double.self),
                rho: UnsafeRawPointer(rho).assumingMemoryBound(to: Double.self), priorLoc: priorLoc,
                priorScale: priorScale, count: count, weight: Double(weight),
                dLoc: dLoc.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Double.self) },
                dRho: dRho.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Double.self) })
        }
        return klNormalNormal(loc: loc, rho: rho, priorLoc: priorLoc, priorScale: priorScale, count: count,
                              weight: weight, dLoc: dLoc, dRho: dRho, in: Double.self)
    }

    // Float runs the vectorised C kernel, Double a loop compiled in this module, so that unspecialized generic
    // callers still run specialized code.
    @usableFromInline
    static func klNormalNormalFloat(
        loc: UnsafePointer<Float>, rho: UnsafePointer<Float>, priorLoc: Double, priorScale: Double, count: Int,
        weight: Float, dLoc: UnsafeMutablePointer<Float>?, dRho: UnsafeMutablePointer<Float>?
    ) -> Double {
        bn_kl_normal_f32(loc, rho, max(count, 0), priorLoc, priorScale, weight, dLoc, dRho)
    }

    @usableFromInline
    static func klNormalNormalDouble(
        loc: UnsafePointer<Double>, rho: UnsafePointer<Double>, priorLoc: Double, priorScale: Double, count: Int,
        weight: Double, dLoc: UnsafeMutablePointer<Double>?, dRho: UnsafeMutablePointer<Double>?
    ) -> Double {
        klNormalNormal(loc: loc, rho: rho, priorLoc: priorLoc, priorScale: priorScale, count: count,
                       weight: weight, dLoc: dLoc, dRho: dRho, in: Double.self)
    }

    @inlinable
    static func klNormalNormal<S: BinaryFloatingPoint, T: KernelMath>(
        loc: UnsafePointer<S>, rho: UnsafePointer<S>, priorLoc: Double, priorScale: Double, count: Int,
        weight: S, dLoc: UnsafeMutablePointer<S>?, dRho: UnsafeMutablePointer<S>?, in: T.Type
    ) -> Double {
        let logPriorScale = T(log(priorScale))
        let priorPrecision = T(1 / (priorScale * priorScale))
        let mean = T(priorLoc)
        let w = T(weight)
        var total = 0.0
        for i in 0..<max(count, 0) {
            let (sigma, slope) = Softplus.scaleAndSlope(T(rho[i]))
            let diff = T(loc[i]) - mean
            let term = logPriorScale - T.kernelLog(sigma) + 0.5 * (sigma * sigma + diff * diff) * priorPrecision - 0.5
            total += Double(term)
            if let dLoc {
                dLoc[i] += S(w * diff * priorPrecision)
            }
            if let dRho {
                let dSigma = -1 / sigma + sigma * priorPrecision
                dRho[i] += S(w * dSigma * slope)
            }
        }
        return total
    }

    /// Single-sample Monte Carlo estimate of KL(q || p), log q(w) − log p(w) at w = loc + scale · epsilon,
    /// for the scale mixture p(w) = pi · N(w; 0, scale1²) + (1 − pi) · N(w; 0, scale2²). Its gradients are the
    /// reparameterization (pathwise) gradients through w, which is what makes the estimate trainable.
    /// `epsilon` must be the standard normal noise that produced the weights the layer used.
    /// Float buffers are processed in Float arithmetic by the vectorised kernel, summed as `klNormalNormal` sums;
    /// others in Double.
    @inlinable
    public static func monteCarloKL<S: BinaryFloatingPoint>(
        loc: UnsafePointer<S>, rho: UnsafePointer<S>, epsilon: UnsafePointer<S>,
        prior: (pi: Double, scale1: Double, scale2: Double), count: Int, weight: S,
        dLoc: UnsafeMutablePointer<S>?, dRho: UnsafeMutablePointer<S>?
    ) -> Double {
        if S.self == Float.self {
            return monteCarloKLFloat(
                loc: UnsafeRawPointer(loc).assumingMemoryBound(to: Float.self),
                rho: UnsafeRawPointer(rho).assumingMemoryBound(to: Float.self),
                epsilon: UnsafeRawPointer(epsilon).assumingMemoryBound(to: Float.self), prior: prior, count: count,
                weight: Float(weight),
                dLoc: dLoc.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) },
                dRho: dRho.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) })
        }
        if S.self == Double.self {
            return monteCarloKLDouble(
                loc: UnsafeRawPointer(loc).assumingMemoryBound(to: Double.self),
                rho: UnsafeRawPointer(rho).assumingMemoryBound(to: Double.self),
                epsilon: UnsafeRawPointer(epsilon).assumingMemoryBound(to: Double.self), prior: prior, count: count,
                weight: Double(weight),
                dLoc: dLoc.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Double.self) },
                dRho: dRho.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Double.self) })
        }
        return monteCarloKL(loc: loc, rho: rho, epsilon: epsilon, prior: prior, count: count, weight: weight,
                            dLoc: dLoc, dRho: dRho, in: Double.self)
    }

    @usableFromInline
    static func monteCarloKLFloat(
        loc: UnsafePointer<Float>, rho: UnsafePointer<Float>, epsilon: UnsafePointer<Float>,
        prior: (pi: Double, scale1: Double, scale2: Double), count: Int, weight: Float,
        dLoc: UnsafeMutablePointer<Float>?, dRho: UnsafeMutablePointer<Float>?
    ) -> Double {
        bn_kl_mixture_f32(loc, rho, epsilon, max(count, 0), prior.pi, prior.scale1, prior.scale2, weight, dLoc, dRho)
    }

    @usableFromInline
    static func monteCarloKLDouble(
        loc: UnsafePointer<Double>, rho: UnsafePointer<Double>, epsilon: UnsafePointer<Double>,
        prior: (pi: Double, scale1: Double, scale2: Double), count: Int, weight: Double,
        dLoc: UnsafeMutablePointer<Double>?, dRho: UnsafeMutablePointer<Double>?
    ) -> Double {
        monteCarloKL(loc: loc, rho: rho, epsilon: epsilon, prior: prior, count: count, weight: weight,
                     dLoc: dLoc, dRho: dRho, in: Double.self)
    }

    @inlinable
    static func monteCarloKL<S: BinaryFloatingPoint, T: KernelMath>(
        loc: UnsafePointer<S>, rho: UnsafePointer<S>, epsilon: UnsafePointer<S>,
        prior: (pi: Double, scale1: Double, scale2: Double), count: Int, weight: S,
        dLoc: UnsafeMutablePointer<S>?, dRho: UnsafeMutablePointer<S>?, in: T.Type
    ) -> Double {
        // Component log weights; a component of weight 0 drops out instead of producing log(0).
        let use1 = prior.pi > 0, use2 = prior.pi < 1
        let logW1 = T(use1 ? log(prior.pi) - log(prior.scale1) : 0)
        let logW2 = T(use2 ? log1p(-prior.pi) - log(prior.scale2) : 0)
        let prec1 = T(1 / (prior.scale1 * prior.scale1))
        let prec2 = T(1 / (prior.scale2 * prior.scale2))
        let w = T(weight)
        var total = 0.0
        for i in 0..<max(count, 0) {
            let (sigma, slope) = Softplus.scaleAndSlope(T(rho[i]))
            let eps = T(epsilon[i])
            let x = T(loc[i]) + sigma * eps
            // log q(x) up to the constant −½ log 2π, which cancels against the prior's.
            let logQ = -T.kernelLog(sigma) - 0.5 * eps * eps
            // log p(x) and d log p / dx. With two components, log-sum-exp is max + log1p(e^−|a1 − a2|)
            // and component 1's responsibility is sigmoid(a1 − a2): stable however far x lies in a tail.
            let halfSquare = 0.5 * x * x
            let logP: T, dLogP: T
            if use1 && use2 {
                let a1 = logW1 - halfSquare * prec1, a2 = logW2 - halfSquare * prec2
                let d = a1 - a2
                let e = T.kernelExp(-abs(d))
                logP = max(a1, a2) + T.kernelLog1p(e)
                let r1 = d >= 0 ? 1 / (1 + e) : e / (1 + e)
                dLogP = -x * (r1 * prec1 + (1 - r1) * prec2)
            } else if use1 {
                logP = logW1 - halfSquare * prec1
                dLogP = -x * prec1
            } else {
                logP = logW2 - halfSquare * prec2
                dLogP = -x * prec2
            }
            total += Double(logQ - logP)
            // Along w = loc + sigma·eps: d log q / d loc = 0 and d log q / d sigma = −1/sigma.
            if let dLoc {
                dLoc[i] += S(w * -dLogP)
            }
            if let dRho {
                let dSigma = -1 / sigma - dLogP * eps
                dRho[i] += S(w * dSigma * slope)
            }
        }
        return total
    }
}
