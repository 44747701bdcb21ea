// Convolutions with one input channel, read straight from a zero-padded copy of each example (AVX-512,
// single precision). Included by gemm_driver.h for sgemm.c, after the packing helpers.
//
// With one input channel, each im2col row is the filter's taps over a single plane: a run of fw floats per
// filter row, so the packed GEMM copies 5-float runs (a 5x5 filter) and its 16-wide tiles hold a handful of
// output channels. These kernels broadcast each input value from the padded copy instead and keep the
// output channels in one masked vector. Every element is the same fused multiply-add chain as the packed
// GEMM's (taps in order from zero, padding included as zeros, the same depth blocks), so results keep their
// bits.

/// Output positions (forward) or taps (kernel gradient) whose accumulators stay in registers at once.
#define ONE_CHANNEL_ROWS 8

/// The padded plane's extent: every input index a filter tap can reach, shifted by the padding before.
typedef struct {
    long dims[3];
    long taps[KC];
} one_channel_plan;

static void one_channel_setup(const bn_conv_geom *g, long k, one_channel_plan *p) {
    for (int d = 0; d < 3; d++)
        p->dims[d] = (g->out[d] - 1) * g->stride[d] + (g->filter[d] - 1) * g->dilation[d] + 1;
    long t = 0;
    for (long tz = 0; tz < g->filter[0]; tz++)
        for (long ty = 0; ty < g->filter[1]; ty++)
            for (long tx = 0; tx < g->filter[2]; tx++)
                if (t < k) p->taps[t++] = (tz * g->dilation[0] * p->dims[1] + ty * g->dilation[1]) * p->dims[2]
                                          + tx * g->dilation[2];
}

/// Example `e` of x, zero-padded into `plane` (dims[0] x dims[1] x dims[2]).
static void one_channel_pad(const bn_conv_geom *g, const float *x, long e, const one_channel_plan *p, float *plane) {
    const long D = g->in[0], H = g->in[1], W = g->in[2];
    const float *xe = x + e * D * H * W;
    for (long pz = 0; pz < p->dims[0]; pz++) {
        const long iz = pz - g->pad[0];
        for (long py = 0; py < p->dims[1]; py++) {
            const long iy = py - g->pad[1];
            float *dst = plane + (pz * p->dims[1] + py) * p->dims[2];
            if (iz < 0 || iz >= D || iy < 0 || iy >= H) {
                memset(dst, 0, (size_t)p->dims[2] * sizeof(float));
                continue;
            }
            const float *src = xe + (iz * H + iy) * W;
            for (long px = 0; px < p->dims[2]; px++) {
                const long ix = px - g->pad[2];
                dst[px] = ix >= 0 && ix < W ? src[ix] : 0.0f;
            }
        }
    }
}

/// Offset in the padded plane of the patch of output position `pos` (within its example).
static inline long one_channel_base(const bn_conv_geom *g, const one_channel_plan *p, const im2col_pos *pos) {
    return (pos->oz * g->stride[0] * p->dims[1] + pos->oy * g->stride[1]) * p->dims[2] + pos->ox * g->stride[2];
}

static int one_channel_enabled = 1;

int bn_one_channel_kernels(void) { return __atomic_load_n(&one_channel_enabled, __ATOMIC_RELAXED); }

void bn_set_one_channel_kernels(int enabled) { __atomic_store_n(&one_channel_enabled, enabled != 0, __ATOMIC_RELAXED); }

/// Whether the one-channel kernels compute this product, and with the packed GEMM's bits: one input
/// channel, one depth block, alpha 1, beta 0 or 1, at most 64 output channels, AVX-512.
static int one_channel_eligible(const A_SOURCE *A, long n, long k, float alpha, int transB, float beta) {
    return bn_one_channel_kernels() && (A->kind == BN_A_IM2COL || A->kind == BN_A_IM2COL_T) && A->geom->inChannels == 1 && n <= 64
        && alpha == 1.0f && (beta == 0.0f || beta == 1.0f) && !transB && bn_cpu_level() == BN_CPU_AVX512
        && (A->kind == BN_A_IM2COL_T || k <= KC);
}

#ifdef BN_X86
/// Rows [m0, m1) of C = im2col(x) · B + beta · C with one input channel (k taps, at most KC).
__attribute__((target("avx512f,fma")))
static void one_channel_forward(const A_SOURCE *A, long m0, long m1, long n, long k, const float *b, long ldb,
                                float beta, float *c, long ldc, const one_channel_plan *p, float *plane) {
    const bn_conv_geom *g = A->geom;
    const long positions = g->out[0] * g->out[1] * g->out[2];
    for (long row = m0; row < m1;) {
        const long e = row / positions;
        const long end = m1 < (e + 1) * positions ? m1 : (e + 1) * positions;
        one_channel_pad(g, A->a, e, p, plane);
        im2col_pos cursor;
        pos_from_row(g, row, &cursor);
        for (long i = row; i < end; i += ONE_CHANNEL_ROWS) {
            const long rows = end - i < ONE_CHANNEL_ROWS ? end - i : ONE_CHANNEL_ROWS;
            const float *pr[ONE_CHANNEL_ROWS];
            for (long r = 0; r < rows; r++, pos_next(g, &cursor)) pr[r] = plane + one_channel_base(g, p, &cursor);
            for (long r = rows; r < ONE_CHANNEL_ROWS; r++) pr[r] = pr[0];
            for (long j0 = 0; j0 < n; j0 += 16) {
                const __mmask16 mask = n - j0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j0)) - 1);
                __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps();
                __m512 a3 = _mm512_setzero_ps(), a4 = _mm512_setzero_ps(), a5 = _mm512_setzero_ps();
                __m512 a6 = _mm512_setzero_ps(), a7 = _mm512_setzero_ps();
                for (long t = 0; t < k; t++) {
                    const __m512 w = _mm512_maskz_loadu_ps(mask, b + t * ldb + j0);
                    const long o = p->taps[t];
                    a0 = _mm512_fmadd_ps(_mm512_set1_ps(pr[0][o]), w, a0);
                    a1 = _mm512_fmadd_ps(_mm512_set1_ps(pr[1][o]), w, a1);
                    a2 = _mm512_fmadd_ps(_mm512_set1_ps(pr[2][o]), w, a2);
                    a3 = _mm512_fmadd_ps(_mm512_set1_ps(pr[3][o]), w, a3);
                    a4 = _mm512_fmadd_ps(_mm512_set1_ps(pr[4][o]), w, a4);
                    a5 = _mm512_fmadd_ps(_mm512_set1_ps(pr[5][o]), w, a5);
                    a6 = _mm512_fmadd_ps(_mm512_set1_ps(pr[6][o]), w, a6);
                    a7 = _mm512_fmadd_ps(_mm512_set1_ps(pr[7][o]), w, a7);
                }
                const __m512 acc[ONE_CHANNEL_ROWS] = { a0, a1, a2, a3, a4, a5, a6, a7 };
                for (long r = 0; r < rows; r++) {
                    float *cr = c + (i + r) * ldc + j0;
                    __m512 v = acc[r];
                    if (beta != 0.0f) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, cr));
                    _mm512_mask_storeu_ps(cr, mask, v);
                }
            }
        }
        row = end;
    }
}

/// Rows [m0, m1) (taps) of C = im2col(x)[row0 ..< row0+k]ᵀ · B + beta · C with one input channel, in the
/// packed GEMM's depth blocks: each block's sum starts from zero and is added onto C. Eight taps at a time,
/// one column chunk at a time, so the accumulators stay in registers.
__attribute__((target("avx512f,fma")))
static void one_channel_gradient(const A_SOURCE *A, long m0, long m1, long n, long k, const float *b, long ldb,
                                 float beta, float *c, long ldc, const one_channel_plan *p, float *plane) {
    const bn_conv_geom *g = A->geom;
    const long kblocks = (k + KC - 1) / KC;
    const long kcb = (k + kblocks - 1) / kblocks;
    long padded = -1;
    for (long j0 = 0; j0 < n; j0 += 16) {
        const __mmask16 mask = n - j0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j0)) - 1);
        for (long t0 = m0; t0 < m1; t0 += ONE_CHANNEL_ROWS) {
            const long taps = m1 - t0 < ONE_CHANNEL_ROWS ? m1 - t0 : ONE_CHANNEL_ROWS;
            long o[ONE_CHANNEL_ROWS];
            for (long t = 0; t < ONE_CHANNEL_ROWS; t++) o[t] = p->taps[t0 + (t < taps ? t : 0)];
            for (long pc = 0; pc < k; pc += kcb) {
                const long kc = k - pc < kcb ? k - pc : kcb;
                __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps();
                __m512 a3 = _mm512_setzero_ps(), a4 = _mm512_setzero_ps(), a5 = _mm512_setzero_ps();
                __m512 a6 = _mm512_setzero_ps(), a7 = _mm512_setzero_ps();
                im2col_pos cursor;
                pos_from_row(g, A->row0 + pc, &cursor);
                const float *dy = b + pc * ldb + j0;
                for (long q = 0; q < kc; q++, pos_next(g, &cursor), dy += ldb) {
                    if (cursor.example != padded) {
                        one_channel_pad(g, A->a, cursor.example, p, plane);
                        padded = cursor.example;
                    }
                    const float *pb = plane + one_channel_base(g, p, &cursor);
                    const __m512 d = _mm512_maskz_loadu_ps(mask, dy);
                    a0 = _mm512_fmadd_ps(_mm512_set1_ps(pb[o[0]]), d, a0);
                    a1 = _mm512_fmadd_ps(_mm512_set1_ps(pb[o[1]]), d, a1);
                    a2 = _mm512_fmadd_ps(_mm512_set1_ps(pb[o[2]]), d, a2);
                    a3 = _mm512_fmadd_ps(_mm512_set1_ps(pb[o[3]]), d, a3);
                    a4 = _mm512_fmadd_ps(_mm512_set1_ps(pb[o[4]]), d, a4);
                    a5 = _mm512_fmadd_ps(_mm512_set1_ps(pb[o[5]]), d, a5);
                    a6 = _mm512_fmadd_ps(_mm512_set1_ps(pb[o[6]]), d, a6);
                    a7 = _mm512_fmadd_ps(_mm512_set1_ps(pb[o[7]]), d, a7);
                }
                const __m512 acc[ONE_CHANNEL_ROWS] = { a0, a1, a2, a3, a4, a5, a6, a7 };
                const int add = pc > 0 || beta != 0.0f;
                for (long t = 0; t < taps; t++) {
                    float *cr = c + (t0 + t) * ldc + j0;
                    __m512 v = acc[t];
                    if (add) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, cr));
                    _mm512_mask_storeu_ps(cr, mask, v);
                }
            }
        }
    }
}
#endif

/// Runs the product on the one-channel kernels when they apply (see `one_channel_eligible`); 0 if not.
static int one_channel_product(const A_SOURCE *A, long m0, long m1, long n, long k, float alpha, const float *b,
                               long ldb, int transB, float beta, float *c, long ldc) {
#ifdef BN_X86
    if (!one_channel_eligible(A, n, k, alpha, transB, beta)) return 0;
    one_channel_plan plan;
    if (A->kind == BN_A_IM2COL_T && m1 > KC) return 0;
    one_channel_setup(A->geom, A->kind == BN_A_IM2COL ? k : m1, &plan);
    float *plane = scratch((size_t)(plan.dims[0] * plan.dims[1] * plan.dims[2]));
    if (!plane) return 0;
    if (A->kind == BN_A_IM2COL) one_channel_forward(A, m0, m1, n, k, b, ldb, beta, c, ldc, &plan, plane);
    else one_channel_gradient(A, m0, m1, n, k, b, ldb, beta, c, ldc, &plan, plane);
    return 1;
#else
    (void)A; (void)m0; (void)m1; (void)n; (void)k; (void)alpha; (void)b; (void)ldb; (void)transB; (void)beta;
    (void)c; (void)ldc;
    return 0;
#endif
}
