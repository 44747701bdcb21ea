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

typedef void (*bn_kernel_fn)(long kc, const float *a, const float *b, float *c, long ldc, float alpha,
                             float beta);

// ---------------------------------------------------------------------------------------------
// Portable kernel, 6 x 16, plain C (the compiler vectorises what the target allows).

static void kernel_portable(long kc, const float *a, const float *b, float *c, long ldc, float alpha,
                            float beta) {
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

__attribute__((target("avx2,fma")))
static void kernel_avx2(long kc, const float *a, const float *b, float *c, long ldc, float alpha,
                        float beta) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (long p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 ar;
        ar = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(ar, b0, c00); c01 = _mm256_fmadd_ps(ar, b1, c01);
        ar = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(ar, b0, c10); c11 = _mm256_fmadd_ps(ar, b1, c11);
        ar = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(ar, b0, c20); c21 = _mm256_fmadd_ps(ar, b1, c21);
        ar = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(ar, b0, c30); c31 = _mm256_fmadd_ps(ar, b1, c31);
        ar = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(ar, b0, c40); c41 = _mm256_fmadd_ps(ar, b1, c41);
        ar = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(ar, b0, c50); c51 = _mm256_fmadd_ps(ar, b1, c51);
        a += 6;
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

// ---------------------------------------------------------------------------------------------
// AVX-512 kernel, 12 x 32: twenty-four zmm accumulators, two B loads, broadcasts folded into the FMAs.

__attribute__((target("avx512f,fma")))
static void kernel_avx512(long kc, const float *a, const float *b, float *c, long ldc, float alpha,
                          float beta) {
    __m512 acc[12][2];
    for (int r = 0; r < 12; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); }
    for (long p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
        for (int r = 0; r < 12; r++) {
            __m512 ar = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
        }
        a += 12;
        b += 32;
    }
    __m512 va = _mm512_set1_ps(alpha);
    for (int r = 0; r < 12; r++) {
        float *cr = c + r * ldc;
        if (beta == 0.0f) {
            _mm512_storeu_ps(cr, _mm512_mul_ps(va, acc[r][0]));
            _mm512_storeu_ps(cr + 16, _mm512_mul_ps(va, acc[r][1]));
        } else {
            __m512 vb = _mm512_set1_ps(beta);
            _mm512_storeu_ps(cr, _mm512_fmadd_ps(va, acc[r][0], _mm512_mul_ps(vb, _mm512_loadu_ps(cr))));
            _mm512_storeu_ps(cr + 16, _mm512_fmadd_ps(va, acc[r][1], _mm512_mul_ps(vb, _mm512_loadu_ps(cr + 16))));
        }
    }
}
#endif

// ---------------------------------------------------------------------------------------------
// Kernel selection.

typedef struct {
    bn_kernel_fn fn;
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

static bn_kernel_info kernel_info(void) {
    bn_kernel_info info = { kernel_portable, 6, 16 };
#ifdef BN_X86
    switch (bn_sgemm_kernel()) {
    case BN_KERNEL_AVX2: info.fn = kernel_avx2; info.mr = 6; info.nr = 16; break;
    case BN_KERNEL_AVX512: info.fn = kernel_avx512; info.mr = 12; info.nr = 32; break;
    default: break;
    }
#endif
    return info;
}

// ---------------------------------------------------------------------------------------------
// Implicit im2col.

void bn_im2col_segment(const bn_conv_geom *g, const float *x, long row, long col0, long count,
                       float *dst, long stride) {
    const long C = g->inChannels;
    const long od = g->out[0], oh = g->out[1], ow = g->out[2];
    const long positions = od * oh * ow;
    long example = row / positions, pos = row % positions;
    long oz = pos / (oh * ow), rem = pos % (oh * ow);
    long oy = rem / ow, ox = rem % ow;
    long z0 = oz * g->stride[0] - g->pad[0];
    long y0 = oy * g->stride[1] - g->pad[1];
    long x0 = ox * g->stride[2] - g->pad[2];
    const float *xe = x + example * (g->in[0] * g->in[1] * g->in[2] * C);
    long tap = col0 / C, ch = col0 % C;
    const long fh = g->filter[1], fw = g->filter[2];
    while (count > 0) {
        long run = C - ch;
        if (run > count) run = count;
        long tz = tap / (fh * fw), tr = tap % (fh * fw);
        long ty = tr / fw, tx = tr % fw;
        long iz = z0 + tz * g->dilation[0], iy = y0 + ty * g->dilation[1], ix = x0 + tx * g->dilation[2];
        if (iz >= 0 && iz < g->in[0] && iy >= 0 && iy < g->in[1] && ix >= 0 && ix < g->in[2]) {
            const float *src = xe + ((iz * g->in[1] + iy) * g->in[2] + ix) * C + ch;
            if (stride == 1) {
                memcpy(dst, src, (size_t)run * sizeof(float));
            } else {
                for (long i = 0; i < run; i++) dst[i * stride] = src[i];
            }
        } else {
            for (long i = 0; i < run; i++) dst[i * stride] = 0.0f;
        }
        dst += run * stride;
        count -= run;
        ch = 0;
        tap++;
    }
}

// ---------------------------------------------------------------------------------------------
// Packing.

/// Packs op(A)[i0 ..< i0+mc][p0 ..< p0+kc] into panels of mr rows, each kc x mr, zero-padded.
static void pack_a(const bn_a_source *A, long i0, long mc, long p0, long kc, int mr, float *dst) {
    for (long ir = 0; ir < mc; ir += mr) {
        long rows = mc - ir < mr ? mc - ir : mr;
        float *panel = dst + ir * kc;
        switch (A->kind) {
        case BN_A_MATRIX:
            if (!A->trans) {
                for (long r = 0; r < rows; r++) {
                    const float *src = A->a + (i0 + ir + r) * A->lda + p0;
                    for (long p = 0; p < kc; p++) panel[p * mr + r] = src[p];
                }
            } else {
                for (long p = 0; p < kc; p++) {
                    const float *src = A->a + (p0 + p) * A->lda + i0 + ir;
                    float *d = panel + p * mr;
                    long r = 0;
                    for (; r < rows; r++) d[r] = src[r];
                    for (; r < mr; r++) d[r] = 0.0f;
                }
                continue;
            }
            break;
        case BN_A_IM2COL:
            for (long r = 0; r < rows; r++)
                bn_im2col_segment(A->geom, A->a, i0 + ir + r, p0, kc, panel + r, mr);
            break;
        case BN_A_IM2COL_T:
            for (long p = 0; p < kc; p++) {
                float *d = panel + p * mr;
                bn_im2col_segment(A->geom, A->a, A->row0 + p0 + p, i0 + ir, rows, d, 1);
                for (long r = rows; r < mr; r++) d[r] = 0.0f;
            }
            continue;
        }
        for (long r = rows; r < mr; r++)
            for (long p = 0; p < kc; p++) panel[p * mr + r] = 0.0f;
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

void bn_sgemm_rows(const bn_a_source *A, long m0, long m1, long n, long k, float alpha,
                   const float *b, long ldb, int transB, float beta, float *c, long ldc) {
    if (m1 <= m0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) { scale_rows(c, ldc, m0, m1, n, beta); return; }
    bn_kernel_info K = kernel_info();
    const int mr = K.mr, nr = K.nr;
    long ncap = n < NC ? n : NC;
    long kcap = k < KC ? k : KC;
    size_t bsize = (size_t)((ncap + nr - 1) / nr * nr) * kcap;
    size_t asize = (size_t)MC_ROWS * kcap;
    float *bpack = aligned_alloc(64, ((bsize * sizeof(float)) + 63) / 64 * 64);
    float *apack = aligned_alloc(64, ((asize * sizeof(float)) + 63) / 64 * 64);
    float edge[MR_MAX * NR_MAX] __attribute__((aligned(64)));

    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        for (long pc = 0; pc < k; pc += KC) {
            long kc = k - pc < KC ? k - pc : KC;
            float bt = pc == 0 ? beta : 1.0f;
            pack_b(b, ldb, transB, pc, kc, jc, nc, nr, bpack);
            for (long ic = m0; ic < m1; ic += MC_ROWS) {
                long mc = m1 - ic < MC_ROWS ? m1 - ic : MC_ROWS;
                pack_a(A, ic, mc, pc, kc, mr, apack);
                for (long jr = 0; jr < nc; jr += nr) {
                    long cols = nc - jr < nr ? nc - jr : nr;
                    const float *bp = bpack + jr * kc;
                    for (long ir = 0; ir < mc; ir += mr) {
                        long rows = mc - ir < mr ? mc - ir : mr;
                        const float *ap = apack + ir * kc;
                        float *cp = c + (ic + ir) * ldc + jc + jr;
                        if (rows == mr && cols == nr) {
                            K.fn(kc, ap, bp, cp, ldc, alpha, bt);
                        } else {
                            K.fn(kc, ap, bp, edge, nr, alpha, 0.0f);
                            for (long r = 0; r < rows; r++) {
                                float *cr = cp + r * ldc;
                                const float *er = edge + r * nr;
                                if (bt == 0.0f) for (long j = 0; j < cols; j++) cr[j] = er[j];
                                else for (long j = 0; j < cols; j++) cr[j] = er[j] + bt * cr[j];
                            }
                        }
                    }
                }
            }
        }
    }
    free(bpack);
    free(apack);
}
