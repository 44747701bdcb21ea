import CKernels

/// N-d convolution (rank 1...3) exactly as TensorFlow's `tf.nn.convolution`, channels-last, kernel layout
/// `filter + [in, out]`. Every rank runs through the same code: the implicit im2col matrix
/// (rows = example x output position, columns = tap x input channel) multiplied by the kernel
/// viewed as a (taps·in) x out matrix.
public enum Convolution {
    /// y = conv(x, kernel) + bias; x is [batch] + inputSpatial + [in], y is [batch] + outputSpatial + [out].
    @inlinable
    public static func forward<S: TensorScalar>(x: UnsafePointer<S>, kernel: UnsafePointer<S>, bias: UnsafePointer<S>?,
                                                y: UnsafeMutablePointer<S>, batch: Int, geometry: ConvGeometry) {
        precondition(batch >= 0, "Convolution: negative batch")
        if batch == 0 || geometry.outputPositions == 0 { return }
        if S.self == Float.self {
            ConvFast.forward(x: x.cast(Float.self), kernel: kernel.cast(Float.self), bias: bias?.cast(Float.self),
                             y: y.cast(Float.self), batch: batch, g: geometry)
        } else if S.self == Double.self {
            ConvFast.forward(x: x.cast(Double.self), kernel: kernel.cast(Double.self), bias: bias?.cast(Double.self),
                             y: y.cast(Double.self), batch: batch, g: geometry)
        } else {
            ConvGeneric.forward(x: x, kernel: kernel, bias: bias, y: y, batch: batch, g: geometry)
        }
    }

    /// dx (+)= d(sum(y * dy))/dx.
    @inlinable
    /// `scratch`, sized for the layer when a network is planned, spares the call its own allocations.
    public static func backwardInput<S: TensorScalar>(dy: UnsafePointer<S>, kernel: UnsafePointer<S>,
                                                      dx: UnsafeMutablePointer<S>, batch: Int, geometry: ConvGeometry,
                                                      accumulate: Bool, scratch: ConvolutionInputScratch<S>? = nil) {
        precondition(batch >= 0, "Convolution: negative batch")
        if batch == 0 { return }
        if S.self == Float.self {
            ConvFast.backwardInput(dy: dy.cast(Float.self), kernel: kernel.cast(Float.self), dx: dx.cast(Float.self),
                                   batch: batch, g: geometry, accumulate: accumulate,
                                   scratch: scratch.map { unsafeDowncast($0, to: ConvolutionInputScratch<Float>.self) })
        } else if S.self == Double.self {
            ConvFast.backwardInput(dy: dy.cast(Double.self), kernel: kernel.cast(Double.self), dx: dx.cast(Double.self),
                                   batch: batch, g: geometry, accumulate: accumulate,
                                   scratch: scratch.map { unsafeDowncast($0, to: ConvolutionInputScratch<Double>.self) })
        } else {
            ConvGeneric.backwardInput(dy: dy, kernel: kernel, dx: dx, batch: batch, g: geometry, accumulate: accumulate)
        }
    }

    /// dkernel (+)= d(sum(y * dy))/dkernel, summed in a fixed order: the same bits for any thread count, and
    /// nothing allocated (Float and Double).
    @inlinable
    public static func backwardKernel<S: TensorScalar>(x: UnsafePointer<S>, dy: UnsafePointer<S>,
                                                       dkernel: UnsafeMutablePointer<S>, batch: Int,
                                                       geometry: ConvGeometry, accumulate: Bool) {
        precondition(batch >= 0, "Convolution: negative batch")
        if S.self == Float.self {
            ConvFast.backwardKernel(x: x.cast(Float.self), dy: dy.cast(Float.self), dkernel: dkernel.cast(Float.self),
                                    batch: batch, g: geometry, accumulate: accumulate)
        } else if S.self == Double.self {
            ConvFast.backwardKernel(x: x.cast(Double.self), dy: dy.cast(Double.self),
                                    dkernel: dkernel.cast(Double.self), batch: batch, g: geometry,
                                    accumulate: accumulate)
        } else {
            ConvGeneric.backwardKernel(x: x, dy: dy, dkernel: dkernel, batch: batch, g: geometry, accumulate: accumulate)
        }
    }
}

/// The im2col matrix and its adjoint, element by element; generic so every scalar type can use them.
@usableFromInline
enum Im2col {
    /// Walks the filter taps of im2col row `row` in patch order, calling `body` with the offset of the tap's
    /// first channel in the input (example included), or nil where the tap falls in the padding.
    @inlinable
    static func forEachTap(_ g: ConvGeometry, row: Int, _ body: (Int?) -> Void) {
        let positions = g.outputPositions
        let example = row / positions, pos = row % positions
        let oz = pos / (g.out3[1] * g.out3[2]), rem = pos % (g.out3[1] * g.out3[2])
        let oy = rem / g.out3[2], ox = rem % g.out3[2]
        let z0 = oz * g.stride3[0] - g.pad3[0], y0 = oy * g.stride3[1] - g.pad3[1], x0 = ox * g.stride3[2] - g.pad3[2]
        let base = example * g.inputCount
        for tz in 0..<g.filter3[0] {
            let iz = z0 + tz * g.dilation3[0]
            for ty in 0..<g.filter3[1] {
                let iy = y0 + ty * g.dilation3[1]
                for tx in 0..<g.filter3[2] {
                    let ix = x0 + tx * g.dilation3[2]
                    if iz >= 0 && iz < g.in3[0] && iy >= 0 && iy < g.in3[1] && ix >= 0 && ix < g.in3[2] {
                        body(base + ((iz * g.in3[1] + iy) * g.in3[2] + ix) * g.inChannels)
                    } else {
                        body(nil)
                    }
                }
            }
        }
    }

    /// Writes row `row` of the im2col matrix (patchSize values) to dst.
    @inlinable
    static func row<S: TensorScalar>(_ g: ConvGeometry, x: UnsafePointer<S>, row: Int, dst: UnsafeMutablePointer<S>) {
        let c = g.inChannels
        var d = dst
        forEachTap(g, row: row) { offset in
            if let offset { d.update(from: x + offset, count: c) } else { d.update(repeating: 0, count: c) }
            d += c
        }
    }

    /// Adds row `row` of an im2col-shaped gradient back onto the input it was gathered from.
    @inlinable
    static func scatterAdd<S: TensorScalar>(_ g: ConvGeometry, src: UnsafePointer<S>, row: Int,
                                            dx: UnsafeMutablePointer<S>) {
        let c = g.inChannels
        var s = src
        forEachTap(g, row: row) { offset in
            if let offset {
                let d = dx + offset
                for i in 0..<c { d[i] += s[i] }
            }
            s += c
        }
    }
}

/// Any scalar type: explicit im2col in row chunks and the reference GEMM. The oracle for the fast path.
@usableFromInline
enum ConvGeneric {
    @usableFromInline static let chunkRows = 32

    @inlinable
    static func forward<S: TensorScalar>(x: UnsafePointer<S>, kernel: UnsafePointer<S>, bias: UnsafePointer<S>?,
                                         y: UnsafeMutablePointer<S>, batch: Int, g: ConvGeometry) {
        let parts = Runtime.partitions(batch * g.outputPositions, grain: chunkRows)
        Runtime.parallelFor(parts, ForwardTask(x: x, kernel: kernel, bias: bias, y: y, batch: batch, g: g,
                                               parts: parts))
    }

    /// The forward pass over the `part`-th slice of the im2col rows.
    @usableFromInline
    struct ForwardTask<S: TensorScalar>: ParallelTask {
        @usableFromInline let x: UnsafePointer<S>, kernel: UnsafePointer<S>, bias: UnsafePointer<S>?
        @usableFromInline let y: UnsafeMutablePointer<S>
        @usableFromInline let batch: Int, g: ConvGeometry, parts: Int

        @inlinable
        init(x: UnsafePointer<S>, kernel: UnsafePointer<S>, bias: UnsafePointer<S>?, y: UnsafeMutablePointer<S>,
             batch: Int, g: ConvGeometry, parts: Int) {
            self.x = x; self.kernel = kernel; self.bias = bias; self.y = y; self.batch = batch; self.g = g
            self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            let m = batch * g.outputPositions, kk = g.patchSize, n = g.outChannels
            let rows = sliceRange(m, part: part, of: parts)
            let col = UnsafeMutablePointer<S>.allocate(capacity: chunkRows * kk)
            defer { col.deallocate() }
            var r0 = rows.lowerBound
            while r0 < rows.upperBound {
                let cnt = min(chunkRows, rows.upperBound - r0)
                for r in 0..<cnt { Im2col.row(g, x: x, row: r0 + r, dst: col + r * kk) }
                let yc = y + r0 * n
                for r in 0..<cnt {
                    if let bias { (yc + r * n).update(from: bias, count: n) } else { (yc + r * n).update(repeating: 0, count: n) }
                }
                Gemm.reference(transA: false, transB: false, rows: 0..<cnt, n: n, k: kk, alpha: 1, a: col, lda: kk,
                               b: kernel, ldb: n, beta: 1, c: yc, ldc: n)
                r0 += cnt
            }
        }
    }

    @inlinable
    static func backwardInput<S: TensorScalar>(dy: UnsafePointer<S>, kernel: UnsafePointer<S>,
                                               dx: UnsafeMutablePointer<S>, batch: Int, g: ConvGeometry,
                                               accumulate: Bool) {
        let parts = Runtime.partitions(batch)
        Runtime.parallelFor(parts, BackwardInputTask(dy: dy, kernel: kernel, dx: dx, batch: batch, g: g,
                                                     accumulate: accumulate, parts: parts))
    }

    /// The input gradient of the `part`-th slice of the batch.
    @usableFromInline
    struct BackwardInputTask<S: TensorScalar>: ParallelTask {
        @usableFromInline let dy: UnsafePointer<S>, kernel: UnsafePointer<S>, dx: UnsafeMutablePointer<S>
        @usableFromInline let batch: Int, g: ConvGeometry, accumulate: Bool, parts: Int

        @inlinable
        init(dy: UnsafePointer<S>, kernel: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, batch: Int,
             g: ConvGeometry, accumulate: Bool, parts: Int) {
            self.dy = dy; self.kernel = kernel; self.dx = dx; self.batch = batch; self.g = g
            self.accumulate = accumulate; self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            let kk = g.patchSize, n = g.outChannels, positions = g.outputPositions
            let examples = sliceRange(batch, part: part, of: parts)
            if !accumulate {
                (dx + examples.lowerBound * g.inputCount).update(repeating: 0, count: examples.count * g.inputCount)
            }
            let col = UnsafeMutablePointer<S>.allocate(capacity: chunkRows * kk)
            defer { col.deallocate() }
            var r0 = examples.lowerBound * positions
            let end = examples.upperBound * positions
            while r0 < end {
                let cnt = min(chunkRows, end - r0)
                Gemm.reference(transA: false, transB: true, rows: 0..<cnt, n: kk, k: n, alpha: 1, a: dy + r0 * n,
                               lda: n, b: kernel, ldb: n, beta: 0, c: col, ldc: kk)
                for r in 0..<cnt { Im2col.scatterAdd(g, src: col + r * kk, row: r0 + r, dx: dx) }
                r0 += cnt
            }
        }
    }

    /// The kernel gradient in chunks of im2col rows added in order, on one thread: the oracle, kept simple.
    @inlinable
    static func backwardKernel<S: TensorScalar>(x: UnsafePointer<S>, dy: UnsafePointer<S>,
                                                dkernel: UnsafeMutablePointer<S>, batch: Int, g: ConvGeometry,
                                                accumulate: Bool) {
        let m = batch * g.outputPositions, kk = g.patchSize, n = g.outChannels
        if !accumulate { dkernel.update(repeating: 0, count: kk * n) }
        let col = UnsafeMutablePointer<S>.allocate(capacity: chunkRows * kk)
        defer { col.deallocate() }
        var r0 = 0
        while r0 < m {
            let cnt = min(chunkRows, m - r0)
            for r in 0..<cnt { Im2col.row(g, x: x, row: r0 + r, dst: col + r * kk) }
            Gemm.reference(transA: true, transB: false, rows: 0..<kk, n: n, k: cnt, alpha: 1, a: col, lda: kk,
                           b: dy + r0 * n, ldb: n, beta: 1, c: dkernel, ldc: n)
            r0 += cnt
        }
    }
}

/// The sizes of a convolution that parallel tasks need, as plain integers (names as in `ConvGeometry`): the pool
/// copies a task value for each part it runs, and copying a `ConvGeometry` would retain and release each of its
/// arrays, from every thread at once.
struct ConvSizes {
    let inChannels: Int, outChannels: Int, taps: Int, patchSize: Int, kernelCount: Int
    let inputPositions: Int, outputPositions: Int, inputCount: Int

    init(_ g: ConvGeometry) {
        inChannels = g.inChannels; outChannels = g.outChannels; taps = g.taps; patchSize = g.patchSize
        kernelCount = g.kernelCount; inputPositions = g.inputPositions; outputPositions = g.outputPositions
        inputCount = g.inputCount
    }
}

/// Scratch for one convolution layer's input gradient: the flipped kernel of the convolution form and the
/// im2col-shaped rows of the scatter form, one block per task. A layer plans it once, so its training steps
/// allocate nothing.
public final class ConvolutionInputScratch<S: TensorScalar> {
    let flipped: UnsafeMutablePointer<S>
    let flippedCount: Int
    let columns: UnsafeMutablePointer<S>
    /// Scatter tasks the columns have room for; a call splits into at most this many.
    let columnTasks: Int
    let columnsPerTask: Int

    public init(geometry g: ConvGeometry, maxBatch: Int) {
        flippedCount = max(1, g.kernelCount)
        flipped = .allocate(capacity: flippedCount)
        flipped.initialize(repeating: 0, count: flippedCount)
        columnTasks = max(1, min(max(1, maxBatch), 4 * max(1, Runtime.threadCount)))
        columnsPerTask = ConvFast.scatterChunk * max(1, g.patchSize)
        columns = .allocate(capacity: columnTasks * columnsPerTask)
        columns.initialize(repeating: 0, count: columnTasks * columnsPerTask)
    }

    deinit {
        flipped.deallocate()
        columns.deallocate()
    }
}

/// Float and Double: implicit im2col packed straight into the C GEMM's panels.
///
/// The entry points are specialized for both: other modules reach them through the generic entry, and
/// unspecialized code would hand the thread pool a task runner holding `S`'s metadata in a heap context.
@usableFromInline
enum ConvFast {
    static func cGeometry(_ g: ConvGeometry) -> bn_conv_geom {
        func t(_ a: [Int]) -> (Int, Int, Int) { (a[0], a[1], a[2]) }
        return bn_conv_geom(in: t(g.in3), out: t(g.out3), filter: t(g.filter3), stride: t(g.stride3),
                            dilation: t(g.dilation3), pad: t(g.pad3), inChannels: g.inChannels)
    }

    @usableFromInline @_specialize(where S == Float) @_specialize(where S == Double)
    static func forward<S: FastScalar>(x: UnsafePointer<S>, kernel: UnsafePointer<S>, bias: UnsafePointer<S>?,
                                       y: UnsafeMutablePointer<S>, batch: Int, g: ConvGeometry) {
        let m = batch * g.outputPositions, kk = g.patchSize, n = g.outChannels
        var geom = cGeometry(g)
        let parts = FastGemm.rowTasks(m)
        withUnsafePointer(to: &geom) { gp in
            Runtime.parallelFor(parts, ForwardTask(x: x, kernel: kernel, bias: bias, y: y, geom: gp, m: m, k: kk,
                                                   n: n, parts: parts))
        }
    }

    /// The forward pass over the `part`-th slice of the im2col rows.
    struct ForwardTask<S: FastScalar>: ParallelTask {
        let x: UnsafePointer<S>, kernel: UnsafePointer<S>, bias: UnsafePointer<S>?, y: UnsafeMutablePointer<S>
        let geom: UnsafePointer<bn_conv_geom>
        let m: Int, k: Int, n: Int, parts: Int

        func run(_ part: Int) {
            let rows = sliceRange(m, part: part, of: parts)
            if let bias {
                for r in rows { (y + r * n).update(from: bias, count: n) }
            }
            S.gemmRows(kind: Int32(BN_A_IM2COL), transA: false, a: x, lda: 0, geom: geom, row0: 0,
                       m0: rows.lowerBound, m1: rows.upperBound, n: n, k: k, alpha: 1, b: kernel, ldb: n,
                       transB: false, beta: bias == nil ? 0 : 1, c: y, ldc: n)
        }
    }

    @usableFromInline @_specialize(where S == Float) @_specialize(where S == Double)
    static func backwardInput<S: FastScalar>(dy: UnsafePointer<S>, kernel: UnsafePointer<S>,
                                             dx: UnsafeMutablePointer<S>, batch: Int, g: ConvGeometry,
                                             accumulate: Bool, scratch: ConvolutionInputScratch<S>? = nil) {
        // The convolution form multiplies into only inChannels columns, which wastes most of a micro-tile
        // when there are few; then the scatter form (taps·inChannels columns) is cheaper.
        if g.stride3.allSatisfy({ $0 == 1 }) && g.inChannels >= 8 {
            backwardInputAsConvolution(dy: dy, kernel: kernel, dx: dx, batch: batch, g: g, accumulate: accumulate,
                                       scratch: scratch)
        } else {
            backwardInputByScatter(dy: dy, kernel: kernel, dx: dx, batch: batch, g: g, accumulate: accumulate,
                                   scratch: scratch)
        }
    }

    /// Rows of the scatter form's im2col-shaped blocks.
    static var scatterChunk: Int { 128 }

    /// With unit strides the input gradient is itself a convolution: of dy with the kernel flipped in space and
    /// with in and out swapped, padded by (k-1)·d - padBefore, so it runs on the forward path's packing.
    static func backwardInputAsConvolution<S: FastScalar>(dy: UnsafePointer<S>, kernel: UnsafePointer<S>,
                                                          dx: UnsafeMutablePointer<S>, batch: Int, g: ConvGeometry,
                                                          accumulate: Bool,
                                                          scratch: ConvolutionInputScratch<S>?) {
        let cin = g.inChannels, cout = g.outChannels, taps = g.taps
        let planned = scratch.map { $0.flippedCount >= g.kernelCount } ?? false
        let flipped = planned ? scratch!.flipped : UnsafeMutablePointer<S>.allocate(capacity: g.kernelCount)
        defer { if !planned { flipped.deallocate() } }
        for t in 0..<taps {
            let src = kernel + (taps - 1 - t) * cin * cout, dst = flipped + t * cout * cin
            for i in 0..<cin {
                for o in 0..<cout { dst[o * cin + i] = src[i * cout + o] }
            }
        }
        func t(_ a: [Int]) -> (Int, Int, Int) { (a[0], a[1], a[2]) }
        // A tuple, not a mapped array: nothing allocated per call.
        func pad(_ d: Int) -> Int { (g.filter3[d] - 1) * g.dilation3[d] - g.pad3[d] }
        var geom = bn_conv_geom(in: t(g.out3), out: t(g.in3), filter: t(g.filter3), stride: (1, 1, 1),
                                dilation: t(g.dilation3), pad: (pad(0), pad(1), pad(2)), inChannels: cout)
        let m = batch * g.inputPositions
        let parts = FastGemm.rowTasks(m)
        withUnsafePointer(to: &geom) { gp in
            Runtime.parallelFor(parts, RowsTask(a: dy, geom: gp, m: m, n: cin, k: taps * cout, b: flipped,
                                                beta: accumulate ? 1 : 0, c: dx, parts: parts))
        }
    }

    /// The `part`-th slice of the rows of C = im2col(a) · b + beta · C (C is m x n, b is k x n).
    struct RowsTask<S: FastScalar>: ParallelTask {
        let a: UnsafePointer<S>, geom: UnsafePointer<bn_conv_geom>
        let m: Int, n: Int, k: Int
        let b: UnsafePointer<S>, beta: S, c: UnsafeMutablePointer<S>
        let parts: Int

        func run(_ part: Int) {
            let rows = sliceRange(m, part: part, of: parts)
            S.gemmRows(kind: Int32(BN_A_IM2COL), transA: false, a: a, lda: 0, geom: geom, row0: 0,
                       m0: rows.lowerBound, m1: rows.upperBound, n: n, k: k, alpha: 1, b: b, ldb: n,
                       transB: false, beta: beta, c: c, ldc: n)
        }
    }

    /// Any strides: dy times the kernel's transpose gives im2col-shaped rows, added back where they came from.
    /// Tasks split the batch, so no two write the same example.
    static func backwardInputByScatter<S: FastScalar>(dy: UnsafePointer<S>, kernel: UnsafePointer<S>,
                                                      dx: UnsafeMutablePointer<S>, batch: Int, g: ConvGeometry,
                                                      accumulate: Bool,
                                                      scratch: ConvolutionInputScratch<S>?) {
        var geom = cGeometry(g)
        var parts = Runtime.partitions(batch, perThread: 4)
        // Planned blocks: at most as many tasks as they have room for (each task owns whole examples, so the
        // split changes no value).
        let planned = scratch.map { $0.columnsPerTask >= scatterChunk * g.patchSize } ?? false
        if planned { parts = min(parts, scratch!.columnTasks) }
        withUnsafePointer(to: &geom) { gp in
            Runtime.parallelFor(parts, ScatterTask(dy: dy, kernel: kernel, dx: dx, batch: batch, g: ConvSizes(g),
                                                   geom: gp, accumulate: accumulate, parts: parts,
                                                   columns: planned ? scratch!.columns : nil,
                                                   columnsPerTask: planned ? scratch!.columnsPerTask : 0))
        }
    }

    /// The scattered input gradient of the `part`-th slice of the batch.
    struct ScatterTask<S: FastScalar>: ParallelTask {
        let dy: UnsafePointer<S>, kernel: UnsafePointer<S>, dx: UnsafeMutablePointer<S>
        let batch: Int, g: ConvSizes, geom: UnsafePointer<bn_conv_geom>
        let accumulate: Bool, parts: Int
        /// Planned blocks of `columnsPerTask` values, one per part; nil: each part allocates its own.
        let columns: UnsafeMutablePointer<S>?, columnsPerTask: Int

        func run(_ part: Int) {
            let kk = g.patchSize, n = g.outChannels, positions = g.outputPositions, chunk = ConvFast.scatterChunk
            let examples = sliceRange(batch, part: part, of: parts)
            if !accumulate {
                (dx + examples.lowerBound * g.inputCount).update(repeating: 0, count: examples.count * g.inputCount)
            }
            let col = columns.map { $0 + part * columnsPerTask } ?? UnsafeMutablePointer<S>.allocate(capacity: chunk * kk)
            defer { if columns == nil { col.deallocate() } }
            var r0 = examples.lowerBound * positions
            let end = examples.upperBound * positions
            while r0 < end {
                let cnt = min(chunk, end - r0)
                S.gemmRows(kind: Int32(BN_A_MATRIX), transA: false, a: dy + r0 * n, lda: n, geom: nil, row0: 0,
                           m0: 0, m1: cnt, n: kk, k: n, alpha: 1, b: kernel, ldb: n, transB: true, beta: 0,
                           c: col, ldc: kk)
                S.col2imAdd(geom, src: col, ld: kk, row0: r0, rows: cnt, dx: dx)
                r0 += cnt
            }
        }
    }

    /// Im2col rows per slice of the kernel gradient's reduction. Fixed, so the order of every sum is fixed.
    static var kernelGradientSlice: Int { 2048 }

    /// dkernel (+)= Σ over im2col rows of patchᵀ · dy. The rows are reduced in fixed slices of
    /// `kernelGradientSlice`, each added onto dkernel in order; the threads split dkernel itself (its rows, or
    /// its columns when it is short and wide), and the GEMM's per-element sums do not depend on that split, so
    /// the result is the same bits for any thread count. Nothing is allocated: no partial sums are kept.
    @usableFromInline @_specialize(where S == Float) @_specialize(where S == Double)
    static func backwardKernel<S: FastScalar>(x: UnsafePointer<S>, dy: UnsafePointer<S>,
                                              dkernel: UnsafeMutablePointer<S>, batch: Int, g: ConvGeometry,
                                              accumulate: Bool) {
        let m = batch * g.outputPositions, kk = g.patchSize, n = g.outChannels
        if m == 0 {
            if !accumulate { dkernel.update(repeating: 0, count: kk * n) }
            return
        }
        var geom = cGeometry(g)
        let threads = m * kk * n < 1 << 16 ? 1 : Runtime.threadCount
        let byColumns = threads > 1 && kk < FastGemm.minRowsPerTask * threads && n >= 64 * threads
        let parts = threads == 1 ? 1 : byColumns ? threads : FastGemm.rowTasks(kk)
        withUnsafePointer(to: &geom) { gp in
            Runtime.parallelFor(parts, KernelGradientTask(x: x, dy: dy, dkernel: dkernel, geom: gp, m: m, k: kk, n: n,
                                                          accumulate: accumulate, byColumns: byColumns,
                                                          parts: parts))
        }
    }

    /// The kernel gradient over the `part`-th slice of dkernel's rows (or columns), every slice of im2col rows
    /// added in order.
    struct KernelGradientTask<S: FastScalar>: ParallelTask {
        let x: UnsafePointer<S>, dy: UnsafePointer<S>, dkernel: UnsafeMutablePointer<S>
        let geom: UnsafePointer<bn_conv_geom>
        let m: Int, k: Int, n: Int, accumulate: Bool, byColumns: Bool, parts: Int

        func run(_ part: Int) {
            let rows = byColumns ? 0..<k : sliceRange(k, part: part, of: parts)
            let cols = byColumns ? sliceRange(n, part: part, of: parts) : 0..<n
            let slice = ConvFast.kernelGradientSlice
            var r0 = 0
            while r0 < m {
                let count = min(slice, m - r0)
                S.gemmRows(kind: Int32(BN_A_IM2COL_T), transA: false, a: x, lda: 0, geom: geom, row0: r0,
                           m0: rows.lowerBound, m1: rows.upperBound, n: cols.count, k: count, alpha: 1,
                           b: dy + r0 * n + cols.lowerBound, ldb: n, transB: false,
                           beta: r0 == 0 && !accumulate ? 0 : 1, c: dkernel + cols.lowerBound, ldc: n)
                r0 += count
            }
        }
    }
}
