/// Whether a buffer holds only finite values, as a reduction over the exponent bits: a scan that stops at the
/// first bad value does not vectorise, and a training step checks every gradient (a million values for w1).
public enum Finite {
    @inlinable
    public static func all<S: TensorScalar>(_ p: UnsafePointer<S>, count: Int) -> Bool {
        if S.self == Float.self {
            return all(UnsafeRawPointer(p).assumingMemoryBound(to: UInt32.self), count: count, exponent: 0x7f80_0000)
        }
        if S.self == Double.self {
            return all(UnsafeRawPointer(p).assumingMemoryBound(to: UInt64.self), count: count,
                       exponent: 0x7ff0_0000_0000_0000)
        }
        for i in 0..<max(count, 0) where !p[i].isFinite { return false }
        return true
    }

    /// Infinities and NaNs, and only they, have every exponent bit set; integer max reductions vectorise.
    @inlinable
    static func all<B: FixedWidthInteger & UnsignedInteger>(_ bits: UnsafePointer<B>, count: Int, exponent: B) -> Bool {
        var highest: B = 0
        for i in 0..<max(count, 0) { highest = max(highest, bits[i] & exponent) }
        return highest != exponent
    }
}
