import CKernels

/// Batch normalization over the last (channel) axis of channels-last data, as Keras defines it: `rows` is
/// batch × spatial positions (batch alone for dense features), and every channel is normalised over all of them.
///
/// Statistics and coefficients are computed in double precision. The reductions cut the rows into blocks whose
/// size depends on the row count alone and add the blocks' partial sums in order, so the results are the same
/// bits for any thread count; the single-precision passes run in C (vectorised across channels, the same
/// bits as the loops here). Nothing is allocated: the caller plans `scratch` (`scratchCount` doubles) and the
/// batch `statistics` (2 × channels doubles: mean, then biased variance), which training keeps from the forward
/// pass to the backward pass. `gamma` is nil without `scale` (γ = 1), `beta` nil without `center` (β = 0).
public enum BatchNormalization {
    /// Doubles of scratch any call needs for `rows` × `channels`.
    @inlinable
    public static func scratchCount(rows: Int, channels: Int) -> Int {
        (2 * blockCount(rows) + 3) * channels
    }

    /// Rows per reduction block: at least 64 (enough work per block), at most 256 blocks (small scratch).
    @inlinable
    static func blockRows(_ rows: Int) -> Int { max(64, (rows + 255) / 256) }

    @inlinable
    static func blockCount(_ rows: Int) -> Int {
        let b = blockRows(rows)
        return (rows + b - 1) / b
    }

    // MARK: Training

    /// y = γ·(x − μ)/√(σ² + ε) + β with the batch mean μ and biased variance σ² (tf.keras and Keras 3 both
    /// normalise with the biased variance); writes μ and σ² to `statistics`. In place allowed (y == x), but the
    /// backward pass reads x.
    @inlinable
    public static func trainingForward<S: TensorScalar>(
        x: UnsafePointer<S>, y: UnsafeMutablePointer<S>, gamma: UnsafePointer<S>?, beta: UnsafePointer<S>?,
        statistics: UnsafeMutablePointer<Double>, rows: Int, channels c: Int, epsilon: Double,
        scratch: UnsafeMutablePointer<Double>
    ) {
        precondition(rows > 0 && c > 0, "BatchNormalization: empty input")
        let blocks = blockCount(rows)
        runBlocks(Task(pass: .moments, x: x, dy: nil, out: nil, rows: rows, channels: c, coefficients: nil,
                       center: nil, partials: scratch, parts: 0))
        let mean = statistics, variance = statistics + c
        mean.update(repeating: 0, count: c)
        variance.update(repeating: 0, count: c)
        let br = blockRows(rows)
        for b in 0..<blocks {
            let sums = scratch + 2 * b * c
            for ch in 0..<c { mean[ch] += sums[ch] }
        }
        for ch in 0..<c { mean[ch] /= Double(rows) }
        // Chan et al.'s pairwise update: the blocks' squared deviations about their own means, plus each block's
        // size times its mean's squared distance from the overall mean.
        for b in 0..<blocks {
            let n = Double(min(br, rows - b * br)), sums = scratch + 2 * b * c, m2 = sums + c
            for ch in 0..<c {
                let d = sums[ch] / n - mean[ch]
                variance[ch] += m2[ch] + n * d * d
            }
        }
        for ch in 0..<c { variance[ch] /= Double(rows) }
        affineForward(x: x, y: y, gamma: gamma, beta: beta, mean: UnsafePointer(mean),
                      variance: UnsafePointer(variance), rows: rows, channels: c, epsilon: epsilon,
                      coefficients: scratch + 2 * blocks * c)
    }

    /// moving ← moving·momentum + batch·(1 − momentum), for the mean and the variance. Keras 3 and tf.keras's
    /// unfused layer (dense and rank-1 inputs) feed the biased batch variance; tf.keras's fused layer (rank-2
    /// and rank-3 inputs, the default there) feeds the unbiased one, σ²·n/(n − 1): `unbiasedVariance` picks it.
    @inlinable
    public static func updateMovingStatistics<S: TensorScalar>(
        statistics: UnsafePointer<Double>, movingMean: UnsafeMutablePointer<S>,
        movingVariance: UnsafeMutablePointer<S>, rows: Int, channels c: Int, momentum: Double,
        unbiasedVariance: Bool
    ) {
        let correction = unbiasedVariance && rows > 1 ? Double(rows) / Double(rows - 1) : 1
        for ch in 0..<c {
            movingMean[ch] = S(Double(movingMean[ch]) * momentum + statistics[ch] * (1 - momentum))
            movingVariance[ch] = S(Double(movingVariance[ch]) * momentum
                                   + statistics[c + ch] * correction * (1 - momentum))
        }
    }

    /// The gradients of training mode, through the batch statistics:
    /// dx = γ/√(σ² + ε) · (dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy, with x̂ = (x − μ)/√(σ² + ε).
    /// `statistics` are the forward pass's. dx is overwritten unless `accumulate`; dγ and dβ (nil to skip) are
    /// overwritten unless `accumulateParameters`. In place allowed (dx == dy, when not accumulating).
    @inlinable
    public static func trainingBackward<S: TensorScalar>(
        x: UnsafePointer<S>, dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, gamma: UnsafePointer<S>?,
        statistics: UnsafePointer<Double>, dgamma: UnsafeMutablePointer<S>?, dbeta: UnsafeMutablePointer<S>?,
        rows: Int, channels c: Int, epsilon: Double, accumulate: Bool, accumulateParameters: Bool,
        scratch: UnsafeMutablePointer<Double>
    ) {
        precondition(rows > 0 && c > 0, "BatchNormalization: empty input")
        let blocks = blockCount(rows)
        let sumDy = scratch + 2 * blocks * c, sumDyX = sumDy + c
        gradientSums(x: x, dy: dy, center: statistics, rows: rows, channels: c, scratch: scratch)
        storeParameterGradients(sumDy: sumDy, sumDyX: sumDyX, variance: statistics + c, dgamma: dgamma, dbeta: dbeta,
                                channels: c, epsilon: epsilon, accumulate: accumulateParameters)
        // dx = a·dy + k·x + b per channel: the mean terms folded into k and b (in place of sumDy, sumDyX).
        let a = sumDyX + c, k = sumDy, b = sumDyX, n = Double(rows)
        for ch in 0..<c {
            let inv = 1 / (statistics[c + ch] + epsilon).squareRoot()
            let g = gamma.map { Double($0[ch]) } ?? 1
            let ach = g * inv, kch = -ach * inv * inv * sumDyX[ch] / n
            let bch = -ach * sumDy[ch] / n - kch * statistics[ch]
            a[ch] = ach; k[ch] = kch; b[ch] = bch
        }
        runRows(Task(pass: accumulate ? .backwardAccumulate : .backward, x: x, dy: dy, out: dx, rows: rows,
                     channels: c, coefficients: a, center: nil, partials: nil, parts: 0))
    }

    // MARK: Inference

    /// y = γ·(x − moving mean)/√(moving variance + ε) + β. In place allowed (y == x).
    @inlinable
    public static func inferenceForward<S: TensorScalar>(
        x: UnsafePointer<S>, y: UnsafeMutablePointer<S>, gamma: UnsafePointer<S>?, beta: UnsafePointer<S>?,
        movingMean: UnsafePointer<S>, movingVariance: UnsafePointer<S>, rows: Int, channels c: Int,
        epsilon: Double, scratch: UnsafeMutablePointer<Double>
    ) {
        precondition(rows > 0 && c > 0, "BatchNormalization: empty input")
        let blocks = blockCount(rows)
        // The moving statistics as doubles after the partial sums' slots; the coefficients in the first block's.
        let stats = scratch + 2 * blocks * c
        for ch in 0..<c { stats[ch] = Double(movingMean[ch]); stats[c + ch] = Double(movingVariance[ch]) }
        affineForward(x: x, y: y, gamma: gamma, beta: beta, mean: UnsafePointer(stats),
                      variance: UnsafePointer(stats + c), rows: rows, channels: c, epsilon: epsilon,
                      coefficients: scratch)
    }

    /// The gradients of inference mode, where the statistics are constants: dx = γ/√(v + ε)·dy,
    /// dγ = Σ dy·(x − m)/√(v + ε), dβ = Σ dy. Flags and in-place use as in `trainingBackward`.
    @inlinable
    public static func inferenceBackward<S: TensorScalar>(
        x: UnsafePointer<S>, dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, gamma: UnsafePointer<S>?,
        movingMean: UnsafePointer<S>, movingVariance: UnsafePointer<S>, dgamma: UnsafeMutablePointer<S>?,
        dbeta: UnsafeMutablePointer<S>?, rows: Int, channels c: Int, epsilon: Double, accumulate: Bool,
        accumulateParameters: Bool, scratch: UnsafeMutablePointer<Double>
    ) {
        precondition(rows > 0 && c > 0, "BatchNormalization: empty input")
        let blocks = blockCount(rows)
        let sumDy = scratch + 2 * blocks * c, sumDyX = sumDy + c, a = sumDyX + c
        // The moving mean, then variance, as doubles in the slot of `a`, which the sums leave alone.
        if dgamma != nil || dbeta != nil {
            let stats = a
            for ch in 0..<c { stats[ch] = Double(movingMean[ch]) }
            gradientSums(x: x, dy: dy, center: UnsafePointer(stats), rows: rows, channels: c, scratch: scratch)
            for ch in 0..<c { a[ch] = Double(movingVariance[ch]) }
            storeParameterGradients(sumDy: sumDy, sumDyX: sumDyX, variance: UnsafePointer(a), dgamma: dgamma,
                                    dbeta: dbeta, channels: c, epsilon: epsilon, accumulate: accumulateParameters)
        }
        // dx = a·dy + 0·x + 0: the training pass's loop with k = b = 0.
        sumDy.update(repeating: 0, count: 2 * c)
        for ch in 0..<c {
            let g = gamma.map { Double($0[ch]) } ?? 1
            a[ch] = g / (Double(movingVariance[ch]) + epsilon).squareRoot()
        }
        runRows(Task(pass: accumulate ? .backwardAccumulate : .backward, x: x, dy: dy, out: dx, rows: rows,
                     channels: c, coefficients: a, center: nil, partials: nil, parts: 0))
    }

    // MARK: Shared steps

    /// y = a·x + b with a = γ/√(v + ε) and b = β − m·a per channel (tf.nn.batch_normalization's form).
    /// `coefficients` holds 2 × channels doubles and may overlap neither mean nor variance.
    @inlinable
    static func affineForward<S: TensorScalar>(
        x: UnsafePointer<S>, y: UnsafeMutablePointer<S>, gamma: UnsafePointer<S>?, beta: UnsafePointer<S>?,
        mean: UnsafePointer<Double>, variance: UnsafePointer<Double>, rows: Int, channels c: Int, epsilon: Double,
        coefficients: UnsafeMutablePointer<Double>
    ) {
        let a = coefficients, b = coefficients + c
        for ch in 0..<c {
            let g = gamma.map { Double($0[ch]) } ?? 1, beta = beta.map { Double($0[ch]) } ?? 0
            a[ch] = g / (variance[ch] + epsilon).squareRoot()
            b[ch] = beta - mean[ch] * a[ch]
        }
        runRows(Task(pass: .affine, x: x, dy: nil, out: y, rows: rows, channels: c, coefficients: a, center: nil,
                     partials: nil, parts: 0))
    }

    /// Σ dy and Σ dy·(x − center) per channel, into the 2 × channels doubles after the blocks' partial sums.
    @inlinable
    static func gradientSums<S: TensorScalar>(x: UnsafePointer<S>, dy: UnsafePointer<S>,
                                              center: UnsafePointer<Double>, rows: Int, channels c: Int,
                                              scratch: UnsafeMutablePointer<Double>) {
        let blocks = blockCount(rows)
        runBlocks(Task(pass: .gradientSums, x: x, dy: dy, out: nil, rows: rows, channels: c, coefficients: nil,
                       center: center, partials: scratch, parts: 0))
        let sumDy = scratch + 2 * blocks * c, sumDyX = sumDy + c
        sumDy.update(repeating: 0, count: 2 * c)
        for b in 0..<blocks {
            let p = scratch + 2 * b * c
            for ch in 0..<c { sumDy[ch] += p[ch]; sumDyX[ch] += p[c + ch] }
        }
    }

    @inlinable
    static func storeParameterGradients<S: TensorScalar>(
        sumDy: UnsafePointer<Double>, sumDyX: UnsafePointer<Double>, variance: UnsafePointer<Double>,
        dgamma: UnsafeMutablePointer<S>?, dbeta: UnsafeMutablePointer<S>?, channels c: Int, epsilon: Double,
        accumulate: Bool
    ) {
        for ch in 0..<c {
            if let dgamma {
                let v = sumDyX[ch] / (variance[ch] + epsilon).squareRoot()
                dgamma[ch] = accumulate ? S(Double(dgamma[ch]) + v) : S(v)
            }
            if let dbeta { dbeta[ch] = accumulate ? S(Double(dbeta[ch]) + sumDy[ch]) : S(sumDy[ch]) }
        }
    }

    // MARK: Parallel passes

    @inlinable
    static func runBlocks<S: TensorScalar>(_ task: Task<S>) {
        var t = task
        t.parts = Runtime.partitions(blockCount(task.rows), perThread: 4)
        Runtime.parallelFor(t.parts, t)
    }

    @inlinable
    static func runRows<S: TensorScalar>(_ task: Task<S>) {
        var t = task
        t.parts = Runtime.partitions(task.rows * task.channels, grain: 1 << 14, perThread: 4)
        Runtime.parallelFor(t.parts, t)
    }

    @usableFromInline
    enum Pass {
        /// Per block: Σ x, then Σ (x − block mean)².
        case moments
        /// Per block: Σ dy, Σ dy·(x − center).
        case gradientSums
        /// out = a·x + b.
        case affine
        /// out (+)= a·dy + k·x + b, with coefficients a, k, b at a, a − 2c, a − c.
        case backward, backwardAccumulate
    }

    /// One pass over the `part`-th slice: of the blocks for the reductions (each block's sums land in its own
    /// slot), of the rows for the elementwise passes.
    @usableFromInline
    struct Task<S: TensorScalar>: ParallelTask {
        @usableFromInline let pass: Pass
        @usableFromInline let x: UnsafePointer<S>, dy: UnsafePointer<S>?
        @usableFromInline let out: UnsafeMutablePointer<S>?
        @usableFromInline let rows: Int, channels: Int
        @usableFromInline let coefficients: UnsafeMutablePointer<Double>?
        @usableFromInline let center: UnsafePointer<Double>?
        @usableFromInline let partials: UnsafeMutablePointer<Double>?
        @usableFromInline var parts: Int

        @inlinable
        init(pass: Pass, x: UnsafePointer<S>, dy: UnsafePointer<S>?, out: UnsafeMutablePointer<S>?, rows: Int,
             channels: Int, coefficients: UnsafeMutablePointer<Double>?, center: UnsafePointer<Double>?,
             partials: UnsafeMutablePointer<Double>?, parts: Int) {
            self.pass = pass; self.x = x; self.dy = dy; self.out = out; self.rows = rows; self.channels = channels
            self.coefficients = coefficients; self.center = center; self.partials = partials; self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            let c = channels
            switch pass {
            case .moments, .gradientSums:
                let br = BatchNormalization.blockRows(rows)
                for b in sliceRange(BatchNormalization.blockCount(rows), part: part, of: parts) {
                    let r0 = b * br, r1 = min(rows, r0 + br)
                    let first = partials! + 2 * b * c, second = first + c
                    first.update(repeating: 0, count: 2 * c)
                    if S.self == Float.self {
                        if pass == .moments {
                            bn_batchnorm_moments_f32(x.cast(Float.self), r0, r1, c, first, second)
                        } else {
                            bn_batchnorm_sums_f32(x.cast(Float.self), dy!.cast(Float.self), center!, r0, r1, c, first,
                                                  second)
                        }
                    } else if pass == .moments {
                        moments(r0, r1, first, second)
                    } else {
                        sums(r0, r1, first, second)
                    }
                }
            case .affine:
                let a = coefficients!, b = a + c, y = out!
                // Whole rows only, so the channel index is the column.
                let span = rowsCovering(sliceRange(rows * c, part: part, of: parts))
                if S.self == Float.self {
                    bn_batchnorm_affine_f32(x.cast(Float.self), y.cast(Float.self), a, b, span.lowerBound,
                                            span.upperBound, c)
                    return
                }
                for r in span {
                    let xr = x + r * c, yr = y + r * c
                    for ch in 0..<c { yr[ch] = S(Double(xr[ch]) * a[ch] + b[ch]) }
                }
            case .backward, .backwardAccumulate:
                let a = coefficients!, k = a - 2 * c, b = a - c, dx = out!, d = dy!
                let span = rowsCovering(sliceRange(rows * c, part: part, of: parts))
                if S.self == Float.self {
                    bn_batchnorm_backward_f32(x.cast(Float.self), d.cast(Float.self), dx.cast(Float.self), a, k, b,
                                              span.lowerBound, span.upperBound, c, pass == .backward ? 0 : 1)
                    return
                }
                for r in span {
                    let xr = x + r * c, dr = d + r * c, outr = dx + r * c
                    if pass == .backward {
                        for ch in 0..<c { outr[ch] = S(a[ch] * Double(dr[ch]) + k[ch] * Double(xr[ch]) + b[ch]) }
                    } else {
                        for ch in 0..<c {
                            outr[ch] = S(Double(outr[ch]) + (a[ch] * Double(dr[ch]) + k[ch] * Double(xr[ch]) + b[ch]))
                        }
                    }
                }
            }
        }

        /// The rows whose first element falls in `elements`: the slices of rows × channels cut at row starts.
        @inlinable
        func rowsCovering(_ elements: Range<Int>) -> Range<Int> {
            let c = channels
            return (elements.lowerBound + c - 1) / c ..< (elements.upperBound + c - 1) / c
        }

        /// Four rows a step, added pairwise (four sums in flight per channel), then the remaining rows; the C
        /// passes add in the same order.
        @inlinable
        func moments(_ r0: Int, _ r1: Int, _ sum: UnsafeMutablePointer<Double>, _ m2: UnsafeMutablePointer<Double>) {
            let c = channels
            var r = r0
            while r + 4 <= r1 {
                let x0 = x + r * c, x1 = x0 + c, x2 = x1 + c, x3 = x2 + c
                for ch in 0..<c { sum[ch] += (Double(x0[ch]) + Double(x1[ch])) + (Double(x2[ch]) + Double(x3[ch])) }
                r += 4
            }
            while r < r1 {
                let xr = x + r * c
                for ch in 0..<c { sum[ch] += Double(xr[ch]) }
                r += 1
            }
            // The block is still in cache: its squared deviations about its own mean, exactly as a second pass.
            let inv = 1 / Double(r1 - r0)
            r = r0
            while r + 4 <= r1 {
                let x0 = x + r * c, x1 = x0 + c, x2 = x1 + c, x3 = x2 + c
                for ch in 0..<c {
                    let m = sum[ch] * inv
                    let d0 = Double(x0[ch]) - m, d1 = Double(x1[ch]) - m
                    let d2 = Double(x2[ch]) - m, d3 = Double(x3[ch]) - m
                    m2[ch] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)
                }
                r += 4
            }
            while r < r1 {
                let xr = x + r * c
                for ch in 0..<c {
                    let d = Double(xr[ch]) - sum[ch] * inv
                    m2[ch] += d * d
                }
                r += 1
            }
        }

        @inlinable
        func sums(_ r0: Int, _ r1: Int, _ sumDy: UnsafeMutablePointer<Double>, _ sumDyX: UnsafeMutablePointer<Double>) {
            let c = channels, center = self.center!, d = dy!
            var r = r0
            while r + 4 <= r1 {
                let x0 = x + r * c, x1 = x0 + c, x2 = x1 + c, x3 = x2 + c
                let g0 = d + r * c, g1 = g0 + c, g2 = g1 + c, g3 = g2 + c
                for ch in 0..<c {
                    let m = center[ch]
                    let a0 = Double(g0[ch]), a1 = Double(g1[ch]), a2 = Double(g2[ch]), a3 = Double(g3[ch])
                    sumDy[ch] += (a0 + a1) + (a2 + a3)
                    let p01 = a0 * (Double(x0[ch]) - m) + a1 * (Double(x1[ch]) - m)
                    let p23 = a2 * (Double(x2[ch]) - m) + a3 * (Double(x3[ch]) - m)
                    sumDyX[ch] += p01 + p23
                }
                r += 4
            }
            while r < r1 {
                let xr = x + r * c, dr = d + r * c
                for ch in 0..<c {
                    let g = Double(dr[ch])
                    sumDy[ch] += g
                    sumDyX[ch] += g * (Double(xr[ch]) - center[ch])
                }
                r += 1
            }
        }
    }
}
