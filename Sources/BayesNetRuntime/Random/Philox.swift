/// FNV-1a (64-bit) of the UTF-8 bytes: a hash that is the same in every process and on every machine,
/// unlike Swift's `Hasher`, which is seeded per process. Used to name random streams.
public func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in s.utf8 {
        h ^= UInt64(byte)
        h = h &* 0x0000_0100_0000_01b3
    }
    return h
}

/// Philox4x32-10 (Salmon et al., SC'11): a counter-based generator, so any block of output is
/// computed directly from (key, counter) without running through earlier ones.
public struct Philox4x32: Sendable, Equatable {
    public var key: (UInt32, UInt32)

    public init(key: (UInt32, UInt32)) {
        self.key = key
    }

    public init(key: UInt64) {
        self.key = (UInt32(truncatingIfNeeded: key), UInt32(truncatingIfNeeded: key >> 32))
    }

    public static func == (a: Philox4x32, b: Philox4x32) -> Bool {
        a.key == b.key
    }

    /// The 128-bit output block for a 128-bit counter, with the standard 10 rounds.
    @inlinable
    public func block(_ counter: (UInt32, UInt32, UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        Philox4x32.rounds(10, counter: counter, key: key)
    }

    /// The generator with a chosen number of rounds (Random123 publishes answers for 7 and 10).
    @inlinable
    public static func rounds(
        _ n: Int, counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)
    ) -> (UInt32, UInt32, UInt32, UInt32) {
        var c = counter
        var k = key
        for r in 0..<n {
            if r > 0 {
                k.0 = k.0 &+ 0x9E37_79B9
                k.1 = k.1 &+ 0xBB67_AE85
            }
            let p0 = UInt64(0xD251_1F53) &* UInt64(c.0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c.2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c = (hi1 ^ c.1 ^ k.0, lo1, hi0 ^ c.3 ^ k.1, lo0)
        }
        return c
    }
}
