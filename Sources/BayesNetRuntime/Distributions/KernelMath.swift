#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Elementary functions at the precision of the type, so Float kernels call expf/logf rather than
/// converting every element to Double and back (about twice as fast, and Float accuracy is all a
/// Float network keeps anyway).
public protocol KernelMath: BinaryFloatingPoint {
    static func kernelExp(_ x: Self) -> Self
    static func kernelLog(_ x: Self) -> Self
    static func kernelLog1p(_ x: Self) -> Self
}

extension Float: KernelMath {
    @inlinable public static func kernelExp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func kernelLog(_ x: Float) -> Float { logf(x) }
    @inlinable public static func kernelLog1p(_ x: Float) -> Float { log1pf(x) }
}

extension Double: KernelMath {
    @inlinable public static func kernelExp(_ x: Double) -> Double { exp(x) }
    @inlinable public static func kernelLog(_ x: Double) -> Double { log(x) }
    @inlinable public static func kernelLog1p(_ x: Double) -> Double { log1p(x) }
}

extension Softplus {
    /// `scaleAndSlope(rho:)` computed in T.
    @inlinable
    static func scaleAndSlope<T: KernelMath>(_ rho: T) -> (scale: T, slope: T) {
        let e = T.kernelExp(-abs(rho))
        let scale = T(scaleFloor) + (max(rho, 0) + T.kernelLog1p(e))
        let slope = rho >= 0 ? 1 / (1 + e) : e / (1 + e)
        return (scale, slope)
    }
}
