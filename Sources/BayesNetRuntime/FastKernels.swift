import CKernels

/// The scalar types with packed, register-blocked C kernels (Float and Double). The requirements map onto
/// the C functions of the matching precision.
@usableFromInline
protocol FastScalar: TensorScalar {
    /// Rows [m0, m1) of C = alpha * op(A) * op(B) + beta * C, single-threaded; A as the C `bn_a_source` describes.
    static func gemmRows(kind: Int32, transA: Bool, a: UnsafePointer<Self>, lda: Int,
                         geom: UnsafePointer<bn_conv_geom>?, row0: Int, m0: Int, m1: Int, n: Int, k: Int,
                         alpha: Self, b: UnsafePointer<Self>, ldb: Int, transB: Bool, beta: Self,
                         c: UnsafeMutablePointer<Self>, ldc: Int)
    /// Adds `rows` im2col-shaped rows (leading dimension `ld`) from im2col row `row0` back onto dx.
    static func col2imAdd(_ g: UnsafePointer<bn_conv_geom>, src: UnsafePointer<Self>, ld: Int, row0: Int, rows: Int,
                          dx: UnsafeMutablePointer<Self>)
}

extension Float: FastScalar {
    @usableFromInline
    static func gemmRows(kind: Int32, transA: Bool, a: UnsafePointer<Float>, lda: Int,
                         geom: UnsafePointer<bn_conv_geom>?, row0: Int, m0: Int, m1: Int, n: Int, k: Int,
                         alpha: Float, b: UnsafePointer<Float>, ldb: Int, transB: Bool, beta: Float,
                         c: UnsafeMutablePointer<Float>, ldc: Int) {
        var source = bn_a_source(kind: kind, trans: transA ? 1 : 0, a: a, lda: lda, geom: geom, row0: row0)
        bn_sgemm_rows(&source, m0, m1, n, k, alpha, b, ldb, transB ? 1 : 0, beta, c, ldc)
    }

    @usableFromInline
    static func col2imAdd(_ g: UnsafePointer<bn_conv_geom>, src: UnsafePointer<Float>, ld: Int, row0: Int, rows: Int,
                          dx: UnsafeMutablePointer<Float>) {
        bn_col2im_add(g, src, ld, row0, rows, dx)
    }
}

extension Double: FastScalar {
    @usableFromInline
    static func gemmRows(kind: Int32, transA: Bool, a: UnsafePointer<Double>, lda: Int,
                         geom: UnsafePointer<bn_conv_geom>?, row0: Int, m0: Int, m1: Int, n: Int, k: Int,
                         alpha: Double, b: UnsafePointer<Double>, ldb: Int, transB: Bool, beta: Double,
                         c: UnsafeMutablePointer<Double>, ldc: Int) {
        var source = bn_a_source_f64(kind: kind, trans: transA ? 1 : 0, a: a, lda: lda, geom: geom, row0: row0)
        bn_dgemm_rows(&source, m0, m1, n, k, alpha, b, ldb, transB ? 1 : 0, beta, c, ldc)
    }

    @usableFromInline
    static func col2imAdd(_ g: UnsafePointer<bn_conv_geom>, src: UnsafePointer<Double>, ld: Int, row0: Int, rows: Int,
                          dx: UnsafeMutablePointer<Double>) {
        bn_col2im_add_f64(g, src, ld, row0, rows, dx)
    }
}

extension UnsafePointer {
    /// The same address viewed as another element type (used after checking `Pointee.self == T.self`).
    @usableFromInline @inline(__always)
    func cast<T>(_: T.Type) -> UnsafePointer<T> { UnsafeRawPointer(self).assumingMemoryBound(to: T.self) }
}

extension UnsafeMutablePointer {
    @usableFromInline @inline(__always)
    func cast<T>(_: T.Type) -> UnsafeMutablePointer<T> { UnsafeMutableRawPointer(self).assumingMemoryBound(to: T.self) }
}

/// The GEMM fast path: the C driver's rows split over the thread pool. `gemm` is specialized for Float and
/// Double, as `ConvFast`'s entry points are, so that a call from another module allocates nothing.
@usableFromInline
enum FastGemm {
    /// Rows per task below which splitting a product over threads costs more than it saves.
    static let minRowsPerTask = 24

    /// Tasks for `rows` rows of a product: the split does not change any result, so there are several per
    /// thread when the rows allow, and at least minRowsPerTask rows in each.
    static func rowTasks(_ rows: Int) -> Int {
        let threads = Runtime.threadCount
        if rows <= 0 { return 0 }
        if threads == 1 { return 1 }
        let fine = min(threads * 4, rows / 512)
        return max(1, fine, min(threads, rows / minRowsPerTask))
    }

    @usableFromInline @_specialize(where S == Float) @_specialize(where S == Double)
    static func gemm<S: FastScalar>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: S,
                                    a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int,
                                    beta: S, c: UnsafeMutablePointer<S>, ldc: Int) {
        let work = m * n * max(k, 1)
        let threads = work < 1 << 16 ? 1 : Runtime.threadCount
        let product = Product(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                              ldb: ldb, beta: beta, c: c, ldc: ldc)
        if threads > 1 && (m < minRowsPerTask * threads || n > m) && n >= 64 * threads {
            // Short and wide: split the columns, so that each thread packs only its part of B (with rows
            // split, every thread would pack all of it: a dense layer's whole kernel for a batch of 128).
            Runtime.parallelFor(threads, ColumnsTask(product: product, parts: threads))
            return
        }
        let parts = threads == 1 ? 1 : rowTasks(m)
        Runtime.parallelFor(parts, RowsTask(product: product, parts: parts))
    }

    /// The operands of C = alpha * op(A) * op(B) + beta * C.
    struct Product<S: FastScalar> {
        let transA: Bool, transB: Bool
        let m: Int, n: Int, k: Int
        let alpha: S
        let a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int
        let beta: S
        let c: UnsafeMutablePointer<S>, ldc: Int
    }

    /// The `part`-th slice of the product's columns.
    struct ColumnsTask<S: FastScalar>: ParallelTask {
        let product: Product<S>, parts: Int

        func run(_ part: Int) {
            let p = product
            // Whole 32-column tiles to each part but the last.
            let tiles = sliceRange((p.n + 31) / 32, part: part, of: parts)
            let cols = (tiles.lowerBound * 32)..<min(p.n, tiles.upperBound * 32)
            if cols.isEmpty { return }
            let bj = p.transB ? p.b + cols.lowerBound * p.ldb : p.b + cols.lowerBound
            S.gemmRows(kind: Int32(BN_A_MATRIX), transA: p.transA, a: p.a, lda: p.lda, geom: nil, row0: 0, m0: 0,
                       m1: p.m, n: cols.count, k: p.k, alpha: p.alpha, b: bj, ldb: p.ldb, transB: p.transB,
                       beta: p.beta, c: p.c + cols.lowerBound, ldc: p.ldc)
        }
    }

    /// The `part`-th slice of the product's rows.
    struct RowsTask<S: FastScalar>: ParallelTask {
        let product: Product<S>, parts: Int

        func run(_ part: Int) {
            let p = product
            let rows = sliceRange(p.m, part: part, of: parts)
            S.gemmRows(kind: Int32(BN_A_MATRIX), transA: p.transA, a: p.a, lda: p.lda, geom: nil, row0: 0,
                       m0: rows.lowerBound, m1: rows.upperBound, n: p.n, k: p.k, alpha: p.alpha, b: p.b, ldb: p.ldb,
                       transB: p.transB, beta: p.beta, c: p.c, ldc: p.ldc)
        }
    }
}
