/// Global average and max pooling of channels-last data, x [batch, positions, channels] → y [batch, channels],
/// where positions is the product of the spatial sizes (rank 1...3 alike), as Keras' GlobalAveragePooling and
/// GlobalMaxPooling layers compute them. Each example is reduced by one thread in a fixed order, so the results
/// are the same bits for any thread count.
public enum GlobalPooling {
    /// Sums in double precision, then divides by the number of positions.
    @inlinable
    public static func averageForward<S: TensorScalar>(x: UnsafePointer<S>, y: UnsafeMutablePointer<S>, batch: Int,
                                                       positions: Int, channels: Int) {
        run(.averageForward, x: x, dy: nil, out: y, batch: batch, positions: positions, channels: channels)
    }

    /// dx (+)= dy / positions at every position.
    @inlinable
    public static func averageBackward<S: TensorScalar>(dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>,
                                                        batch: Int, positions: Int, channels: Int,
                                                        accumulate: Bool) {
        run(accumulate ? .averageBackwardAccumulate : .averageBackward, x: nil, dy: dy, out: dx, batch: batch,
            positions: positions, channels: channels)
    }

    @inlinable
    public static func maxForward<S: TensorScalar>(x: UnsafePointer<S>, y: UnsafeMutablePointer<S>, batch: Int,
                                                   positions: Int, channels: Int) {
        run(.maxForward, x: x, dy: nil, out: y, batch: batch, positions: positions, channels: channels)
    }

    /// dx (+)= dy / k at each of the k positions holding a channel's maximum, 0 elsewhere: TensorFlow's gradient
    /// of `reduce_max`, which Keras' GlobalMaxPooling uses (unlike windowed max pooling, whose gradient goes to
    /// the first maximum alone). Ties are common after a ReLU: a channel that is zero everywhere. The maxima are
    /// found again from x.
    @inlinable
    public static func maxBackward<S: TensorScalar>(x: UnsafePointer<S>, dy: UnsafePointer<S>,
                                                    dx: UnsafeMutablePointer<S>, batch: Int, positions: Int,
                                                    channels: Int, accumulate: Bool) {
        run(accumulate ? .maxBackwardAccumulate : .maxBackward, x: x, dy: dy, out: dx, batch: batch,
            positions: positions, channels: channels)
    }

    @usableFromInline
    enum Pass {
        case averageForward, averageBackward, averageBackwardAccumulate, maxForward, maxBackward, maxBackwardAccumulate
    }

    @inlinable
    static func run<S: TensorScalar>(_ pass: Pass, x: UnsafePointer<S>?, dy: UnsafePointer<S>?,
                                     out: UnsafeMutablePointer<S>, batch: Int, positions: Int, channels: Int) {
        precondition(batch >= 0 && positions > 0 && channels > 0, "GlobalPooling: empty input")
        let parts = Runtime.partitions(batch, perThread: 4)
        Runtime.parallelFor(parts, Task(pass: pass, x: x, dy: dy, out: out, batch: batch, positions: positions,
                                        channels: channels, parts: parts))
    }

    /// One pass over the `part`-th slice of the batch.
    @usableFromInline
    struct Task<S: TensorScalar>: ParallelTask {
        @usableFromInline let pass: Pass
        @usableFromInline let x: UnsafePointer<S>?, dy: UnsafePointer<S>?
        @usableFromInline let out: UnsafeMutablePointer<S>
        @usableFromInline let batch: Int, positions: Int, channels: Int, parts: Int

        @inlinable
        init(pass: Pass, x: UnsafePointer<S>?, dy: UnsafePointer<S>?, out: UnsafeMutablePointer<S>, batch: Int,
             positions: Int, channels: Int, parts: Int) {
            self.pass = pass; self.x = x; self.dy = dy; self.out = out; self.batch = batch
            self.positions = positions; self.channels = channels; self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            let c = channels, p = positions, per = p * c
            let examples = sliceRange(batch, part: part, of: parts)
            switch pass {
            case .averageForward:
                // On the stack for a usual channel count, so a training step allocates nothing.
                withUnsafeTemporaryAllocation(of: Double.self, capacity: c) { buffer in
                    let sum = buffer.baseAddress!
                    for e in examples {
                        let xe = x! + e * per
                        sum.update(repeating: 0, count: c)
                        for i in 0..<p {
                            let xi = xe + i * c
                            for ch in 0..<c { sum[ch] += Double(xi[ch]) }
                        }
                        let ye = out + e * c
                        for ch in 0..<c { ye[ch] = S(sum[ch] / Double(p)) }
                    }
                }
            case .averageBackward, .averageBackwardAccumulate:
                let inv = 1 / S(p)
                for e in examples {
                    let d = dy! + e * c, dxe = out + e * per
                    for i in 0..<p {
                        let di = dxe + i * c
                        if pass == .averageBackward {
                            for ch in 0..<c { di[ch] = d[ch] * inv }
                        } else {
                            for ch in 0..<c { di[ch] += d[ch] * inv }
                        }
                    }
                }
            case .maxForward:
                for e in examples { maxima(x! + e * per, into: out + e * c) }
            case .maxBackward, .maxBackwardAccumulate:
                withUnsafeTemporaryAllocation(of: S.self, capacity: 2 * c) { buffer in
                    let best = buffer.baseAddress!, share = best + c
                    for e in examples {
                        let xe = x! + e * per, dxe = out + e * per, d = dy! + e * c
                        maxima(xe, into: best)
                        share.update(repeating: 0, count: c)
                        for i in 0..<p {
                            let xi = xe + i * c
                            for ch in 0..<c { share[ch] += xi[ch] == best[ch] ? 1 : 0 }
                        }
                        // TensorFlow's order: (1 / k) · dy.
                        for ch in 0..<c { share[ch] = 1 / share[ch] * d[ch] }
                        for i in 0..<p {
                            let xi = xe + i * c, di = dxe + i * c
                            if pass == .maxBackward {
                                for ch in 0..<c { di[ch] = xi[ch] == best[ch] ? share[ch] : 0 }
                            } else {
                                for ch in 0..<c { di[ch] += xi[ch] == best[ch] ? share[ch] : 0 }
                            }
                        }
                    }
                }
            }
        }

        /// Each channel's maximum over one example's positions.
        @inlinable
        func maxima(_ xe: UnsafePointer<S>, into best: UnsafeMutablePointer<S>) {
            let c = channels
            best.update(from: xe, count: c)
            for i in 1..<positions {
                let xi = xe + i * c
                for ch in 0..<c {
                    let v = xi[ch], m = best[ch]
                    best[ch] = v > m ? v : m
                }
            }
        }
    }
}
