// Single-precision GEMM: BLIS-style blocking, packed panels, register-blocked micro-kernels.
// The AVX2 and AVX-512 kernels carry per-function target attributes so the package needs no
// global compiler flags; the kernel is picked at run time from the CPU's features.
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

/// A micro-kernel: C[mr x nr] = alpha * Apanel * Bpanel + beta * C. The A panel is either column-major
/// (kc steps of mr values; `lda` unused) or row-major (mr rows of `lda` floats), whichever its source packs
/// with contiguous writes.
typedef void (*bn_kernel_fn)(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha,
                             float beta);

// ---------------------------------------------------------------------------------------------
// Portable kernel, 6 x 16, plain C (the compiler vectorises what the target allows).

static void store_tile_portable(float acc[6][16], float *c, long ldc, float alpha, float beta);

static void kernel_portable(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha,
                            float beta) {
    (void)lda;
    float acc[6][16];
    memset(acc, 0, sizeof acc);
    for (long p = 0; p < kc; p++) {
        for (int r = 0; r < 6; r++) {
            float ar = a[r];
            for (int j = 0; j < 16; j++) acc[r][j] += ar * b[j];
        }
        a += 6;
        b += 16;
    }
    store_tile_portable(acc, c, ldc, alpha, beta);
}

static void kernel_portable_rows(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                                 float alpha, float beta) {
    float acc[6][16];
    memset(acc, 0, sizeof acc);
    for (long p = 0; p < kc; p++) {
        for (int r = 0; r < 6; r++) {
            float ar = a[r * lda + p];
            for (int j = 0; j < 16; j++) acc[r][j] += ar * b[j];
        }
        b += 16;
    }
    store_tile_portable(acc, c, ldc, alpha, beta);
}

static void kernel_portable_ptrs(long kc, const float *const *ap, const float *b, float *c, long ldc,
                                 float alpha, float beta) {
    float acc[6][16];
    memset(acc, 0, sizeof acc);
    for (long p = 0; p < kc; p++) {
        for (int r = 0; r < 6; r++) {
            float ar = ap[r][p];
            for (int j = 0; j < 16; j++) acc[r][j] += ar * b[j];
        }
        b += 16;
    }
    store_tile_portable(acc, c, ldc, alpha, beta);
}

static void store_tile_portable(float acc[6][16], float *c, long ldc, float alpha, float beta) {
    for (int r = 0; r < 6; r++) {
        float *cr = c + r * ldc;
        if (beta == 0.0f) {
            for (int j = 0; j < 16; j++) cr[j] = alpha * acc[r][j];
        } else {
            for (int j = 0; j < 16; j++) cr[j] = alpha * acc[r][j] + beta * cr[j];
        }
    }
}

#ifdef BN_X86
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA kernel, 6 x 16: twelve ymm accumulators, two B loads and six broadcasts per step.
// The core reads row r of A from ap[r] + p·step: column-major panels, row-major panels and rows anywhere
// (implicit im2col straight from the input) share it.

__attribute__((target("avx2,fma"), always_inline))
static inline void avx2_core(long kc, const float *const *ap, long step, const float *b, float *c, long ldc,
                             float alpha, float beta) {
    const float *a0 = ap[0], *a1 = ap[1], *a2 = ap[2], *a3 = ap[3], *a4 = ap[4], *a5 = ap[5];
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (long p = 0, q = 0; p < kc; p++, q += step) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 ar;
        ar = _mm256_broadcast_ss(a0 + q); c00 = _mm256_fmadd_ps(ar, b0, c00); c01 = _mm256_fmadd_ps(ar, b1, c01);
        ar = _mm256_broadcast_ss(a1 + q); c10 = _mm256_fmadd_ps(ar, b0, c10); c11 = _mm256_fmadd_ps(ar, b1, c11);
        ar = _mm256_broadcast_ss(a2 + q); c20 = _mm256_fmadd_ps(ar, b0, c20); c21 = _mm256_fmadd_ps(ar, b1, c21);
        ar = _mm256_broadcast_ss(a3 + q); c30 = _mm256_fmadd_ps(ar, b0, c30); c31 = _mm256_fmadd_ps(ar, b1, c31);
        ar = _mm256_broadcast_ss(a4 + q); c40 = _mm256_fmadd_ps(ar, b0, c40); c41 = _mm256_fmadd_ps(ar, b1, c41);
        ar = _mm256_broadcast_ss(a5 + q); c50 = _mm256_fmadd_ps(ar, b0, c50); c51 = _mm256_fmadd_ps(ar, b1, c51);
        b += 16;
    }
    __m256 va = _mm256_set1_ps(alpha);
#define BN_STORE2(r, x0, x1)                                                                   \
    do {                                                                                       \
        float *cr = c + (r) * ldc;                                                             \
        if (beta == 0.0f) {                                                                    \
            _mm256_storeu_ps(cr, _mm256_mul_ps(va, x0));                                       \
            _mm256_storeu_ps(cr + 8, _mm256_mul_ps(va, x1));                                   \
        } else {                                                                               \
            __m256 vb = _mm256_set1_ps(beta);                                                  \
            _mm256_storeu_ps(cr, _mm256_fmadd_ps(va, x0, _mm256_mul_ps(vb, _mm256_loadu_ps(cr)))); \
            _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(va, x1, _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8)))); \
        }                                                                                      \
    } while (0)
    BN_STORE2(0, c00, c01); BN_STORE2(1, c10, c11); BN_STORE2(2, c20, c21);
    BN_STORE2(3, c30, c31); BN_STORE2(4, c40, c41); BN_STORE2(5, c50, c51);
#undef BN_STORE2
}

__attribute__((target("avx2,fma")))
static void kernel_avx2(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha,
                        float beta) {
    (void)lda;
    const float *ap[6] = { a, a + 1, a + 2, a + 3, a + 4, a + 5 };
    avx2_core(kc, ap, 6, b, c, ldc, alpha, beta);
}

__attribute__((target("avx2,fma")))
static void kernel_avx2_rows(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                             float alpha, float beta) {
    const float *ap[6] = { a, a + lda, a + 2 * lda, a + 3 * lda, a + 4 * lda, a + 5 * lda };
    avx2_core(kc, ap, 1, b, c, ldc, alpha, beta);
}

__attribute__((target("avx2,fma")))
static void kernel_avx2_ptrs(long kc, const float *const *ap, const float *b, float *c, long ldc, float alpha,
                             float beta) {
    avx2_core(kc, ap, 1, b, c, ldc, alpha, beta);
}

// ---------------------------------------------------------------------------------------------
// AVX-512 kernel, 12 x 32: twenty-four zmm accumulators, two B loads, twelve broadcasts per step.

__attribute__((target("avx512f,fma"), always_inline))
static inline void avx512_core(long kc, const float *const *ap, long step, const float *b, float *c, long ldc,
                               float alpha, float beta) {
    const float *a0 = ap[0], *a1 = ap[1], *a2 = ap[2], *a3 = ap[3], *a4 = ap[4], *a5 = ap[5];
    const float *a6 = ap[6], *a7 = ap[7], *a8 = ap[8], *a9 = ap[9], *a10 = ap[10], *a11 = ap[11];
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps(), c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps(), c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps(), c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    __m512 c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps(), c70 = _mm512_setzero_ps(), c71 = _mm512_setzero_ps();
    __m512 c80 = _mm512_setzero_ps(), c81 = _mm512_setzero_ps(), c90 = _mm512_setzero_ps(), c91 = _mm512_setzero_ps();
    __m512 cA0 = _mm512_setzero_ps(), cA1 = _mm512_setzero_ps(), cB0 = _mm512_setzero_ps(), cB1 = _mm512_setzero_ps();
    for (long p = 0, q = 0; p < kc; p++, q += step) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        __m512 ar;
#define BN_ROW(ap, x0, x1) \
        ar = _mm512_set1_ps((ap)[q]); x0 = _mm512_fmadd_ps(ar, b0, x0); x1 = _mm512_fmadd_ps(ar, b1, x1);
        BN_ROW(a0, c00, c01) BN_ROW(a1, c10, c11) BN_ROW(a2, c20, c21) BN_ROW(a3, c30, c31)
        BN_ROW(a4, c40, c41) BN_ROW(a5, c50, c51) BN_ROW(a6, c60, c61) BN_ROW(a7, c70, c71)
        BN_ROW(a8, c80, c81) BN_ROW(a9, c90, c91) BN_ROW(a10, cA0, cA1) BN_ROW(a11, cB0, cB1)
#undef BN_ROW
        b += 32;
    }
    __m512 va = _mm512_set1_ps(alpha);
#define BN_STORE2(r, x0, x1)                                                                   \
    do {                                                                                       \
        float *cr = c + (r) * ldc;                                                             \
        if (beta == 0.0f) {                                                                    \
            _mm512_storeu_ps(cr, _mm512_mul_ps(va, x0));                                       \
            _mm512_storeu_ps(cr + 16, _mm512_mul_ps(va, x1));                                  \
        } else {                                                                               \
            __m512 vb = _mm512_set1_ps(beta);                                                  \
            _mm512_storeu_ps(cr, _mm512_fmadd_ps(va, x0, _mm512_mul_ps(vb, _mm512_loadu_ps(cr)))); \
            _mm512_storeu_ps(cr + 16, _mm512_fmadd_ps(va, x1, _mm512_mul_ps(vb, _mm512_loadu_ps(cr + 16)))); \
        }                                                                                      \
    } while (0)
    BN_STORE2(0, c00, c01); BN_STORE2(1, c10, c11); BN_STORE2(2, c20, c21); BN_STORE2(3, c30, c31);
    BN_STORE2(4, c40, c41); BN_STORE2(5, c50, c51); BN_STORE2(6, c60, c61); BN_STORE2(7, c70, c71);
    BN_STORE2(8, c80, c81); BN_STORE2(9, c90, c91); BN_STORE2(10, cA0, cA1); BN_STORE2(11, cB0, cB1);
#undef BN_STORE2
}

// AVX-512 kernel, 12 x 16, for products with at most 16 columns (the 12 x 32 tile would be half empty).
__attribute__((target("avx512f,fma"), always_inline))
static inline void avx512_core16(long kc, const float *const *ap, long step, const float *b, float *c, long ldc,
                                 float alpha, float beta) {
    const float *a0 = ap[0], *a1 = ap[1], *a2 = ap[2], *a3 = ap[3], *a4 = ap[4], *a5 = ap[5];
    const float *a6 = ap[6], *a7 = ap[7], *a8 = ap[8], *a9 = ap[9], *a10 = ap[10], *a11 = ap[11];
    __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps(), c3 = _mm512_setzero_ps();
    __m512 c4 = _mm512_setzero_ps(), c5 = _mm512_setzero_ps(), c6 = _mm512_setzero_ps(), c7 = _mm512_setzero_ps();
    __m512 c8 = _mm512_setzero_ps(), c9 = _mm512_setzero_ps(), cA = _mm512_setzero_ps(), cB = _mm512_setzero_ps();
    for (long p = 0, q = 0; p < kc; p++, q += step) {
        __m512 b0 = _mm512_load_ps(b);
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(a0[q]), b0, c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(a1[q]), b0, c1);
        c2 = _mm512_fmadd_ps(_mm512_set1_ps(a2[q]), b0, c2);
        c3 = _mm512_fmadd_ps(_mm512_set1_ps(a3[q]), b0, c3);
        c4 = _mm512_fmadd_ps(_mm512_set1_ps(a4[q]), b0, c4);
        c5 = _mm512_fmadd_ps(_mm512_set1_ps(a5[q]), b0, c5);
        c6 = _mm512_fmadd_ps(_mm512_set1_ps(a6[q]), b0, c6);
        c7 = _mm512_fmadd_ps(_mm512_set1_ps(a7[q]), b0, c7);
        c8 = _mm512_fmadd_ps(_mm512_set1_ps(a8[q]), b0, c8);
        c9 = _mm512_fmadd_ps(_mm512_set1_ps(a9[q]), b0, c9);
        cA = _mm512_fmadd_ps(_mm512_set1_ps(a10[q]), b0, cA);
        cB = _mm512_fmadd_ps(_mm512_set1_ps(a11[q]), b0, cB);
        b += 16;
    }
    __m512 va = _mm512_set1_ps(alpha);
#define BN_STORE1(r, x0)                                                                       \
    do {                                                                                       \
        float *cr = c + (r) * ldc;                                                             \
        if (beta == 0.0f) _mm512_storeu_ps(cr, _mm512_mul_ps(va, x0));                         \
        else _mm512_storeu_ps(cr, _mm512_fmadd_ps(va, x0, _mm512_mul_ps(_mm512_set1_ps(beta), _mm512_loadu_ps(cr)))); \
    } while (0)
    BN_STORE1(0, c0); BN_STORE1(1, c1); BN_STORE1(2, c2); BN_STORE1(3, c3); BN_STORE1(4, c4); BN_STORE1(5, c5);
    BN_STORE1(6, c6); BN_STORE1(7, c7); BN_STORE1(8, c8); BN_STORE1(9, c9); BN_STORE1(10, cA); BN_STORE1(11, cB);
#undef BN_STORE1
}

#define BN_COLS12(a) { a, a + 1, a + 2, a + 3, a + 4, a + 5, a + 6, a + 7, a + 8, a + 9, a + 10, a + 11 }
#define BN_ROWS12(a, l) { a, a + l, a + 2 * l, a + 3 * l, a + 4 * l, a + 5 * l, a + 6 * l, a + 7 * l, a + 8 * l, \
                          a + 9 * l, a + 10 * l, a + 11 * l }

__attribute__((target("avx512f,fma")))
static void kernel_avx512_16(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha,
                             float beta) {
    (void)lda;
    const float *ap[12] = BN_COLS12(a);
    avx512_core16(kc, ap, 12, b, c, ldc, alpha, beta);
}

__attribute__((target("avx512f,fma")))
static void kernel_avx512_16_rows(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                                  float alpha, float beta) {
    const float *ap[12] = BN_ROWS12(a, lda);
    avx512_core16(kc, ap, 1, b, c, ldc, alpha, beta);
}

__attribute__((target("avx512f,fma")))
static void kernel_avx512_16_ptrs(long kc, const float *const *ap, const float *b, float *c, long ldc,
                                  float alpha, float beta) {
    avx512_core16(kc, ap, 1, b, c, ldc, alpha, beta);
}

__attribute__((target("avx512f,fma")))
static void kernel_avx512(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha,
                          float beta) {
    (void)lda;
    const float *ap[12] = BN_COLS12(a);
    avx512_core(kc, ap, 12, b, c, ldc, alpha, beta);
}

__attribute__((target("avx512f,fma")))
static void kernel_avx512_rows(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                               float alpha, float beta) {
    const float *ap[12] = BN_ROWS12(a, lda);
    avx512_core(kc, ap, 1, b, c, ldc, alpha, beta);
}

__attribute__((target("avx512f,fma")))
static void kernel_avx512_ptrs(long kc, const float *const *ap, const float *b, float *c, long ldc, float alpha,
                               float beta) {
    avx512_core(kc, ap, 1, b, c, ldc, alpha, beta);
}
#endif

// ---------------------------------------------------------------------------------------------
// Kernel selection.

/// A micro-kernel whose mr rows of A are read straight from mr pointers (kc contiguous values each).
typedef void (*bn_kernel_ptrs_fn)(long kc, const float *const *ap, const float *b, float *c, long ldc, float alpha,
                                  float beta);

typedef struct {
    bn_kernel_fn cols;        // column-major A panels
    bn_kernel_fn rows;        // row-major A panels
    bn_kernel_ptrs_fn ptrs;   // rows anywhere in memory
    int mr, nr;
} bn_kernel_info;

/// The kernel family in use, narrowed to a 16-column tile when C has at most 16 columns.
static bn_kernel_info kernel_info(long n) {
    bn_kernel_info info = { kernel_portable, kernel_portable_rows, kernel_portable_ptrs, 6, 16 };
#ifdef BN_X86
    switch (bn_cpu_level()) {
    case BN_CPU_AVX2:
        info.cols = kernel_avx2; info.rows = kernel_avx2_rows; info.ptrs = kernel_avx2_ptrs;
        info.mr = 6; info.nr = 16;
        break;
    case BN_CPU_AVX512:
        if (n <= 16) {
            info.cols = kernel_avx512_16; info.rows = kernel_avx512_16_rows; info.ptrs = kernel_avx512_16_ptrs;
            info.mr = 12; info.nr = 16;
        } else {
            info.cols = kernel_avx512; info.rows = kernel_avx512_rows; info.ptrs = kernel_avx512_ptrs;
            info.mr = 12; info.nr = 32;
        }
        break;
    default: break;
    }
#endif
    return info;
}

#define REAL float
#define FEW_CHANNELS_KERNELS 1
#define A_SOURCE bn_a_source
#define GEMM_ROWS bn_sgemm_rows
#define COL2IM_ADD bn_col2im_add
#define IM2COL_SEGMENT bn_im2col_segment
#include "gemm_driver.h"
