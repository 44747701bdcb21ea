import CKernels

/// Row-major general matrix multiply, C = alpha * op(A) * op(B) + beta * C.
public enum Gemm {
    /// op(A) is m x k, op(B) is k x n, C is m x n. With beta == 0, C is not read (NaNs in it are ignored).
    @inlinable
    public static func gemm<S: TensorScalar>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: S,
                                             a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int,
                                             beta: S, c: UnsafeMutablePointer<S>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "Gemm: negative size")
        precondition(ldc >= max(1, n), "Gemm: ldc \(ldc) < n \(n)")
        precondition(lda >= max(1, transA ? m : k) && ldb >= max(1, transB ? k : n), "Gemm: leading dimension too small")
        if m == 0 || n == 0 { return }
        if S.self == Float.self {
            FastGemm.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: unsafeBitCast(alpha, to: Float.self),
                          a: a.cast(Float.self), lda: lda, b: b.cast(Float.self), ldb: ldb,
                          beta: unsafeBitCast(beta, to: Float.self), c: c.cast(Float.self), ldc: ldc)
            return
        }
        if S.self == Double.self {
            FastGemm.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: unsafeBitCast(alpha, to: Double.self),
                          a: a.cast(Double.self), lda: lda, b: b.cast(Double.self), ldb: ldb,
                          beta: unsafeBitCast(beta, to: Double.self), c: c.cast(Double.self), ldc: ldc)
            return
        }
        let parts = Runtime.partitions(m, grain: max(1, 32768 / max(1, n * max(k, 1))))
        Runtime.parallelFor(parts, ReferenceTask(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                                 a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                                                 parts: parts))
    }

    /// `reference` over the `part`-th slice of C's rows.
    @usableFromInline
    struct ReferenceTask<S: TensorScalar>: ParallelTask {
        @usableFromInline let transA: Bool, transB: Bool
        @usableFromInline let m: Int, n: Int, k: Int
        @usableFromInline let alpha: S, beta: S
        @usableFromInline let a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int
        @usableFromInline let c: UnsafeMutablePointer<S>, ldc: Int
        @usableFromInline let parts: Int

        @inlinable
        init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: S, a: UnsafePointer<S>, lda: Int,
             b: UnsafePointer<S>, ldb: Int, beta: S, c: UnsafeMutablePointer<S>, ldc: Int, parts: Int) {
            self.transA = transA; self.transB = transB; self.m = m; self.n = n; self.k = k
            self.alpha = alpha; self.beta = beta; self.a = a; self.lda = lda; self.b = b; self.ldb = ldb
            self.c = c; self.ldc = ldc; self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            reference(transA: transA, transB: transB, rows: sliceRange(m, part: part, of: parts), n: n, k: k,
                      alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// Straightforward loops, for other scalar types and as the oracle the fast paths are tested against.
    @inlinable
    static func reference<S: TensorScalar>(transA: Bool, transB: Bool, rows: Range<Int>, n: Int, k: Int, alpha: S,
                                           a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int,
                                           beta: S, c: UnsafeMutablePointer<S>, ldc: Int) {
        for i in rows {
            let ci = c + i * ldc
            if beta == 0 {
                ci.update(repeating: 0, count: n)
            } else if beta != 1 {
                for j in 0..<n { ci[j] *= beta }
            }
            if k == 0 || alpha == 0 { continue }
            if !transB {
                for p in 0..<k {
                    let s = alpha * (transA ? a[p * lda + i] : a[i * lda + p])
                    let bp = b + p * ldb
                    for j in 0..<n { ci[j] += s * bp[j] }
                }
            } else {
                for j in 0..<n {
                    let bj = b + j * ldb
                    var acc: S = 0
                    if transA {
                        for p in 0..<k { acc += a[p * lda + i] * bj[p] }
                    } else {
                        let ai = a + i * lda
                        for p in 0..<k { acc += ai[p] * bj[p] }
                    }
                    ci[j] += alpha * acc
                }
            }
        }
    }
}
