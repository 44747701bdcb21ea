import CKernels

/// A Flipout convolution with signs per (example, channel), run as one convolution per example.
///
/// `conv(x, μ) + s_out ⊙ conv(s_in ⊙ x, ΔW)` equals `conv(x, W_b)` with the per-example kernel
/// `W_b = μ + (s_in ⊗ s_out) ⊙ ΔW`: the signs only flip rows (input channels) and columns (output channels)
/// of ΔW. Forming W_b costs one pass over the kernel per example, against the positions × kernel
/// multiply-adds of the product itself, so the layer does the work of one convolution instead of two, and
/// packs each input patch once. The backward pass likewise: dx = convᵀ(dy, W_b), and with the per-example
/// kernel gradient G_b = patchesᵀ · dy_b, dμ = Σ_b G_b and dΔW = Σ_b (s_in ⊗ s_out) ⊙ G_b.
///
/// Sums are reassociated against the two-convolution form (μ and ±ΔW are added before the product, not
/// after), so results agree with it to rounding. Every sum runs in a fixed order, independent of the thread
/// count.
public enum FlipoutConvolution {
    /// Whether the fused path has kernels for this scalar type.
    public static func supports<S: TensorScalar>(_: S.Type) -> Bool {
        S.self == Float.self || S.self == Double.self
    }

    /// Whether one product per example beats two over the batch for this geometry. Per example the fused
    /// form forms W_b (and, training, its flipped transpose and the gradient's sums into dμ and dΔW): a few
    /// passes over the kernel, against the positions × kernel multiply-adds it saves in each product. Both
    /// scale with the kernel, so the choice comes down to the number of output positions. With the padded-plane
    /// kernels (Float, AVX-512), forward and kernel gradient alike, 4 positions ran 1.2 to 1.3 times slower
    /// fused and 9 positions 0.8 to 0.9 times the two products' time (5x5x16 → 120 at batch 128, 3x3x64 → 64
    /// at batch 32); with the packed GEMM, fusing a 4-position layer made a digits training step 20% slower and
    /// a 16-position one 5% faster.
    public static func pays<S: TensorScalar>(_ g: ConvGeometry, _: S.Type) -> Bool {
        let planes = S.self == Float.self && bn_plane_conv_available() != 0
        return g.outputPositions >= (planes ? 8 : 16)
    }

    /// Scratch for one layer, sized when the plan is built: per-example kernels and kernel gradients.
    public final class Workspace<S: TensorScalar> {
        public let geometry: ConvGeometry
        /// Per-example kernel buffers that may be in use at once (the kernel gradient's rounds).
        let slots: Int
        /// Tasks of the forward and input-gradient passes: a few per thread, each with its own buffers.
        let tasks: Int
        /// slots × kernelCount: W_b (forward), its flipped transpose (input gradient), or G_b.
        let kernels: UnsafeMutablePointer<S>
        /// slots × scatterRows × patchSize: im2col-shaped rows of the scattered input gradient.
        let columns: UnsafeMutablePointer<S>
        /// μ and ΔW flipped in space with in and out swapped, once per backward pass (2 × kernelCount).
        let transposed: UnsafeMutablePointer<S>
        static var scatterRows: Int { 128 }

        public init(geometry: ConvGeometry, maxBatch: Int) {
            self.geometry = geometry
            let perKernel = max(1, geometry.kernelCount)
            // Enough slots that every thread has several examples in flight, and more while they stay small,
            // so the kernel-gradient reduction takes few rounds.
            let threads = max(1, Runtime.threadCount)
            tasks = max(1, min(max(1, maxBatch), 2 * threads))
            slots = max(tasks, min(max(1, maxBatch), (1 << 20) / perKernel))
            kernels = .allocate(capacity: slots * perKernel)
            kernels.initialize(repeating: 0, count: slots * perKernel)
            let columnCount = tasks * Self.scatterRows * max(1, geometry.patchSize)
            columns = .allocate(capacity: columnCount)
            columns.initialize(repeating: 0, count: columnCount)
            transposed = .allocate(capacity: 2 * perKernel)
            transposed.initialize(repeating: 0, count: 2 * perKernel)
        }

        deinit {
            kernels.deallocate()
            columns.deallocate()
            transposed.deallocate()
        }
    }

    /// y = conv(x, μ) + s_out ⊙ conv(s_in ⊙ x, ΔW) + bias. Signs: [batch, inChannels] and [batch, outChannels].
    public static func forward<S: TensorScalar>(x: UnsafePointer<S>, mean: UnsafePointer<S>, delta: UnsafePointer<S>,
                                                bias: UnsafePointer<S>?, signIn: UnsafePointer<S>,
                                                signOut: UnsafePointer<S>, y: UnsafeMutablePointer<S>, batch: Int,
                                                workspace: Workspace<S>) {
        if batch <= 0 || workspace.geometry.outputPositions == 0 { return }
        if S.self == Float.self {
            FlipoutFast.forward(x: x.cast(Float.self), mean: mean.cast(Float.self), delta: delta.cast(Float.self),
                                bias: bias?.cast(Float.self), signIn: signIn.cast(Float.self),
                                signOut: signOut.cast(Float.self), y: y.cast(Float.self), batch: batch,
                                ws: unsafeDowncast(workspace, to: Workspace<Float>.self))
        } else if S.self == Double.self {
            FlipoutFast.forward(x: x.cast(Double.self), mean: mean.cast(Double.self), delta: delta.cast(Double.self),
                                bias: bias?.cast(Double.self), signIn: signIn.cast(Double.self),
                                signOut: signOut.cast(Double.self), y: y.cast(Double.self), batch: batch,
                                ws: unsafeDowncast(workspace, to: Workspace<Double>.self))
        } else {
            preconditionFailure("FlipoutConvolution: no kernels for \(S.self); check supports(_:) first")
        }
    }

    /// dx = d(sum(y * dy))/dx (overwritten).
    public static func backwardInput<S: TensorScalar>(dy: UnsafePointer<S>, mean: UnsafePointer<S>,
                                                      delta: UnsafePointer<S>, signIn: UnsafePointer<S>,
                                                      signOut: UnsafePointer<S>, dx: UnsafeMutablePointer<S>,
                                                      batch: Int, workspace: Workspace<S>) {
        if batch <= 0 { return }
        if S.self == Float.self {
            FlipoutFast.backwardInput(dy: dy.cast(Float.self), mean: mean.cast(Float.self),
                                      delta: delta.cast(Float.self), signIn: signIn.cast(Float.self),
                                      signOut: signOut.cast(Float.self), dx: dx.cast(Float.self), batch: batch,
                                      ws: unsafeDowncast(workspace, to: Workspace<Float>.self))
        } else if S.self == Double.self {
            FlipoutFast.backwardInput(dy: dy.cast(Double.self), mean: mean.cast(Double.self),
                                      delta: delta.cast(Double.self), signIn: signIn.cast(Double.self),
                                      signOut: signOut.cast(Double.self), dx: dx.cast(Double.self), batch: batch,
                                      ws: unsafeDowncast(workspace, to: Workspace<Double>.self))
        } else {
            preconditionFailure("FlipoutConvolution: no kernels for \(S.self); check supports(_:) first")
        }
    }

    /// dMean += d/dμ and dDelta = d/dΔW (overwritten) of sum(y * dy).
    public static func backwardKernel<S: TensorScalar>(x: UnsafePointer<S>, dy: UnsafePointer<S>,
                                                       signIn: UnsafePointer<S>, signOut: UnsafePointer<S>,
                                                       dMean: UnsafeMutablePointer<S>,
                                                       dDelta: UnsafeMutablePointer<S>, batch: Int,
                                                       workspace: Workspace<S>) {
        if S.self == Float.self {
            FlipoutFast.backwardKernel(x: x.cast(Float.self), dy: dy.cast(Float.self), signIn: signIn.cast(Float.self),
                                       signOut: signOut.cast(Float.self), dMean: dMean.cast(Float.self),
                                       dDelta: dDelta.cast(Float.self), batch: batch,
                                       ws: unsafeDowncast(workspace, to: Workspace<Float>.self))
        } else if S.self == Double.self {
            FlipoutFast.backwardKernel(x: x.cast(Double.self), dy: dy.cast(Double.self),
                                       signIn: signIn.cast(Double.self), signOut: signOut.cast(Double.self),
                                       dMean: dMean.cast(Double.self), dDelta: dDelta.cast(Double.self),
                                       batch: batch, ws: unsafeDowncast(workspace, to: Workspace<Double>.self))
        } else {
            preconditionFailure("FlipoutConvolution: no kernels for \(S.self); check supports(_:) first")
        }
    }
}

enum FlipoutFast {
    /// W_b[t, i, o] = μ + (s_in[i] · s_out[o]) · ΔW; the sign product is exact, so W_b is rounded once.
    @inline(__always)
    static func exampleKernel<S: FastScalar>(mean: UnsafePointer<S>, delta: UnsafePointer<S>, sIn: UnsafePointer<S>,
                                             sOut: UnsafePointer<S>, taps: Int, cin: Int, cout: Int,
                                             into w: UnsafeMutablePointer<S>) {
        if S.self == Float.self {
            bn_flipout_kernel_f32(mean.cast(Float.self), delta.cast(Float.self), sIn.cast(Float.self), cin,
                                  sOut.cast(Float.self), taps * cin, cout, w.cast(Float.self))
            return
        }
        var j = 0
        for _ in 0..<taps {
            for i in 0..<cin {
                let si = sIn[i]
                for o in 0..<cout { w[j + o] = mean[j + o] + (si * sOut[o]) * delta[j + o] }
                j += cout
            }
        }
    }

    /// The flipped transpose of a kernel, F[t', o, i] = K[taps-1-t', i, o]: the kernel of the input gradient
    /// written as a convolution of dy.
    static func flipTranspose<S: FastScalar>(_ k: UnsafePointer<S>, taps: Int, cin: Int, cout: Int,
                                             into f: UnsafeMutablePointer<S>) {
        for t in 0..<taps {
            let src = k + (taps - 1 - t) * cin * cout, dst = f + t * cout * cin
            for i in 0..<cin {
                for o in 0..<cout { dst[o * cin + i] = src[i * cout + o] }
            }
        }
    }

    /// The flipped transpose of W_b from those of μ and ΔW, with contiguous reads and writes:
    /// F_b[t', o, i] = μᵀ + (s_out[o] · s_in[i]) · ΔWᵀ, the same sums as W_b's.
    @inline(__always)
    static func flippedExampleKernel<S: FastScalar>(meanT: UnsafePointer<S>, deltaT: UnsafePointer<S>,
                                                    sIn: UnsafePointer<S>, sOut: UnsafePointer<S>, taps: Int,
                                                    cin: Int, cout: Int, into f: UnsafeMutablePointer<S>) {
        if S.self == Float.self {
            bn_flipout_kernel_f32(meanT.cast(Float.self), deltaT.cast(Float.self), sOut.cast(Float.self), cout,
                                  sIn.cast(Float.self), taps * cout, cin, f.cast(Float.self))
            return
        }
        var j = 0
        for _ in 0..<taps {
            for o in 0..<cout {
                let so = sOut[o]
                for i in 0..<cin { f[j + i] = meanT[j + i] + (sIn[i] * so) * deltaT[j + i] }
                j += cin
            }
        }
    }

    /// dμ += G_b and dΔW += (s_in ⊗ s_out) ⊙ G_b over kernel rows `rows` (tap, input channel).
    @inline(__always)
    static func accumulate<S: FastScalar>(_ g: UnsafePointer<S>, sIn: UnsafePointer<S>, cin: Int,
                                          sOut: UnsafePointer<S>, cols n: Int, rows: Range<Int>,
                                          dMean: UnsafeMutablePointer<S>, dDelta: UnsafeMutablePointer<S>) {
        if S.self == Float.self {
            bn_flipout_accumulate_f32(g.cast(Float.self), sIn.cast(Float.self), cin, sOut.cast(Float.self), n,
                                      rows.lowerBound, rows.upperBound, dMean.cast(Float.self),
                                      dDelta.cast(Float.self))
            return
        }
        for row in rows {
            let si = sIn[row % cin]
            let gr = g + row * n, dm = dMean + row * n, dd = dDelta + row * n
            for o in 0..<n {
                dm[o] += gr[o]
                dd[o] += (si * sOut[o]) * gr[o]
            }
        }
    }

    /// Rows [m0, m1) of y = im2col(x) · w (+ bias): read from padded planes where that kernel applies (Float,
    /// AVX-512), else packed for the GEMM; the same bits either way.
    @inline(__always)
    static func product<S: FastScalar>(_ x: UnsafePointer<S>, geom: UnsafePointer<bn_conv_geom>, m0: Int, m1: Int,
                                       n: Int, k: Int, w: UnsafePointer<S>, bias: UnsafePointer<S>?,
                                       y: UnsafeMutablePointer<S>) {
        if S.self == Float.self, bn_conv_plane_forward(geom, x.cast(Float.self), m0, m1, n, w.cast(Float.self), n,
                                                       bias?.cast(Float.self), y.cast(Float.self), n) != 0 {
            return
        }
        if let bias { for r in m0..<m1 { (y + r * n).update(from: bias, count: n) } }
        S.gemmRows(kind: Int32(BN_A_IM2COL), transA: false, a: x, lda: 0, geom: geom, row0: 0, m0: m0, m1: m1,
                   n: n, k: k, alpha: 1, b: w, ldb: n, transB: false, beta: bias == nil ? 0 : 1, c: y, ldc: n)
    }

    static func forward<S: FastScalar>(x: UnsafePointer<S>, mean: UnsafePointer<S>, delta: UnsafePointer<S>,
                                       bias: UnsafePointer<S>?, signIn: UnsafePointer<S>, signOut: UnsafePointer<S>,
                                       y: UnsafeMutablePointer<S>, batch: Int, ws: FlipoutConvolution.Workspace<S>) {
        let g = ws.geometry, sizes = ConvSizes(g)
        let positions = g.outputPositions, n = g.outChannels, cin = g.inChannels
        var geom = ConvFast.cGeometry(g)
        withUnsafePointer(to: &geom) { gp in
            // One example per task while there are enough examples for every thread; else rows of one example.
            let parts = min(ws.tasks, batch)
            if parts >= Runtime.threadCount || positions < 2 * FastGemm.minRowsPerTask {
                Runtime.parallelFor(parts, ExamplesForwardTask(x: x, mean: mean, delta: delta, bias: bias,
                                                               signIn: signIn, signOut: signOut, y: y, batch: batch,
                                                               g: sizes, geom: gp, kernels: ws.kernels, parts: parts))
                return
            }
            let w = ws.kernels
            let tasks = FastGemm.rowTasks(positions)
            for b in 0..<batch {
                exampleKernel(mean: mean, delta: delta, sIn: signIn + b * cin, sOut: signOut + b * n, taps: g.taps,
                              cin: cin, cout: n, into: w)
                Runtime.parallelFor(tasks, RowsForwardTask(x: x, kernel: w, bias: bias, y: y, example: b, g: sizes,
                                                           geom: gp, parts: tasks))
            }
        }
    }

    /// The forward pass of the `part`-th slice of the batch, example by example, with the task's own W_b buffer.
    struct ExamplesForwardTask<S: FastScalar>: ParallelTask {
        let x: UnsafePointer<S>, mean: UnsafePointer<S>, delta: UnsafePointer<S>, bias: UnsafePointer<S>?
        let signIn: UnsafePointer<S>, signOut: UnsafePointer<S>, y: UnsafeMutablePointer<S>
        let batch: Int, g: ConvSizes, geom: UnsafePointer<bn_conv_geom>
        /// One kernel buffer per part.
        let kernels: UnsafeMutablePointer<S>
        let parts: Int

        func run(_ part: Int) {
            let positions = g.outputPositions, kk = g.patchSize, n = g.outChannels, cin = g.inChannels
            let w = kernels + part * g.kernelCount
            for b in sliceRange(batch, part: part, of: parts) {
                exampleKernel(mean: mean, delta: delta, sIn: signIn + b * cin, sOut: signOut + b * n,
                              taps: g.taps, cin: cin, cout: n, into: w)
                product(x, geom: geom, m0: b * positions, m1: (b + 1) * positions, n: n, k: kk, w: w, bias: bias,
                        y: y)
            }
        }
    }

    /// The forward pass of the `part`-th slice of one example's output positions, with its kernel W_b given.
    struct RowsForwardTask<S: FastScalar>: ParallelTask {
        let x: UnsafePointer<S>, kernel: UnsafePointer<S>, bias: UnsafePointer<S>?, y: UnsafeMutablePointer<S>
        let example: Int, g: ConvSizes, geom: UnsafePointer<bn_conv_geom>, parts: Int

        func run(_ part: Int) {
            let positions = g.outputPositions, kk = g.patchSize, n = g.outChannels
            let rows = sliceRange(positions, part: part, of: parts)
            product(x, geom: geom, m0: example * positions + rows.lowerBound,
                    m1: example * positions + rows.upperBound, n: n, k: kk, w: kernel, bias: bias, y: y)
        }
    }

    static func backwardInput<S: FastScalar>(dy: UnsafePointer<S>, mean: UnsafePointer<S>, delta: UnsafePointer<S>,
                                             signIn: UnsafePointer<S>, signOut: UnsafePointer<S>,
                                             dx: UnsafeMutablePointer<S>, batch: Int,
                                             ws: FlipoutConvolution.Workspace<S>) {
        let g = ws.geometry, sizes = ConvSizes(g)
        let cin = g.inChannels, cout = g.outChannels, taps = g.taps, kc = g.kernelCount
        let parts = min(ws.tasks, batch)
        // With few input channels the convolution form's product has few columns, which the packed GEMM's
        // 12 x 16 tiles mostly waste; the plane kernels mask the vector instead, and beat the scatter form
        // there too (w1's 14x14x6 layer: 0.75 of its time).
        let planes = S.self == Float.self && bn_plane_conv_available() != 0
        if g.stride3.allSatisfy({ $0 == 1 }) && (cin >= 8 || planes) {
            // Unit strides: the input gradient is a convolution of dy with the flipped, transposed kernel,
            // padded by (k-1)·d - padBefore.
            func t(_ a: [Int]) -> (Int, Int, Int) { (a[0], a[1], a[2]) }
            func pad(_ d: Int) -> Int { (g.filter3[d] - 1) * g.dilation3[d] - g.pad3[d] }
            var geom = bn_conv_geom(in: t(g.out3), out: t(g.in3), filter: t(g.filter3), stride: (1, 1, 1),
                                    dilation: t(g.dilation3), pad: (pad(0), pad(1), pad(2)), inChannels: cout)
            let meanT = ws.transposed, deltaT = ws.transposed + kc
            flipTranspose(mean, taps: taps, cin: cin, cout: cout, into: meanT)
            flipTranspose(delta, taps: taps, cin: cin, cout: cout, into: deltaT)
            withUnsafePointer(to: &geom) { gp in
                Runtime.parallelFor(parts, FlippedInputTask(dy: dy, meanT: meanT, deltaT: deltaT, signIn: signIn,
                                                            signOut: signOut, dx: dx, batch: batch, g: sizes, geom: gp,
                                                            kernels: ws.kernels, parts: parts))
            }
            return
        }
        // Any strides: dy_b · W_bᵀ gives im2col-shaped rows, added back where they came from.
        var geom = ConvFast.cGeometry(g)
        withUnsafePointer(to: &geom) { gp in
            Runtime.parallelFor(parts, ScatteredInputTask(dy: dy, mean: mean, delta: delta, signIn: signIn,
                                                          signOut: signOut, dx: dx, batch: batch, g: sizes, geom: gp,
                                                          kernels: ws.kernels, columns: ws.columns, parts: parts))
        }
    }

    /// The input gradient of the `part`-th slice of the batch as a convolution of dy with each example's
    /// flipped, transposed kernel F_b (in the task's own buffer); `geom` is that convolution's geometry.
    struct FlippedInputTask<S: FastScalar>: ParallelTask {
        let dy: UnsafePointer<S>, meanT: UnsafePointer<S>, deltaT: UnsafePointer<S>
        let signIn: UnsafePointer<S>, signOut: UnsafePointer<S>, dx: UnsafeMutablePointer<S>
        let batch: Int, g: ConvSizes, geom: UnsafePointer<bn_conv_geom>
        let kernels: UnsafeMutablePointer<S>, parts: Int

        func run(_ part: Int) {
            let cin = g.inChannels, cout = g.outChannels, taps = g.taps, positions = g.inputPositions
            let f = kernels + part * g.kernelCount
            for b in sliceRange(batch, part: part, of: parts) {
                flippedExampleKernel(meanT: meanT, deltaT: deltaT, sIn: signIn + b * cin,
                                     sOut: signOut + b * cout, taps: taps, cin: cin, cout: cout, into: f)
                product(dy, geom: geom, m0: b * positions, m1: (b + 1) * positions, n: cin, k: taps * cout, w: f,
                        bias: nil, y: dx)
            }
        }
    }

    /// The input gradient of the `part`-th slice of the batch by scattering dy_b · W_bᵀ, with the task's own
    /// W_b and row buffers.
    struct ScatteredInputTask<S: FastScalar>: ParallelTask {
        let dy: UnsafePointer<S>, mean: UnsafePointer<S>, delta: UnsafePointer<S>
        let signIn: UnsafePointer<S>, signOut: UnsafePointer<S>, dx: UnsafeMutablePointer<S>
        let batch: Int, g: ConvSizes, geom: UnsafePointer<bn_conv_geom>
        let kernels: UnsafeMutablePointer<S>, columns: UnsafeMutablePointer<S>, parts: Int

        func run(_ part: Int) {
            let cin = g.inChannels, cout = g.outChannels, taps = g.taps
            let kk = g.patchSize, positions = g.outputPositions, chunk = FlipoutConvolution.Workspace<S>.scatterRows
            let w = kernels + part * g.kernelCount
            let col = columns + part * chunk * kk
            for b in sliceRange(batch, part: part, of: parts) {
                exampleKernel(mean: mean, delta: delta, sIn: signIn + b * cin, sOut: signOut + b * cout,
                              taps: taps, cin: cin, cout: cout, into: w)
                (dx + b * g.inputCount).update(repeating: 0, count: g.inputCount)
                var r0 = b * positions
                let end = r0 + positions
                while r0 < end {
                    let cnt = min(chunk, end - r0)
                    S.gemmRows(kind: Int32(BN_A_MATRIX), transA: false, a: dy + r0 * cout, lda: cout, geom: nil,
                               row0: 0, m0: 0, m1: cnt, n: kk, k: cout, alpha: 1, b: w, ldb: cout, transB: true,
                               beta: 0, c: col, ldc: kk)
                    S.col2imAdd(geom, src: col, ld: kk, row0: r0, rows: cnt, dx: dx)
                    r0 += cnt
                }
            }
        }
    }

    static func backwardKernel<S: FastScalar>(x: UnsafePointer<S>, dy: UnsafePointer<S>, signIn: UnsafePointer<S>,
                                              signOut: UnsafePointer<S>, dMean: UnsafeMutablePointer<S>,
                                              dDelta: UnsafeMutablePointer<S>, batch: Int,
                                              ws: FlipoutConvolution.Workspace<S>) {
        let g = ws.geometry, sizes = ConvSizes(g)
        let n = g.outChannels, cin = g.inChannels
        let kc = g.kernelCount, taps = g.taps
        dDelta.update(repeating: 0, count: kc)
        if batch <= 0 { return }
        var geom = ConvFast.cGeometry(g)
        if S.self == Float.self, bn_flipout_conv_gradient_applies(&geom, n) != 0 {
            // Each example's tile of G_b added into dμ and dΔW while in registers; the threads split the
            // kernel rows, and every element sums the examples in order.
            let tiles = (taps * cin + 7) / 8
            let work = batch * g.outputPositions * kc
            let parts = work < 1 << 18 ? 1 : min(tiles, Runtime.threadCount)
            withUnsafePointer(to: &geom) { gp in
                Runtime.parallelFor(parts, PlaneGradientTask(x: x.cast(Float.self), dy: dy.cast(Float.self),
                                                             signIn: signIn.cast(Float.self),
                                                             signOut: signOut.cast(Float.self),
                                                             dMean: dMean.cast(Float.self),
                                                             dDelta: dDelta.cast(Float.self), batch: batch,
                                                             rows: taps * cin, n: n, geom: gp, parts: parts))
            }
            return
        }
        let reduceParts = Runtime.partitions(taps * cin, grain: max(1, 4096 / max(n, 1)))
        withUnsafePointer(to: &geom) { gp in
            // Rounds of up to `slots` examples: each example's G_b in its own slot, then the slots added into
            // dμ and dΔW in example order, element by element, so no sum depends on the thread count.
            var first = 0
            while first < batch {
                let count = min(ws.slots, batch - first)
                Runtime.parallelFor(count, ExampleGradientTask(x: x, dy: dy, g: sizes, geom: gp, first: first,
                                                               slots: ws.kernels))
                Runtime.parallelFor(reduceParts, GradientSumTask(slots: ws.kernels, signIn: signIn, signOut: signOut,
                                                                 dMean: dMean, dDelta: dDelta, g: sizes, first: first,
                                                                 count: count, parts: reduceParts))
                first += count
            }
        }
    }

    /// The kernel gradient over the `part`-th slice of the kernel rows (whole tiles of eight), every example.
    struct PlaneGradientTask: ParallelTask {
        let x: UnsafePointer<Float>, dy: UnsafePointer<Float>, signIn: UnsafePointer<Float>
        let signOut: UnsafePointer<Float>, dMean: UnsafeMutablePointer<Float>, dDelta: UnsafeMutablePointer<Float>
        let batch: Int, rows: Int, n: Int, geom: UnsafePointer<bn_conv_geom>, parts: Int

        func run(_ part: Int) {
            let tiles = sliceRange((rows + 7) / 8, part: part, of: parts)
            let r0 = tiles.lowerBound * 8, r1 = min(rows, tiles.upperBound * 8)
            if r0 >= r1 { return }
            let done = bn_flipout_conv_kernel_gradient(geom, x, dy, batch, r0, r1, n, signIn, signOut, dMean, dDelta)
            precondition(done != 0, "FlipoutConvolution: the plane kernel gradient declined a product it accepted")
        }
    }

    /// G_b = patches_bᵀ · dy_b for example `first + part`, into slot `part`.
    struct ExampleGradientTask<S: FastScalar>: ParallelTask {
        let x: UnsafePointer<S>, dy: UnsafePointer<S>
        let g: ConvSizes, geom: UnsafePointer<bn_conv_geom>
        let first: Int, slots: UnsafeMutablePointer<S>

        func run(_ part: Int) {
            let positions = g.outputPositions, kk = g.patchSize, n = g.outChannels
            let b = first + part
            S.gemmRows(kind: Int32(BN_A_IM2COL_T), transA: false, a: x, lda: 0, geom: geom,
                       row0: b * positions, m0: 0, m1: kk, n: n, k: positions, alpha: 1,
                       b: dy + b * positions * n, ldb: n, transB: false, beta: 0, c: slots + part * g.kernelCount,
                       ldc: n)
        }
    }

    /// The `part`-th slice of the kernel rows of dμ and dΔW: the `count` slots' G_b added in example order.
    struct GradientSumTask<S: FastScalar>: ParallelTask {
        let slots: UnsafePointer<S>, signIn: UnsafePointer<S>, signOut: UnsafePointer<S>
        let dMean: UnsafeMutablePointer<S>, dDelta: UnsafeMutablePointer<S>
        let g: ConvSizes, first: Int, count: Int, parts: Int

        func run(_ part: Int) {
            let n = g.outChannels, cin = g.inChannels
            let rows = sliceRange(g.taps * cin, part: part, of: parts)
            for s in 0..<count {
                let b = first + s
                accumulate(slots + s * g.kernelCount, sIn: signIn + b * cin, cin: cin, sOut: signOut + b * n,
                           cols: n, rows: rows, dMean: dMean, dDelta: dDelta)
            }
        }
    }
}
