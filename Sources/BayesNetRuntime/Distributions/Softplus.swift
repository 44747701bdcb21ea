#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// softplus(x) = log(1 + e^x), the map from a posterior's unconstrained ρ to its scale:
/// scale = 1e-5 + softplus(ρ), as `tfp.layers` builds `normal_diag` posteriors.
/// Every form here stays finite for large |x| (no overflow of e^x, no loss of tiny values).
public enum Softplus {
    /// The smallest posterior scale, added to softplus(ρ) so that a scale never reaches 0.
    public static let scaleFloor: Double = 1e-5

    @inlinable
    public static func forward(_ x: Double) -> Double {
        max(x, 0) + log1p(exp(-abs(x)))
    }

    /// The ρ with softplus(ρ) = y, for y > 0 (−∞ for 0, NaN below).
    @inlinable
    public static func inverse(_ y: Double) -> Double {
        // log(e^y − 1) = y + log(1 − e^−y), with expm1 keeping precision for small y.
        y + log(-expm1(-y))
    }

    /// d softplus / dx = sigmoid(x).
    @inlinable
    public static func derivative(_ x: Double) -> Double {
        if x >= 0 {
            return 1 / (1 + exp(-x))
        }
        let e = exp(x)
        return e / (1 + e)
    }

    @inlinable
    public static func forward<S: BinaryFloatingPoint>(_ x: S) -> S { S(forward(Double(x))) }
    @inlinable
    public static func inverse<S: BinaryFloatingPoint>(_ y: S) -> S { S(inverse(Double(y))) }
    @inlinable
    public static func derivative<S: BinaryFloatingPoint>(_ x: S) -> S { S(derivative(Double(x))) }

    /// The posterior scale for an untransformed scale ρ: 1e-5 + softplus(ρ).
    @inlinable
    public static func scale(rho: Double) -> Double {
        scaleFloor + forward(rho)
    }

    /// The ρ that gives `scale` (for initialising a posterior at a chosen scale). A scale at or below the floor
    /// gives a finite ρ (about −69) whose scale is the floor, so a spec's `initial_scale` never yields −∞.
    @inlinable
    public static func rho(forScale scale: Double) -> Double {
        inverse(max(scale - scaleFloor, 1e-30))
    }

    /// (1e-5 + softplus(ρ), sigmoid(ρ)): the scale and its slope d scale / dρ from one exponential.
    @inlinable
    public static func scaleAndSlope(rho: Double) -> (scale: Double, slope: Double) {
        let e = exp(-abs(rho))
        let scale = scaleFloor + (max(rho, 0) + log1p(e))
        let slope = rho >= 0 ? 1 / (1 + e) : e / (1 + e)
        return (scale, slope)
    }

}
