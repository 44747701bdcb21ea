/// Elementwise sum of n same-shaped tensors, as Keras' Add layer.
public enum Add {
    /// Elements per task when splitting over threads.
    @usableFromInline static let grain = 1 << 15

    /// y = ((x₀ + x₁) + x₂) + …, left to right as Keras adds them, so the rounding is Keras'. y may be one of
    /// the inputs. `inputs` is a list of pointers the caller plans (no allocation here).
    @inlinable
    public static func forward<S: TensorScalar>(inputs: UnsafeBufferPointer<UnsafePointer<S>>,
                                                y: UnsafeMutablePointer<S>, count: Int) {
        precondition(inputs.count >= 1, "Add: no inputs")
        let parts = Runtime.partitions(count, grain: grain, perThread: 4)
        Runtime.parallelFor(parts, ForwardTask(inputs: inputs, y: y, count: count, parts: parts))
    }

    /// The gradient of every input is dy itself: called once per input, dx (+)= dy. Without `accumulate`,
    /// dx == dy is allowed (nothing to do).
    @inlinable
    public static func backward<S: TensorScalar>(dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, count: Int,
                                                 accumulate: Bool) {
        if !accumulate && UnsafePointer(dx) == dy { return }
        let parts = Runtime.partitions(count, grain: grain, perThread: 4)
        Runtime.parallelFor(parts, BackwardTask(dy: dy, dx: dx, count: count, accumulate: accumulate, parts: parts))
    }

    @usableFromInline
    struct ForwardTask<S: TensorScalar>: ParallelTask {
        @usableFromInline let inputs: UnsafeBufferPointer<UnsafePointer<S>>
        @usableFromInline let y: UnsafeMutablePointer<S>
        @usableFromInline let count: Int, parts: Int

        @inlinable
        init(inputs: UnsafeBufferPointer<UnsafePointer<S>>, y: UnsafeMutablePointer<S>, count: Int, parts: Int) {
            self.inputs = inputs; self.y = y; self.count = count; self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            let range = sliceRange(count, part: part, of: parts)
            // Chunks that stay in cache between the inputs, each added in Keras' order.
            var lo = range.lowerBound
            while lo < range.upperBound {
                let hi = min(range.upperBound, lo + 2048)
                let x0 = inputs[0]
                if inputs.count == 1 {
                    if UnsafePointer(y) != x0 { (y + lo).update(from: x0 + lo, count: hi - lo) }
                } else {
                    let x1 = inputs[1]
                    for i in lo..<hi { y[i] = x0[i] + x1[i] }
                    for k in 2..<max(inputs.count, 2) {
                        let xk = inputs[k]
                        for i in lo..<hi { y[i] += xk[i] }
                    }
                }
                lo = hi
            }
        }
    }

    @usableFromInline
    struct BackwardTask<S: TensorScalar>: ParallelTask {
        @usableFromInline let dy: UnsafePointer<S>
        @usableFromInline let dx: UnsafeMutablePointer<S>
        @usableFromInline let count: Int, accumulate: Bool, parts: Int

        @inlinable
        init(dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, count: Int, accumulate: Bool, parts: Int) {
            self.dy = dy; self.dx = dx; self.count = count; self.accumulate = accumulate; self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            let range = sliceRange(count, part: part, of: parts)
            if accumulate {
                for i in range { dx[i] += dy[i] }
            } else {
                (dx + range.lowerBound).update(from: dy + range.lowerBound, count: range.count)
            }
        }
    }
}

/// Concatenation along one axis, as Keras' Concatenate layer. Every row-major tensor is, around an axis k,
/// a matrix [outer, width] with outer the product of the sizes before k and width the size at k times the
/// product of those after it; concatenating along k concatenates the rows of these matrices. Along the
/// channel axis of channels-last data, outer = batch × positions and the widths are the channel counts.
public enum Concatenate {
    /// (outer, width) of `shape` around `axis` (0-based, counting the batch axis).
    public static func matrix(shape: [Int], axis: Int) -> (outer: Int, width: Int) {
        precondition(shape.indices.contains(axis), "Concatenate: axis \(axis) outside shape \(shape)")
        return (shape[..<axis].reduce(1, *), shape[axis...].reduce(1, *))
    }

    /// y[o, offsetᵢ ..< offsetᵢ + widthᵢ] = inputᵢ[o, ...] for every row o; y has Σ widths columns. `inputs`
    /// and `widths` are lists the caller plans (no allocation here).
    @inlinable
    public static func forward<S: TensorScalar>(inputs: UnsafeBufferPointer<UnsafePointer<S>>,
                                                widths: UnsafeBufferPointer<Int>, y: UnsafeMutablePointer<S>,
                                                outer: Int) {
        precondition(inputs.count == widths.count && inputs.count >= 1, "Concatenate: inputs and widths differ")
        var total = 0
        for w in widths { total += w }
        let parts = Runtime.partitions(outer * total, grain: 1 << 15, perThread: 4)
        Runtime.parallelFor(parts, ForwardTask(inputs: inputs, widths: widths, y: y, outer: outer, total: total,
                                               parts: min(parts, max(outer, 1))))
    }

    /// The gradient of one input: dx[o, ...] (+)= dy[o, offset ..< offset + width], dy having `total` columns.
    @inlinable
    public static func backward<S: TensorScalar>(dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, outer: Int,
                                                 offset: Int, width: Int, total: Int, accumulate: Bool) {
        precondition(offset >= 0 && width >= 0 && offset + width <= total, "Concatenate: columns outside dy")
        let parts = min(Runtime.partitions(outer * width, grain: 1 << 15, perThread: 4), max(outer, 1))
        Runtime.parallelFor(parts, BackwardTask(dy: dy, dx: dx, outer: outer, offset: offset, width: width,
                                                total: total, accumulate: accumulate, parts: parts))
    }

    @usableFromInline
    struct ForwardTask<S: TensorScalar>: ParallelTask {
        @usableFromInline let inputs: UnsafeBufferPointer<UnsafePointer<S>>
        @usableFromInline let widths: UnsafeBufferPointer<Int>
        @usableFromInline let y: UnsafeMutablePointer<S>
        @usableFromInline let outer: Int, total: Int, parts: Int

        @inlinable
        init(inputs: UnsafeBufferPointer<UnsafePointer<S>>, widths: UnsafeBufferPointer<Int>,
             y: UnsafeMutablePointer<S>, outer: Int, total: Int, parts: Int) {
            self.inputs = inputs; self.widths = widths; self.y = y; self.outer = outer; self.total = total
            self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            for o in sliceRange(outer, part: part, of: parts) {
                var offset = 0
                for k in 0..<inputs.count {
                    let w = widths[k]
                    (y + o * total + offset).update(from: inputs[k] + o * w, count: w)
                    offset += w
                }
            }
        }
    }

    @usableFromInline
    struct BackwardTask<S: TensorScalar>: ParallelTask {
        @usableFromInline let dy: UnsafePointer<S>
        @usableFromInline let dx: UnsafeMutablePointer<S>
        @usableFromInline let outer: Int, offset: Int, width: Int, total: Int
        @usableFromInline let accumulate: Bool, parts: Int

        @inlinable
        init(dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, outer: Int, offset: Int, width: Int, total: Int,
             accumulate: Bool, parts: Int) {
            self.dy = dy; self.dx = dx; self.outer = outer; self.offset = offset; self.width = width
            self.total = total; self.accumulate = accumulate; self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            for o in sliceRange(outer, part: part, of: parts) {
                let d = dy + o * total + offset, g = dx + o * width
                if accumulate {
                    for i in 0..<width { g[i] += d[i] }
                } else {
                    g.update(from: d, count: width)
                }
            }
        }
    }
}
