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
// `rowsLayout` is a compile-time constant after inlining into the two entry points below.

__attribute__((target("avx2,fma"), always_inline))
static inline void avx2_tile(long kc, const float *a, long lda, int rowsLayout, const float *b, float *c,
                             long ldc, float alpha, float beta) {
    const long rs = rowsLayout ? lda : 1, step = rowsLayout ? 1 : 6;
    const float *a0 = a, *a1 = a + rs, *a2 = a + 2 * rs, *a3 = a + 3 * rs, *a4 = a + 4 * rs, *a5 = a + 5 * rs;
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
    avx2_tile(kc, a, lda, 0, b, c, ldc, alpha, beta);
}

__attribute__((target("avx2,fma")))
static void kernel_avx2_rows(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                             float alpha, float beta) {
    avx2_tile(kc, a, lda, 1, b, c, ldc, alpha, beta);
}

// ---------------------------------------------------------------------------------------------
// AVX-512 kernel, 12 x 32: twenty-four zmm accumulators, two B loads, twelve broadcasts per step.

__attribute__((target("avx512f,fma"), always_inline))
static inline void avx512_tile(long kc, const float *a, long lda, int rowsLayout, const float *b, float *c,
                               long ldc, float alpha, float beta) {
    const long rs = rowsLayout ? lda : 1, step = rowsLayout ? 1 : 12;
    const float *a0 = a, *a1 = a + rs, *a2 = a + 2 * rs, *a3 = a + 3 * rs, *a4 = a + 4 * rs, *a5 = a + 5 * rs;
    const float *a6 = a + 6 * rs, *a7 = a + 7 * rs, *a8 = a + 8 * rs, *a9 = a + 9 * rs, *a10 = a + 10 * rs,
                *a11 = a + 11 * rs;
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
static inline void avx512_tile16(long kc, const float *a, long lda, int rowsLayout, const float *b, float *c,
                                 long ldc, float alpha, float beta) {
    const long rs = rowsLayout ? lda : 1, step = rowsLayout ? 1 : 12;
    const float *a0 = a, *a1 = a + rs, *a2 = a + 2 * rs, *a3 = a + 3 * rs, *a4 = a + 4 * rs, *a5 = a + 5 * rs;
    const float *a6 = a + 6 * rs, *a7 = a + 7 * rs, *a8 = a + 8 * rs, *a9 = a + 9 * rs, *a10 = a + 10 * rs,
                *a11 = a + 11 * rs;
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

__attribute__((target("avx512f,fma")))
static void kernel_avx512_16(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha,
                             float beta) {
    avx512_tile16(kc, a, lda, 0, b, c, ldc, alpha, beta);
}

__attribute__((target("avx512f,fma")))
static void kernel_avx512_16_rows(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                                  float alpha, float beta) {
    avx512_tile16(kc, a, lda, 1, b, c, ldc, alpha, beta);
}

__attribute__((target("avx512f,fma")))
static void kernel_avx512(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha,
                          float beta) {
    avx512_tile(kc, a, lda, 0, b, c, ldc, alpha, beta);
}

__attribute__((target("avx512f,fma")))
static void kernel_avx512_rows(long kc, const float *a, long lda, const float *b, float *c, long ldc,
                               float alpha, float beta) {
    avx512_tile(kc, a, lda, 1, b, c, ldc, alpha, beta);
}
#endif

// ---------------------------------------------------------------------------------------------
// Kernel selection.

typedef struct {
    bn_kernel_fn cols;   // column-major A panels
    bn_kernel_fn rows;   // row-major A panels
    int mr, nr;
} bn_kernel_info;

static int selected = -1;

static int supported(int kernel) {
    switch (kernel) {
    case BN_KERNEL_PORTABLE: return 1;
    case BN_KERNEL_AVX2: return bn_cpu_has_avx2_fma();
    case BN_KERNEL_AVX512: return bn_cpu_has_avx512f();
    default: return 0;
    }
}

int bn_sgemm_kernel(void) {
    int k = __atomic_load_n(&selected, __ATOMIC_RELAXED);
    if (k < 0) {
        k = supported(BN_KERNEL_AVX512) ? BN_KERNEL_AVX512
          : supported(BN_KERNEL_AVX2) ? BN_KERNEL_AVX2 : BN_KERNEL_PORTABLE;
        __atomic_store_n(&selected, k, __ATOMIC_RELAXED);
    }
    return k;
}

int bn_sgemm_set_kernel(int kernel) {
    if (!supported(kernel)) return 0;
    __atomic_store_n(&selected, kernel, __ATOMIC_RELAXED);
    return 1;
}

/// The kernel family in use, narrowed to a 16-column tile when C has at most 16 columns.
static bn_kernel_info kernel_info(long n) {
    bn_kernel_info info = { kernel_portable, kernel_portable_rows, 6, 16 };
#ifdef BN_X86
    switch (bn_sgemm_kernel()) {
    case BN_KERNEL_AVX2:
        info.cols = kernel_avx2; info.rows = kernel_avx2_rows; info.mr = 6; info.nr = 16;
        break;
    case BN_KERNEL_AVX512:
        if (n <= 16) {
            info.cols = kernel_avx512_16; info.rows = kernel_avx512_16_rows; info.mr = 12; info.nr = 16;
        } else {
            info.cols = kernel_avx512; info.rows = kernel_avx512_rows; info.mr = 12; info.nr = 32;
        }
        break;
    default: break;
    }
#endif
    return info;
}

// ---------------------------------------------------------------------------------------------
// Implicit im2col.

/// An output position of the im2col matrix's row: example and (z, y, x), advanced without divisions.
typedef struct {
    long example, oz, oy, ox;
} im2col_pos;

static inline void pos_from_row(const bn_conv_geom *g, long row, im2col_pos *p) {
    const long oh = g->out[1], ow = g->out[2];
    const long positions = g->out[0] * oh * ow;
    p->example = row / positions;
    long pos = row % positions;
    p->oz = pos / (oh * ow);
    long rem = pos % (oh * ow);
    p->oy = rem / ow;
    p->ox = rem % ow;
}

static inline void pos_next(const bn_conv_geom *g, im2col_pos *p) {
    if (++p->ox < g->out[2]) return;
    p->ox = 0;
    if (++p->oy < g->out[1]) return;
    p->oy = 0;
    if (++p->oz < g->out[0]) return;
    p->oz = 0;
    p->example++;
}

/// Copies im2col[pos][col0 ..< col0+count] to dst (contiguous): runs of channels from each tap, zeros where
/// the tap falls in the padding.
static void im2col_copy(const bn_conv_geom *g, const float *x, const im2col_pos *pos, long col0, long count,
                        float *dst) {
    const long C = g->inChannels;
    const long D = g->in[0], H = g->in[1], W = g->in[2];
    const long z0 = pos->oz * g->stride[0] - g->pad[0];
    const long y0 = pos->oy * g->stride[1] - g->pad[1];
    const long x0 = pos->ox * g->stride[2] - g->pad[2];
    const float *xe = x + pos->example * (D * H * W * C);
    const long fh = g->filter[1], fw = g->filter[2];
    long ch = 0, tz = 0, ty = 0, tx = 0;
    if (col0 != 0) {   // whole rows (the usual case) start at tap 0 without any division
        long tap = col0 / C;
        ch = col0 - tap * C;
        tz = tap / (fh * fw);
        long tr = tap - tz * fh * fw;
        ty = tr / fw;
        tx = tr - ty * fw;
    }
    const long dx = g->dilation[2];
    while (count > 0) {
        long iz = z0 + tz * g->dilation[0], iy = y0 + ty * g->dilation[1], ix = x0 + tx * dx;
        int rowValid = iz >= 0 && iz < D && iy >= 0 && iy < H;
        long run;
        if (rowValid && ix >= 0 && ix < W) {
            // Undilated along x, the taps of one filter row that land inside the input are one contiguous run.
            long taps = dx == 1 ? (fw < W - x0 ? fw : W - x0) - tx : 1;
            run = taps * C - ch;
            if (run > count) run = count;
            const float *src = xe + ((iz * H + iy) * W + ix) * C + ch;
            if (run <= 8) for (long i = 0; i < run; i++) dst[i] = src[i];   // few values: no library call
            else memcpy(dst, src, (size_t)run * sizeof(float));
        } else {
            run = C - ch;
            if (run > count) run = count;
            if (run <= 8) for (long i = 0; i < run; i++) dst[i] = 0.0f;
            else memset(dst, 0, (size_t)run * sizeof(float));
        }
        dst += run;
        count -= run;
        long advanced = ch + run;
        long steps = advanced / C;
        ch = advanced - steps * C;
        tx += steps;
        while (tx >= fw) { tx -= fw; if (++ty == fh) { ty = 0; tz++; } }
    }
}

void bn_col2im_add(const bn_conv_geom *g, const float *src, long ld, long row0, long rows, float *dx) {
    const long C = g->inChannels;
    const long D = g->in[0], H = g->in[1], W = g->in[2];
    const long fd = g->filter[0], fh = g->filter[1], fw = g->filter[2];
    im2col_pos pos;
    pos_from_row(g, row0, &pos);
    for (long r = 0; r < rows; r++, pos_next(g, &pos), src += ld) {
        const long z0 = pos.oz * g->stride[0] - g->pad[0];
        const long y0 = pos.oy * g->stride[1] - g->pad[1];
        const long x0 = pos.ox * g->stride[2] - g->pad[2];
        float *xe = dx + pos.example * (D * H * W * C);
        const float *s = src;
        for (long tz = 0; tz < fd; tz++) {
            long iz = z0 + tz * g->dilation[0];
            for (long ty = 0; ty < fh; ty++) {
                long iy = y0 + ty * g->dilation[1];
                int rowValid = iz >= 0 && iz < D && iy >= 0 && iy < H;
                for (long tx = 0; tx < fw; tx++, s += C) {
                    long ix = x0 + tx * g->dilation[2];
                    if (!rowValid || ix < 0 || ix >= W) continue;
                    float *d = xe + ((iz * H + iy) * W + ix) * C;
                    for (long c = 0; c < C; c++) d[c] += s[c];
                }
            }
        }
    }
}

void bn_im2col_segment(const bn_conv_geom *g, const float *x, long row, long col0, long count,
                       float *dst, long stride) {
    im2col_pos pos;
    pos_from_row(g, row, &pos);
    if (stride == 1) { im2col_copy(g, x, &pos, col0, count, dst); return; }
    float tmp[256];
    while (count > 0) {
        long n = count < 256 ? count : 256;
        im2col_copy(g, x, &pos, col0, n, tmp);
        for (long i = 0; i < n; i++) dst[i * stride] = tmp[i];
        dst += n * stride;
        col0 += n;
        count -= n;
    }
}

// ---------------------------------------------------------------------------------------------
// Packing.

/// Whether A's source packs into row-major panels (its rows are contiguous in memory) or column-major ones.
static int a_rows_layout(const bn_a_source *A) {
    return (A->kind == BN_A_MATRIX && !A->trans) || A->kind == BN_A_IM2COL;
}

/// The transposed im2col block: for each im2col row p, its columns [i0, i0+mc) are gathered once into a
/// small buffer, then dealt out mr at a time to the column-major panels.
static void pack_a_im2col_t(const bn_a_source *A, long i0, long mc, long p0, long kc, int mr, float *dst) {
    float tmp[MC_ROWS];
    im2col_pos pos;
    pos_from_row(A->geom, A->row0 + p0, &pos);
    const long full = mc / mr * mr;
    for (long p = 0; p < kc; p++, pos_next(A->geom, &pos)) {
        im2col_copy(A->geom, A->a, &pos, i0, mc, tmp);
        // Constant-size copies compile to a few vector moves rather than library calls.
        if (mr == 12) {
            for (long ir = 0; ir < full; ir += 12) memcpy(dst + ir * kc + p * 12, tmp + ir, 12 * sizeof(float));
        } else if (mr == 6) {
            for (long ir = 0; ir < full; ir += 6) memcpy(dst + ir * kc + p * 6, tmp + ir, 6 * sizeof(float));
        } else {
            for (long ir = 0; ir < full; ir += mr) memcpy(dst + ir * kc + p * mr, tmp + ir, (size_t)mr * sizeof(float));
        }
        if (full < mc) {
            float *d = dst + full * kc + p * mr;
            long r = 0;
            for (; r < mc - full; r++) d[r] = tmp[full + r];
            for (; r < mr; r++) d[r] = 0.0f;
        }
    }
}

/// Packs op(A)[i0 ..< i0+mc][p0 ..< p0+kc] into panels of mr rows, zero-padded to mr: row-major panels
/// (mr rows of kc) or column-major ones (kc steps of mr), as `a_rows_layout` says. Writes stay contiguous.
static void pack_a(const bn_a_source *A, long i0, long mc, long p0, long kc, int mr, float *dst) {
    for (long ir = 0; ir < mc; ir += mr) {
        long rows = mc - ir < mr ? mc - ir : mr;
        float *panel = dst + ir * kc;
        switch (A->kind) {
        case BN_A_MATRIX:
            if (!A->trans) {
                for (long r = 0; r < rows; r++)
                    memcpy(panel + r * kc, A->a + (i0 + ir + r) * A->lda + p0, (size_t)kc * sizeof(float));
                memset(panel + rows * kc, 0, (size_t)((mr - rows) * kc) * sizeof(float));
            } else {
                for (long p = 0; p < kc; p++) {
                    const float *src = A->a + (p0 + p) * A->lda + i0 + ir;
                    float *d = panel + p * mr;
                    long r = 0;
                    for (; r < rows; r++) d[r] = src[r];
                    for (; r < mr; r++) d[r] = 0.0f;
                }
            }
            break;
        case BN_A_IM2COL: {
            im2col_pos pos;
            pos_from_row(A->geom, i0 + ir, &pos);
            for (long r = 0; r < rows; r++, pos_next(A->geom, &pos))
                im2col_copy(A->geom, A->a, &pos, p0, kc, panel + r * kc);
            memset(panel + rows * kc, 0, (size_t)((mr - rows) * kc) * sizeof(float));
            break;
        }
        case BN_A_IM2COL_T:
            pack_a_im2col_t(A, i0, mc, p0, kc, mr, dst);
            return;
        }
    }
}

/// Packs op(B)[p0 ..< p0+kc][j0 ..< j0+nc] into panels of nr columns, each kc x nr, zero-padded.
static void pack_b(const float *b, long ldb, int transB, long p0, long kc, long j0, long nc, int nr,
                   float *dst) {
    for (long jr = 0; jr < nc; jr += nr) {
        long cols = nc - jr < nr ? nc - jr : nr;
        float *panel = dst + jr * kc;
        if (!transB) {
            for (long p = 0; p < kc; p++) {
                const float *src = b + (p0 + p) * ldb + j0 + jr;
                float *d = panel + p * nr;
                long j = 0;
                for (; j < cols; j++) d[j] = src[j];
                for (; j < nr; j++) d[j] = 0.0f;
            }
        } else {
            for (long j = 0; j < cols; j++) {
                const float *src = b + (j0 + jr + j) * ldb + p0;
                for (long p = 0; p < kc; p++) panel[p * nr + j] = src[p];
            }
            for (long j = cols; j < nr; j++)
                for (long p = 0; p < kc; p++) panel[p * nr + j] = 0.0f;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The blocked driver.

static void scale_rows(float *c, long ldc, long m0, long m1, long n, float beta) {
    for (long i = m0; i < m1; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f) memset(ci, 0, (size_t)n * sizeof(float));
        else if (beta != 1.0f) for (long j = 0; j < n; j++) ci[j] *= beta;
    }
}

/// Per-thread packing buffers, kept between calls so large products never pay for fresh pages.
static __thread float *tls_buffer;
static __thread size_t tls_capacity;

static float *scratch(size_t floats) {
    if (floats > tls_capacity) {
        free(tls_buffer);
        size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
        tls_buffer = aligned_alloc(64, bytes);
        tls_capacity = tls_buffer ? floats : 0;
    }
    return tls_buffer;
}

/// One packed A block times one packed B block into C (mc x nc), with edge tiles through a scratch tile.
static void macro_tile(bn_kernel_fn kernel, int mr, int nr, const float *apack, const float *bpack, long mc,
                       long nc, long kc, float alpha, float beta, float *c, long ldc) {
    float edge[MR_MAX * NR_MAX] __attribute__((aligned(64)));
    for (long jr = 0; jr < nc; jr += nr) {
        long cols = nc - jr < nr ? nc - jr : nr;
        const float *bp = bpack + jr * kc;
        for (long ir = 0; ir < mc; ir += mr) {
            long rows = mc - ir < mr ? mc - ir : mr;
            const float *ap = apack + ir * kc;
            float *cp = c + ir * ldc + jr;
            if (rows == mr && cols == nr) {
                kernel(kc, ap, kc, bp, cp, ldc, alpha, beta);
            } else {
                kernel(kc, ap, kc, bp, edge, nr, alpha, 0.0f);
                for (long r = 0; r < rows; r++) {
                    float *cr = cp + r * ldc;
                    const float *er = edge + r * nr;
                    if (beta == 0.0f) for (long j = 0; j < cols; j++) cr[j] = er[j];
                    else for (long j = 0; j < cols; j++) cr[j] = er[j] + beta * cr[j];
                }
            }
        }
    }
}

/// Packed B up to this size is packed once for the whole depth, so each block of C stays in cache while
/// every depth block is added into it (convolution shapes: small N and K, very large M).
#define B_RESIDENT_BYTES (512 * 1024)

void bn_sgemm_rows(const bn_a_source *A, long m0, long m1, long n, long k, float alpha,
                   const float *b, long ldb, int transB, float beta, float *c, long ldc) {
    if (m1 <= m0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) { scale_rows(c, ldc, m0, m1, n, beta); return; }
    bn_kernel_info K = kernel_info(n);
    const int mr = K.mr, nr = K.nr;
    bn_kernel_fn kernel = a_rows_layout(A) ? K.rows : K.cols;
    // Equal depth blocks: 576 = 3 x 192 rather than 256 + 256 + 64.
    const long kblocks = (k + KC - 1) / KC;
    const long kcb = (k + kblocks - 1) / kblocks;
    const long ncap = n < NC ? n : NC;
    const long ncr = (ncap + nr - 1) / nr * nr;
    const int resident = (size_t)ncr * (size_t)k * sizeof(float) <= B_RESIDENT_BYTES;
    size_t bsize = (size_t)ncr * (size_t)(resident ? k : kcb);
    size_t asize = (size_t)MC_ROWS * kcb;
    float *bpack = scratch(bsize + asize + 16);
    float *apack = bpack + (bsize + 15) / 16 * 16;

    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        if (resident) {
            for (long pc = 0; pc < k; pc += kcb) {
                long kc = k - pc < kcb ? k - pc : kcb;
                pack_b(b, ldb, transB, pc, kc, jc, nc, nr, bpack + pc * ncr);
            }
            for (long ic = m0; ic < m1; ic += MC_ROWS) {
                long mc = m1 - ic < MC_ROWS ? m1 - ic : MC_ROWS;
                for (long pc = 0; pc < k; pc += kcb) {
                    long kc = k - pc < kcb ? k - pc : kcb;
                    pack_a(A, ic, mc, pc, kc, mr, apack);
                    macro_tile(kernel, mr, nr, apack, bpack + pc * ncr, mc, nc, kc, alpha, pc == 0 ? beta : 1.0f,
                               c + ic * ldc + jc, ldc);
                }
            }
        } else {
            for (long pc = 0; pc < k; pc += kcb) {
                long kc = k - pc < kcb ? k - pc : kcb;
                pack_b(b, ldb, transB, pc, kc, jc, nc, nr, bpack);
                for (long ic = m0; ic < m1; ic += MC_ROWS) {
                    long mc = m1 - ic < MC_ROWS ? m1 - ic : MC_ROWS;
                    pack_a(A, ic, mc, pc, kc, mr, apack);
                    macro_tile(kernel, mr, nr, apack, bpack, mc, nc, kc, alpha, pc == 0 ? beta : 1.0f,
                               c + ic * ldc + jc, ldc);
                }
            }
        }
    }
}
