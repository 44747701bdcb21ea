import CKernels

/// The single-precision fast paths: packed, register-blocked GEMM in C, split over the thread pool.
@usableFromInline
enum FloatKernels {
    /// Rows per task below which splitting a product over threads costs more than it saves.
    static let minRowsPerTask = 24

    @usableFromInline
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        var source = bn_a_source(kind: Int32(BN_A_MATRIX), trans: transA ? 1 : 0, a: a, lda: lda,
                                 geom: nil, row0: 0)
        let work = m * n * max(k, 1)
        let threads = work < 1 << 16 ? 1 : Runtime.threadCount
        if threads > 1 && m < minRowsPerTask * threads && n >= 64 * threads {
            // Short and wide: split the columns.
            let parts = threads
            withUnsafePointer(to: &source) { src in
                Runtime.parallelFor(parts) { part in
                    let cols = sliceRange(n, part: part, of: parts)
                    let bj = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
                    bn_sgemm_rows(src, 0, m, cols.count, k, alpha, bj, ldb, transB ? 1 : 0, beta,
                                  c + cols.lowerBound, ldc)
                }
            }
            return
        }
        let parts = max(1, min(threads, m / minRowsPerTask))
        withUnsafePointer(to: &source) { src in
            Runtime.parallelFor(parts) { part in
                let rows = sliceRange(m, part: part, of: parts)
                bn_sgemm_rows(src, rows.lowerBound, rows.upperBound, n, k, alpha, b, ldb, transB ? 1 : 0,
                              beta, c, ldc)
            }
        }
    }
}
