#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A keyed source of random values in which every value is a pure function of
/// (seed, stream, step, kind of value, element index). Nothing is carried from one draw to the next,
/// so filling a buffer in chunks, on any number of threads, in any order gives bit-identical results,
/// and adding a layer (a new stream) leaves every other layer's noise unchanged.
///
/// Uniforms, normals, signs and permutations of the same (seed, stream, step) come from different
/// Philox keys, so they are independent of each other.
public struct RandomStream: Sendable, Equatable {
    public let seed: UInt64
    public let stream: UInt64
    public let step: UInt64

    public init(seed: UInt64, stream: UInt64, step: UInt64) {
        self.seed = seed
        self.stream = stream
        self.step = step
    }

    /// A stream named by a string such as `"conv1/kernel_noise"` (hashed with `stableHash`).
    public init(seed: UInt64, name: String, step: UInt64) {
        self.init(seed: seed, stream: stableHash(name), step: step)
    }

    @usableFromInline
    enum Kind: UInt64 {
        case uniform = 1, normal = 2, signs = 3, permutation = 4, normalFallback = 5
    }

    /// SplitMix64's finaliser: spreads nearby seeds and streams over the whole key space.
    @inlinable
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inlinable
    func generator(_ kind: Kind) -> Philox4x32 {
        Philox4x32(key: RandomStream.mix(seed ^ RandomStream.mix(stream ^ RandomStream.mix(kind.rawValue))))
    }

    @inlinable
    func block(_ g: Philox4x32, _ index: Int) -> (UInt32, UInt32, UInt32, UInt32) {
        let b = UInt64(truncatingIfNeeded: index)
        return g.block((
            UInt32(truncatingIfNeeded: b), UInt32(truncatingIfNeeded: b >> 32),
            UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32)
        ))
    }

    @inlinable
    static func join(_ lo: UInt32, _ hi: UInt32) -> UInt64 {
        UInt64(lo) | (UInt64(hi) << 32)
    }

    /// The top bits of `x` as a value in [0, 1) that `S` represents exactly (never rounds up to 1).
    @inlinable
    static func unit<S: BinaryFloatingPoint>(_ x: UInt64, as: S.Type) -> S {
        let bits = min(S.significandBitCount + 1, 64)
        let scale = S(sign: .plus, exponent: S.Exponent(-bits), significand: 1)
        return S(x >> UInt64(64 - bits)) * scale
    }

    // MARK: Single values

    /// 64 random bits for element `index` (the words behind `uniform(at:)`).
    @inlinable
    public func bits(at index: Int) -> UInt64 {
        let r = block(generator(.uniform), index >> 1)
        return index & 1 == 0 ? RandomStream.join(r.0, r.1) : RandomStream.join(r.2, r.3)
    }

    /// Element `index` of `fillUniform`, in [0, 1).
    @inlinable
    public func uniform<S: BinaryFloatingPoint>(at index: Int, as type: S.Type = Double.self) -> S {
        RandomStream.unit(bits(at: index), as: S.self)
    }

    /// Element `index` of `fillNormal`.
    @inlinable
    public func normal(at index: Int) -> Double {
        let pair = normalPair(generator(.normal), generator(.normalFallback), index >> 1)
        return index & 1 == 0 ? pair.0 : pair.1
    }

    /// Element `index` of `fillSigns`: exactly +1 or -1.
    @inlinable
    public func sign(at index: Int) -> Int {
        let r = block(generator(.signs), index >> 7)
        let word: UInt32
        switch (index >> 5) & 3 {
        case 0: word = r.0
        case 1: word = r.1
        case 2: word = r.2
        default: word = r.3
        }
        return (word >> UInt32(index & 31)) & 1 == 0 ? 1 : -1
    }

    /// Normals 2·pair and 2·pair + 1: Marsaglia's polar method (one logarithm, no sine or cosine), trying the
    /// two (u, v) pairs of one Philox block; when both fall outside the unit disc (probability (1 − π/4)² ≈ 4.6%),
    /// Box-Muller on a block of a second key. Each branch yields an exact standard normal pair, so the mixture
    /// does too, and the result depends only on the pair index.
    @inlinable
    func normalPair(_ g: Philox4x32, _ fallback: Philox4x32, _ pair: Int) -> (Double, Double) {
        let r = block(g, pair)
        if let z = RandomStream.polar(r.0, r.1) { return z }
        if let z = RandomStream.polar(r.2, r.3) { return z }
        return RandomStream.boxMuller(block(fallback, pair))
    }

    @inlinable
    static func polar(_ a: UInt32, _ b: UInt32) -> (Double, Double)? {
        // Odd multiples of 2^-32 in (-1, 1): symmetric about 0 and never 0, so s > 0.
        let u = (Double(a) + 0.5) * 0x1p-31 - 1
        let v = (Double(b) + 0.5) * 0x1p-31 - 1
        let s = u * u + v * v
        guard s < 1 else { return nil }
        let f = (-2 * log(s) / s).squareRoot()
        return (u * f, v * f)
    }

    /// Two independent N(0, 1) values from one Philox block (Box-Muller on two 53-bit uniforms).
    @inlinable
    static func boxMuller(_ r: (UInt32, UInt32, UInt32, UInt32)) -> (Double, Double) {
        // u1 in (0, 1] so that the logarithm is finite.
        let u1 = (Double(join(r.0, r.1) >> 11) + 1) * 0x1p-53
        let u2 = Double(join(r.2, r.3) >> 11) * 0x1p-53
        let radius = (-2 * log(u1)).squareRoot()
        let theta = 2 * Double.pi * u2
        return (radius * cos(theta), radius * sin(theta))
    }

    // MARK: Buffers

    // Each fill dispatches Float and Double buffers to loops compiled in this module, so callers that are
    // themselves generic (and run unspecialized) still get specialized loops; other types use the generic loop.

    /// Writes elements `offset ..< offset + count` of the uniform [0, 1) sequence to `p`.
    @inlinable
    public func fillUniform<S: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<S>, count: Int, offset: Int = 0) {
        if S.self == Float.self {
            fillUniformFloat(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), count: count, offset: offset)
        } else if S.self == Double.self {
            fillUniformDouble(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self), count: count, offset: offset)
        } else {
            writeUniform(p, count: count, offset: offset)
        }
    }

    /// Writes elements `offset ..< offset + count` of the N(0, 1) sequence to `p`.
    @inlinable
    public func fillNormal<S: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<S>, count: Int, offset: Int = 0) {
        if S.self == Float.self {
            fillNormalFloat(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), count: count, offset: offset)
        } else if S.self == Double.self {
            fillNormalDouble(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self), count: count, offset: offset)
        } else {
            writeNormal(p, count: count, offset: offset)
        }
    }

    /// Writes elements `offset ..< offset + count` of the ±1 sequence to `p` (one random bit each).
    @inlinable
    public func fillSigns<S: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<S>, count: Int, offset: Int = 0) {
        if S.self == Float.self {
            fillSignsFloat(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), count: count, offset: offset)
        } else if S.self == Double.self {
            fillSignsDouble(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self), count: count, offset: offset)
        } else {
            writeSigns(p, count: count, offset: offset)
        }
    }

    @usableFromInline func fillUniformFloat(_ p: UnsafeMutablePointer<Float>, count: Int, offset: Int) { writeUniform(p, count: count, offset: offset) }
    @usableFromInline func fillUniformDouble(_ p: UnsafeMutablePointer<Double>, count: Int, offset: Int) { writeUniform(p, count: count, offset: offset) }
    @usableFromInline func fillNormalFloat(_ p: UnsafeMutablePointer<Float>, count: Int, offset: Int) { writeNormalFast(p, count: count, offset: offset) }
    @usableFromInline func fillNormalDouble(_ p: UnsafeMutablePointer<Double>, count: Int, offset: Int) { writeNormal(p, count: count, offset: offset) }
    @usableFromInline func fillSignsFloat(_ p: UnsafeMutablePointer<Float>, count: Int, offset: Int) { writeSignsFast(p, count: count, offset: offset) }
    @usableFromInline func fillSignsDouble(_ p: UnsafeMutablePointer<Double>, count: Int, offset: Int) { writeSigns(p, count: count, offset: offset) }

    @inlinable
    func writeUniform<S: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<S>, count: Int, offset: Int) {
        guard count > 0 else { return }
        let g = generator(.uniform)
        var i = offset
        let end = offset + count
        while i < end {
            let r = block(g, i >> 1)
            if i & 1 == 0 {
                p[i - offset] = RandomStream.unit(RandomStream.join(r.0, r.1), as: S.self)
                i += 1
                if i == end { break }
            }
            p[i - offset] = RandomStream.unit(RandomStream.join(r.2, r.3), as: S.self)
            i += 1
        }
    }

    @inlinable
    func writeNormal<S: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<S>, count: Int, offset: Int) {
        guard count > 0 else { return }
        let g = generator(.normal), fallback = generator(.normalFallback)
        var i = offset
        let end = offset + count
        while i < end {
            let z = normalPair(g, fallback, i >> 1)
            if i & 1 == 0 {
                p[i - offset] = S(z.0)
                i += 1
                if i == end { break }
            }
            p[i - offset] = S(z.1)
            i += 1
        }
    }

    @inlinable
    func writeSigns<S: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<S>, count: Int, offset: Int) {
        guard count > 0 else { return }
        let g = generator(.signs)
        var i = offset
        let end = offset + count
        while i < end {
            let r = block(g, i >> 7)
            let blockEnd = min(end, (i & ~127) + 128)
            while i < blockEnd {
                let word: UInt32
                switch (i >> 5) & 3 {
                case 0: word = r.0
                case 1: word = r.1
                case 2: word = r.2
                default: word = r.3
                }
                p[i - offset] = (word >> UInt32(i & 31)) & 1 == 0 ? 1 : -1
                i += 1
            }
        }
    }

    /// A uniformly random permutation of 0..<n (Fisher-Yates), e.g. the order of an epoch's examples.
    public func permutation(_ n: Int) -> [Int] {
        guard n > 0 else { return [] }
        var order = Array(0..<n)
        let g = generator(.permutation)
        var i = n - 1
        while i > 0 {
            let r = block(g, i)
            // Multiply-high maps 64 random bits to 0...i with a bias below (i + 1) / 2^64.
            let j = Int(RandomStream.join(r.0, r.1).multipliedFullWidth(by: UInt64(i + 1)).high)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }
}
