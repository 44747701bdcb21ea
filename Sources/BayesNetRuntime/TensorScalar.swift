#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// The element types the kernels run on. The elementary functions are requirements so that generic
/// code calls the C library's single- or double-precision routine directly.
public protocol TensorScalar: BinaryFloatingPoint, Sendable {
    static func exp(_ x: Self) -> Self
    static func expm1(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
}

extension Float: TensorScalar {
    @inlinable @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable @inline(__always) public static func expm1(_ x: Float) -> Float { expm1f(x) }
    @inlinable @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable @inline(__always) public static func log1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
}

extension Double: TensorScalar {
    @inlinable @inline(__always) public static func exp(_ x: Double) -> Double { _cexp(x) }
    @inlinable @inline(__always) public static func expm1(_ x: Double) -> Double { _cexpm1(x) }
    @inlinable @inline(__always) public static func log(_ x: Double) -> Double { _clog(x) }
    @inlinable @inline(__always) public static func log1p(_ x: Double) -> Double { _clog1p(x) }
    @inlinable @inline(__always) public static func tanh(_ x: Double) -> Double { _ctanh(x) }
}

// File-scope shims so the Double requirements reach the C library rather than themselves.
@usableFromInline func _cexp(_ x: Double) -> Double { exp(x) }
@usableFromInline func _cexpm1(_ x: Double) -> Double { expm1(x) }
@usableFromInline func _clog(_ x: Double) -> Double { log(x) }
@usableFromInline func _clog1p(_ x: Double) -> Double { log1p(x) }
@usableFromInline func _ctanh(_ x: Double) -> Double { tanh(x) }
