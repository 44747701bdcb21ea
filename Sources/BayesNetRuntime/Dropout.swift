import CKernels

/// Inverted dropout, as `tf.nn.dropout`: an element is kept with probability 1 − rate and scaled by 1/(1 − rate),
/// so the expected output is the input and evaluation without dropout needs no rescaling.
///
/// The mask is a pure function of the layer's stream (seed, stream, step) and the element's global index
/// (`firstExample` · perExample + its index in the batch), like every other noise: the same for any thread count
/// and any batching of the data, and recomputed by the backward pass instead of stored. Element j is kept when
/// `stream.uniform(at: j)` (53 random bits, so the mask does not depend on the precision) is at least `rate`.
/// Single precision runs in C, whose Philox blocks vectorise: the same bits.
public enum Dropout {
    /// Elements per task when splitting over threads.
    @usableFromInline static let grain = 1 << 14

    /// In place allowed (y == x).
    @inlinable
    public static func forward<S: TensorScalar>(x: UnsafePointer<S>, y: UnsafeMutablePointer<S>, count: Int,
                                                perExample: Int, firstExample: Int, rate: Double,
                                                stream: RandomStream) {
        run(input: x, output: y, count: count, first: firstExample * perExample, rate: rate, stream: stream,
            accumulate: false)
    }

    /// dx (+)= dy / (1 − rate) where the forward pass kept the element, 0 where it dropped it: the same mask,
    /// drawn again from the same stream and indices. In place allowed (dx == dy, when not accumulating).
    @inlinable
    public static func backward<S: TensorScalar>(dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, count: Int,
                                                 perExample: Int, firstExample: Int, rate: Double,
                                                 stream: RandomStream, accumulate: Bool) {
        run(input: dy, output: dx, count: count, first: firstExample * perExample, rate: rate, stream: stream,
            accumulate: accumulate)
    }

    @inlinable
    static func run<S: TensorScalar>(input: UnsafePointer<S>, output: UnsafeMutablePointer<S>, count: Int, first: Int,
                                     rate: Double, stream: RandomStream, accumulate: Bool) {
        precondition(rate >= 0 && rate < 1, "Dropout: rate must be in [0, 1), got \(rate)")
        let parts = Runtime.partitions(count, grain: grain, perThread: 4)
        let key = stream.generator(.uniform)
        Runtime.parallelFor(parts, Task(input: input, output: output, count: count, first: first, rate: rate,
                                        scale: S(1 / (1 - rate)), key: key, step: stream.step,
                                        accumulate: accumulate, parts: parts))
    }

    @usableFromInline
    struct Task<S: TensorScalar>: ParallelTask {
        @usableFromInline let input: UnsafePointer<S>
        @usableFromInline let output: UnsafeMutablePointer<S>
        @usableFromInline let count: Int, first: Int
        @usableFromInline let rate: Double, scale: S
        @usableFromInline let key: Philox4x32
        @usableFromInline let step: UInt64
        @usableFromInline let accumulate: Bool, parts: Int

        @inlinable
        init(input: UnsafePointer<S>, output: UnsafeMutablePointer<S>, count: Int, first: Int, rate: Double,
             scale: S, key: Philox4x32, step: UInt64, accumulate: Bool, parts: Int) {
            self.input = input; self.output = output; self.count = count; self.first = first; self.rate = rate
            self.scale = scale; self.key = key; self.step = step; self.accumulate = accumulate; self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            let range = sliceRange(count, part: part, of: parts)
            if S.self == Float.self {
                bn_dropout_f32(UInt64(key.key.0) | UInt64(key.key.1) << 32, step, first + range.lowerBound,
                               range.count, input.cast(Float.self) + range.lowerBound,
                               output.cast(Float.self) + range.lowerBound, rate, Float(scale), accumulate ? 1 : 0)
                return
            }
            var i = range.lowerBound
            // One Philox block gives the uniforms of global elements 2p and 2p + 1 (RandomStream's layout).
            while i < range.upperBound {
                let j = first + i, b = UInt64(truncatingIfNeeded: j >> 1)
                let r = key.block((UInt32(truncatingIfNeeded: b), UInt32(truncatingIfNeeded: b >> 32),
                                   UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32)))
                if j & 1 == 0 {
                    apply(i, RandomStream.join(r.0, r.1))
                    i += 1
                    if i == range.upperBound { break }
                }
                apply(i, RandomStream.join(r.2, r.3))
                i += 1
            }
        }

        @inlinable @inline(__always)
        func apply(_ i: Int, _ bits: UInt64) {
            let kept = RandomStream.unit(bits, as: Double.self) >= rate
            let v = kept ? input[i] * scale : 0
            if accumulate { output[i] += v } else { output[i] = v }
        }
    }
}
