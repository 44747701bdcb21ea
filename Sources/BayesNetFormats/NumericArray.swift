/// An n-dimensional array as a file stores it: shape, row-major (C order) values, and the element type
/// it had on disk, so that integer labels and float images each keep their exact values.
public struct NumericArray: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case uint8([UInt8])
        case int8([Int8])
        case int16([Int16])
        case int32([Int32])
        case int64([Int64])
        case float32([Float])
        case float64([Double])
    }

    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], storage: Storage) {
        self.shape = shape
        self.storage = storage
    }

    public init(shape: [Int], floats: [Float]) { self.init(shape: shape, storage: .float32(floats)) }
    public init(shape: [Int], doubles: [Double]) { self.init(shape: shape, storage: .float64(doubles)) }

    public var count: Int {
        switch storage {
        case .uint8(let a): return a.count
        case .int8(let a): return a.count
        case .int16(let a): return a.count
        case .int32(let a): return a.count
        case .int64(let a): return a.count
        case .float32(let a): return a.count
        case .float64(let a): return a.count
        }
    }

    /// The element type's name (`float32`, `uint8`, ...).
    public var typeName: String {
        switch storage {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .float32: return "float32"
        case .float64: return "float64"
        }
    }

    /// The values converted to Float, each multiplied by `scale` when given.
    public func floats(scale: Double? = nil) -> [Float] {
        let s = scale ?? 1
        if case .float32(let a) = storage, scale == nil { return a }
        switch storage {
        case .uint8(let a): return a.map { Float(Double($0) * s) }
        case .int8(let a): return a.map { Float(Double($0) * s) }
        case .int16(let a): return a.map { Float(Double($0) * s) }
        case .int32(let a): return a.map { Float(Double($0) * s) }
        case .int64(let a): return a.map { Float(Double($0) * s) }
        case .float32(let a): return a.map { Float(Double($0) * s) }
        case .float64(let a): return a.map { Float($0 * s) }
        }
    }

    public func doubles() -> [Double] {
        switch storage {
        case .uint8(let a): return a.map { Double($0) }
        case .int8(let a): return a.map { Double($0) }
        case .int16(let a): return a.map { Double($0) }
        case .int32(let a): return a.map { Double($0) }
        case .int64(let a): return a.map { Double($0) }
        case .float32(let a): return a.map { Double($0) }
        case .float64(let a): return a
        }
    }

    /// Element `i` as an exact integer, or nil when it is not a whole number (floats such as 2.5, NaN).
    package func integer(at i: Int) -> Int64? {
        switch storage {
        case .uint8(let a): return Int64(a[i])
        case .int8(let a): return Int64(a[i])
        case .int16(let a): return Int64(a[i])
        case .int32(let a): return Int64(a[i])
        case .int64(let a): return a[i]
        case .float32(let a): return Int64(exactly: a[i])
        case .float64(let a): return Int64(exactly: a[i])
        }
    }
}

/// Little- and big-endian fixed-width loads from a byte array, bounds already checked by the caller.
package enum ByteOrderLoad {
    @inline(__always)
    package static func bigEndianUInt32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    @inline(__always)
    package static func littleEndianUInt64(_ b: [UInt8], _ at: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in (0..<8).reversed() { v = v << 8 | UInt64(b[at + k]) }
        return v
    }

    /// `count` values of a fixed-width integer type stored from `offset`, in the given byte order.
    package static func integers<T: FixedWidthInteger>(
        _ bytes: [UInt8], offset: Int, count: Int, as: T.Type, bigEndian: Bool
    ) -> [T] {
        let width = MemoryLayout<T>.size
        return [T](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { raw in
                for i in 0..<count {
                    let v = raw.loadUnaligned(fromByteOffset: offset + i * width, as: T.self)
                    out[i] = bigEndian ? T(bigEndian: v) : T(littleEndian: v)
                }
            }
            initialized = count
        }
    }

    package static func floats(_ bytes: [UInt8], offset: Int, count: Int, bigEndian: Bool) -> [Float] {
        integers(bytes, offset: offset, count: count, as: UInt32.self, bigEndian: bigEndian).map(Float.init(bitPattern:))
    }

    package static func doubles(_ bytes: [UInt8], offset: Int, count: Int, bigEndian: Bool) -> [Double] {
        integers(bytes, offset: offset, count: count, as: UInt64.self, bigEndian: bigEndian).map(Double.init(bitPattern:))
    }
}
