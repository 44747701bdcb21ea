// Double-precision GEMM: the same blocking, packing and driver as sgemm.c (gemm_driver.h), with
// kernels of half the lanes: AVX-512 12 x 16 (12 x 8 for narrow products), AVX2 6 x 8, portable 6 x 8.
#include <stdlib.h>
#include <string.h>
#include "ckernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BN_X86 1
#endif

#define KC 256
#define MC_ROWS 144   /* multiple of 6, 12 and 16 */
#define NC 1024
#define MR_MAX 16
#define NR_MAX 32

typedef void (*bn_kernel_fn)(long kc, const double *a, long lda, const double *b, double *c, long ldc,
                             double alpha, double beta);

typedef void (*bn_kernel_ptrs_fn)(long kc, const double *const *ap, const double *b, double *c, long ldc,
                                  double alpha, double beta);

typedef struct {
    bn_kernel_fn cols;
    bn_kernel_fn rows;
    bn_kernel_ptrs_fn ptrs;
    int mr, nr;
} bn_kernel_info;

// ---------------------------------------------------------------------------------------------
// Portable kernel, 6 x 8.

static inline void portable_core(long kc, const double *const *ap, long step, const double *b, double *c,
                                 long ldc, double alpha, double beta) {
    double acc[6][8];
    memset(acc, 0, sizeof acc);
    for (long p = 0; p < kc; p++) {
        for (int r = 0; r < 6; r++) {
            double ar = ap[r][p * step];
            for (int j = 0; j < 8; j++) acc[r][j] += ar * b[j];
        }
        b += 8;
    }
    for (int r = 0; r < 6; r++) {
        double *cr = c + r * ldc;
        if (beta == 0.0) for (int j = 0; j < 8; j++) cr[j] = alpha * acc[r][j];
        else for (int j = 0; j < 8; j++) cr[j] = alpha * acc[r][j] + beta * cr[j];
    }
}

static void kernel_portable(long kc, const double *a, long lda, const double *b, double *c, long ldc, double alpha,
                            double beta) {
    (void)lda;
    const double *ap[6] = { a, a + 1, a + 2, a + 3, a + 4, a + 5 };
    portable_core(kc, ap, 6, b, c, ldc, alpha, beta);
}

static void kernel_portable_rows(long kc, const double *a, long lda, const double *b, double *c, long ldc,
                                 double alpha, double beta) {
    const double *ap[6] = { a, a + lda, a + 2 * lda, a + 3 * lda, a + 4 * lda, a + 5 * lda };
    portable_core(kc, ap, 1, b, c, ldc, alpha, beta);
}

static void kernel_portable_ptrs(long kc, const double *const *ap, const double *b, double *c, long ldc,
                                 double alpha, double beta) {
    portable_core(kc, ap, 1, b, c, ldc, alpha, beta);
}

#ifdef BN_X86
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA kernel, 6 x 8: twelve ymm accumulators.

__attribute__((target("avx2,fma"), always_inline))
static inline void avx2_core(long kc, const double *const *ap, long step, const double *b, double *c,
                             long ldc, double alpha, double beta) {
    const double *a0 = ap[0], *a1 = ap[1], *a2 = ap[2], *a3 = ap[3], *a4 = ap[4], *a5 = ap[5];
    __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd(), c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
    __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd(), c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
    __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd(), c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
    for (long p = 0, q = 0; p < kc; p++, q += step) {
        __m256d b0 = _mm256_load_pd(b), b1 = _mm256_load_pd(b + 4);
        __m256d ar;
        ar = _mm256_broadcast_sd(a0 + q); c00 = _mm256_fmadd_pd(ar, b0, c00); c01 = _mm256_fmadd_pd(ar, b1, c01);
        ar = _mm256_broadcast_sd(a1 + q); c10 = _mm256_fmadd_pd(ar, b0, c10); c11 = _mm256_fmadd_pd(ar, b1, c11);
        ar = _mm256_broadcast_sd(a2 + q); c20 = _mm256_fmadd_pd(ar, b0, c20); c21 = _mm256_fmadd_pd(ar, b1, c21);
        ar = _mm256_broadcast_sd(a3 + q); c30 = _mm256_fmadd_pd(ar, b0, c30); c31 = _mm256_fmadd_pd(ar, b1, c31);
        ar = _mm256_broadcast_sd(a4 + q); c40 = _mm256_fmadd_pd(ar, b0, c40); c41 = _mm256_fmadd_pd(ar, b1, c41);
        ar = _mm256_broadcast_sd(a5 + q); c50 = _mm256_fmadd_pd(ar, b0, c50); c51 = _mm256_fmadd_pd(ar, b1, c51);
        b += 8;
    }
    __m256d va = _mm256_set1_pd(alpha);
#define BN_STORE2(r, x0, x1)                                                                   \
    do {                                                                                       \
        double *cr = c + (r) * ldc;                                                            \
        if (beta == 0.0) {                                                                     \
            _mm256_storeu_pd(cr, _mm256_mul_pd(va, x0));                                       \
            _mm256_storeu_pd(cr + 4, _mm256_mul_pd(va, x1));                                   \
        } else {                                                                               \
            __m256d vb = _mm256_set1_pd(beta);                                                 \
            _mm256_storeu_pd(cr, _mm256_fmadd_pd(va, x0, _mm256_mul_pd(vb, _mm256_loadu_pd(cr)))); \
            _mm256_storeu_pd(cr + 4, _mm256_fmadd_pd(va, x1, _mm256_mul_pd(vb, _mm256_loadu_pd(cr + 4)))); \
        }                                                                                      \
    } while (0)
    BN_STORE2(0, c00, c01); BN_STORE2(1, c10, c11); BN_STORE2(2, c20, c21);
    BN_STORE2(3, c30, c31); BN_STORE2(4, c40, c41); BN_STORE2(5, c50, c51);
#undef BN_STORE2
}

__attribute__((target("avx2,fma")))
static void kernel_avx2(long kc, const double *a, long lda, const double *b, double *c, long ldc, double alpha,
                        double beta) {
    (void)lda;
    const double *ap[6] = { a, a + 1, a + 2, a + 3, a + 4, a + 5 };
    avx2_core(kc, ap, 6, b, c, ldc, alpha, beta);
}

__attribute__((target("avx2,fma")))
static void kernel_avx2_rows(long kc, const double *a, long lda, const double *b, double *c, long ldc,
                             double alpha, double beta) {
    const double *ap[6] = { a, a + lda, a + 2 * lda, a + 3 * lda, a + 4 * lda, a + 5 * lda };
    avx2_core(kc, ap, 1, b, c, ldc, alpha, beta);
}

__attribute__((target("avx2,fma")))
static void kernel_avx2_ptrs(long kc, const double *const *ap, const double *b, double *c, long ldc,
                             double alpha, double beta) {
    avx2_core(kc, ap, 1, b, c, ldc, alpha, beta);
}

// ---------------------------------------------------------------------------------------------
// AVX-512 kernels: 12 x 16 (twenty-four zmm accumulators) and 12 x 8 for at most 8 columns.

__attribute__((target("avx512f,fma"), always_inline))
static inline void avx512_core(long kc, const double *const *apIn, long step, int wide, const double *b,
                               double *c, long ldc, double alpha, double beta) {
    const long bstep = wide ? 16 : 8;
    const double *ap[12];
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++) ap[r] = apIn[r];
    __m512d acc0[12], acc1[12];
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++) { acc0[r] = _mm512_setzero_pd(); acc1[r] = _mm512_setzero_pd(); }
    for (long p = 0, q = 0; p < kc; p++, q += step) {
        __m512d b0 = _mm512_load_pd(b);
        __m512d b1 = wide ? _mm512_load_pd(b + 8) : b0;
#pragma GCC unroll 12
        for (int r = 0; r < 12; r++) {
            __m512d ar = _mm512_set1_pd(ap[r][q]);
            acc0[r] = _mm512_fmadd_pd(ar, b0, acc0[r]);
            if (wide) acc1[r] = _mm512_fmadd_pd(ar, b1, acc1[r]);
        }
        b += bstep;
    }
    __m512d va = _mm512_set1_pd(alpha), vb = _mm512_set1_pd(beta);
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++) {
        double *cr = c + r * ldc;
        if (beta == 0.0) {
            _mm512_storeu_pd(cr, _mm512_mul_pd(va, acc0[r]));
            if (wide) _mm512_storeu_pd(cr + 8, _mm512_mul_pd(va, acc1[r]));
        } else {
            _mm512_storeu_pd(cr, _mm512_fmadd_pd(va, acc0[r], _mm512_mul_pd(vb, _mm512_loadu_pd(cr))));
            if (wide) _mm512_storeu_pd(cr + 8, _mm512_fmadd_pd(va, acc1[r], _mm512_mul_pd(vb, _mm512_loadu_pd(cr + 8))));
        }
    }
}

#define BN_COLS12(a) { a, a + 1, a + 2, a + 3, a + 4, a + 5, a + 6, a + 7, a + 8, a + 9, a + 10, a + 11 }
#define BN_ROWS12(a, l) { a, a + l, a + 2 * l, a + 3 * l, a + 4 * l, a + 5 * l, a + 6 * l, a + 7 * l, a + 8 * l, \
                          a + 9 * l, a + 10 * l, a + 11 * l }
#define BN_AVX512_ENTRIES(suffix, wide)                                                                        \
    __attribute__((target("avx512f,fma")))                                                                      \
    static void kernel_avx512##suffix(long kc, const double *a, long lda, const double *b, double *c, long ldc, \
                                      double alpha, double beta) {                                              \
        (void)lda;                                                                                              \
        const double *ap[12] = BN_COLS12(a);                                                                    \
        avx512_core(kc, ap, 12, wide, b, c, ldc, alpha, beta);                                                  \
    }                                                                                                           \
    __attribute__((target("avx512f,fma")))                                                                      \
    static void kernel_avx512##suffix##_rows(long kc, const double *a, long lda, const double *b, double *c,    \
                                             long ldc, double alpha, double beta) {                             \
        const double *ap[12] = BN_ROWS12(a, lda);                                                               \
        avx512_core(kc, ap, 1, wide, b, c, ldc, alpha, beta);                                                   \
    }                                                                                                           \
    __attribute__((target("avx512f,fma")))                                                                      \
    static void kernel_avx512##suffix##_ptrs(long kc, const double *const *ap, const double *b, double *c,      \
                                             long ldc, double alpha, double beta) {                             \
        avx512_core(kc, ap, 1, wide, b, c, ldc, alpha, beta);                                                   \
    }

BN_AVX512_ENTRIES(, 1)
BN_AVX512_ENTRIES(_8, 0)
#endif

static bn_kernel_info kernel_info(long n) {
    bn_kernel_info info = { kernel_portable, kernel_portable_rows, kernel_portable_ptrs, 6, 8 };
#ifdef BN_X86
    switch (bn_cpu_level()) {
    case BN_CPU_AVX2:
        info.cols = kernel_avx2; info.rows = kernel_avx2_rows; info.ptrs = kernel_avx2_ptrs; info.mr = 6; info.nr = 8;
        break;
    case BN_CPU_AVX512:
        if (n <= 8) {
            info.cols = kernel_avx512_8; info.rows = kernel_avx512_8_rows; info.ptrs = kernel_avx512_8_ptrs;
            info.mr = 12; info.nr = 8;
        } else {
            info.cols = kernel_avx512; info.rows = kernel_avx512_rows; info.ptrs = kernel_avx512_ptrs;
            info.mr = 12; info.nr = 16;
        }
        break;
    default: break;
    }
#endif
    return info;
}

#define REAL double
#define A_SOURCE bn_a_source_f64
#define GEMM_ROWS bn_dgemm_rows
#define COL2IM_ADD bn_col2im_add_f64
#define IM2COL_SEGMENT bn_im2col_segment_f64
#include "gemm_driver.h"
