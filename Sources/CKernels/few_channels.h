// Convolutions with few input channels (at most FEW_CHANNELS_MAX), read straight from a zero-padded copy of
// each example (AVX-512, single precision). Included by gemm_driver.h for sgemm.c, after the packing helpers.
//
// With few input channels each im2col row is made of short runs (fw x channels floats per filter row: 5 for
// a 5x5 filter on one channel, 24 for 3x3x3 on eight), too short for the GEMM to read in place, so it packs
// every patch, which costs more than the multiply-adds. These kernels broadcast each input value from the
// padded copy instead and keep the output channels in masked vectors. Every element is the same fused
// multiply-add chain as the packed GEMM's (columns in order from zero, padding included as zeros, the same
// depth blocks), so results keep their bits.

/// Output positions (forward) or kernel rows (kernel gradient) whose accumulators stay in registers at once.
#define FEW_CHANNELS_ROWS 8
/// Input channels up to which the patches are read in place.
#define FEW_CHANNELS_MAX 8

/// The padded copy's extent (every input position a filter tap can reach, shifted by the padding before) and,
/// for each im2col column (tap, channel), its offset from a patch's first value in the copy.
typedef struct {
    long dims[3];
    long cols[KC];
} few_channels_plan;

static void few_channels_setup(const bn_conv_geom *g, long k, few_channels_plan *p) {
    const long C = g->inChannels;
    for (int d = 0; d < 3; d++)
        p->dims[d] = (g->out[d] - 1) * g->stride[d] + (g->filter[d] - 1) * g->dilation[d] + 1;
    long col = 0;
    for (long tz = 0; tz < g->filter[0]; tz++)
        for (long ty = 0; ty < g->filter[1]; ty++)
            for (long tx = 0; tx < g->filter[2]; tx++)
                for (long i = 0; i < C && col < k; i++)
                    p->cols[col++] = ((tz * g->dilation[0] * p->dims[1] + ty * g->dilation[1]) * p->dims[2]
                                      + tx * g->dilation[2]) * C + i;
}

/// Example `e` of x, zero-padded into `plane` (dims[0] x dims[1] x dims[2] x channels).
static void few_channels_pad(const bn_conv_geom *g, const float *x, long e, const few_channels_plan *p, float *plane) {
    const long D = g->in[0], H = g->in[1], W = g->in[2], C = g->inChannels;
    const float *xe = x + e * D * H * W * C;
    for (long pz = 0; pz < p->dims[0]; pz++) {
        const long iz = pz - g->pad[0];
        for (long py = 0; py < p->dims[1]; py++) {
            const long iy = py - g->pad[1];
            float *dst = plane + (pz * p->dims[1] + py) * p->dims[2] * C;
            if (iz < 0 || iz >= D || iy < 0 || iy >= H) {
                memset(dst, 0, (size_t)(p->dims[2] * C) * sizeof(float));
                continue;
            }
            // Zeros, the input row's values that fall inside, zeros.
            const float *src = xe + (iz * H + iy) * W * C;
            const long x0 = g->pad[2] < p->dims[2] ? g->pad[2] : p->dims[2];
            const long x1 = g->pad[2] + W < p->dims[2] ? g->pad[2] + W : p->dims[2];
            memset(dst, 0, (size_t)(x0 * C) * sizeof(float));
            if (x1 > x0) memcpy(dst + x0 * C, src + (x0 - g->pad[2]) * C, (size_t)((x1 - x0) * C) * sizeof(float));
            if (p->dims[2] > (x1 > x0 ? x1 : x0))
                memset(dst + (x1 > x0 ? x1 : x0) * C, 0, (size_t)((p->dims[2] - (x1 > x0 ? x1 : x0)) * C) * sizeof(float));
        }
    }
}

/// Offset in the padded plane of the patch of output position `pos` (within its example).
static inline long few_channels_base(const bn_conv_geom *g, const few_channels_plan *p, const im2col_pos *pos) {
    return ((pos->oz * g->stride[0] * p->dims[1] + pos->oy * g->stride[1]) * p->dims[2] + pos->ox * g->stride[2])
         * g->inChannels;
}

static int few_channels_enabled = 1;

int bn_few_channels_kernels(void) { return __atomic_load_n(&few_channels_enabled, __ATOMIC_RELAXED); }

void bn_set_few_channels_kernels(int enabled) { __atomic_store_n(&few_channels_enabled, enabled != 0, __ATOMIC_RELAXED); }

/// Whether these kernels compute this product, and with the packed GEMM's bits: few input channels, one
/// depth block forward (at most KC kernel rows for the gradient), alpha 1, beta 0 or 1, at most 64 output
/// channels, AVX-512.
static int few_channels_eligible(const A_SOURCE *A, long n, long k, float alpha, int transB, float beta) {
    return bn_few_channels_kernels() && (A->kind == BN_A_IM2COL || A->kind == BN_A_IM2COL_T) && A->geom->inChannels <= FEW_CHANNELS_MAX && n <= 64
        && alpha == 1.0f && (beta == 0.0f || beta == 1.0f) && !transB && bn_cpu_level() == BN_CPU_AVX512
        && (A->kind == BN_A_IM2COL_T || k <= KC);
}

#ifdef BN_X86
/// Whether 8-lane vectors with masks (AVX-512VL) are there: on cores that run a 16-lane FMA as two 8-lane
/// halves (Zen 4), a 16-lane vector holding at most 8 output channels does twice the work it needs.
static int narrow_vectors_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vl");
}

/// The forward and kernel-gradient kernels for one vector width: W lanes of type VEC, intrinsics prefixed
/// PFX, masks of type MASK. Instantiated for 16 lanes (any column count) and 8 (at most 8 columns).
#define FEW_CHANNELS_AT_WIDTH(SUFFIX, TARGET, W, VEC, PFX, MASK)                                              \
    /* Rows [m0, m1) of C = im2col(x) · B + beta · C (k columns, at most KC). */                              \
    __attribute__((target(TARGET)))                                                                          \
    static void few_channels_forward##SUFFIX(const A_SOURCE *A, long m0, long m1, long n, long k,            \
                                              const float *b, long ldb, float beta, float *c, long ldc,       \
                                              const few_channels_plan *p, float *plane) {                     \
        const bn_conv_geom *g = A->geom;                                                                     \
        const long positions = g->out[0] * g->out[1] * g->out[2];                                            \
        for (long row = m0; row < m1;) {                                                                     \
            const long e = row / positions;                                                                  \
            const long end = m1 < (e + 1) * positions ? m1 : (e + 1) * positions;                            \
            few_channels_pad(g, A->a, e, p, plane);                                                          \
            im2col_pos cursor;                                                                               \
            pos_from_row(g, row, &cursor);                                                                   \
            for (long i = row; i < end; i += FEW_CHANNELS_ROWS) {                                            \
                const long rows = end - i < FEW_CHANNELS_ROWS ? end - i : FEW_CHANNELS_ROWS;                 \
                const float *pr[FEW_CHANNELS_ROWS];                                                          \
                for (long r = 0; r < rows; r++, pos_next(g, &cursor))                                        \
                    pr[r] = plane + few_channels_base(g, p, &cursor);                                        \
                for (long r = rows; r < FEW_CHANNELS_ROWS; r++) pr[r] = pr[0];                               \
                for (long j0 = 0; j0 < n; j0 += W) {                                                         \
                    const MASK mask = n - j0 >= W ? (MASK)((1u << W) - 1) : (MASK)((1u << (n - j0)) - 1);    \
                    VEC a0 = PFX##_setzero_ps(), a1 = PFX##_setzero_ps(), a2 = PFX##_setzero_ps();           \
                    VEC a3 = PFX##_setzero_ps(), a4 = PFX##_setzero_ps(), a5 = PFX##_setzero_ps();           \
                    VEC a6 = PFX##_setzero_ps(), a7 = PFX##_setzero_ps();                                    \
                    for (long t = 0; t < k; t++) {                                                           \
                        const VEC w = PFX##_maskz_loadu_ps(mask, b + t * ldb + j0);                          \
                        const long o = p->cols[t];                                                           \
                        a0 = PFX##_fmadd_ps(PFX##_set1_ps(pr[0][o]), w, a0);                                 \
                        a1 = PFX##_fmadd_ps(PFX##_set1_ps(pr[1][o]), w, a1);                                 \
                        a2 = PFX##_fmadd_ps(PFX##_set1_ps(pr[2][o]), w, a2);                                 \
                        a3 = PFX##_fmadd_ps(PFX##_set1_ps(pr[3][o]), w, a3);                                 \
                        a4 = PFX##_fmadd_ps(PFX##_set1_ps(pr[4][o]), w, a4);                                 \
                        a5 = PFX##_fmadd_ps(PFX##_set1_ps(pr[5][o]), w, a5);                                 \
                        a6 = PFX##_fmadd_ps(PFX##_set1_ps(pr[6][o]), w, a6);                                 \
                        a7 = PFX##_fmadd_ps(PFX##_set1_ps(pr[7][o]), w, a7);                                 \
                    }                                                                                        \
                    const VEC acc[FEW_CHANNELS_ROWS] = { a0, a1, a2, a3, a4, a5, a6, a7 };                   \
                    for (long r = 0; r < rows; r++) {                                                        \
                        float *cr = c + (i + r) * ldc + j0;                                                  \
                        VEC v = acc[r];                                                                      \
                        if (beta != 0.0f) v = PFX##_add_ps(v, PFX##_maskz_loadu_ps(mask, cr));               \
                        PFX##_mask_storeu_ps(cr, mask, v);                                                   \
                    }                                                                                        \
                }                                                                                            \
            }                                                                                                \
            row = end;                                                                                       \
        }                                                                                                    \
    }                                                                                                        \
                                                                                                             \
    /* Rows [m0, m1) (kernel rows: tap, channel) of C = im2col(x)[row0 ..< row0+k]ᵀ · B + beta · C, in the   \
       packed GEMM's depth blocks: each block's sum starts from zero and is added onto C. Eight kernel rows  \
       at a time, one column chunk at a time, so the accumulators stay in registers. */                      \
    __attribute__((target(TARGET)))                                                                          \
    static void few_channels_gradient##SUFFIX(const A_SOURCE *A, long m0, long m1, long n, long k,           \
                                               const float *b, long ldb, float beta, float *c, long ldc,      \
                                               const few_channels_plan *p, float *plane) {                    \
        const bn_conv_geom *g = A->geom;                                                                     \
        const long kblocks = (k + KC - 1) / KC;                                                              \
        const long kcb = (k + kblocks - 1) / kblocks;                                                        \
        long padded = -1;                                                                                    \
        for (long j0 = 0; j0 < n; j0 += W) {                                                                 \
            const MASK mask = n - j0 >= W ? (MASK)((1u << W) - 1) : (MASK)((1u << (n - j0)) - 1);            \
            for (long t0 = m0; t0 < m1; t0 += FEW_CHANNELS_ROWS) {                                           \
                const long taps = m1 - t0 < FEW_CHANNELS_ROWS ? m1 - t0 : FEW_CHANNELS_ROWS;                 \
                long o[FEW_CHANNELS_ROWS];                                                                   \
                for (long t = 0; t < FEW_CHANNELS_ROWS; t++) o[t] = p->cols[t0 + (t < taps ? t : 0)];        \
                for (long pc = 0; pc < k; pc += kcb) {                                                       \
                    const long kc = k - pc < kcb ? k - pc : kcb;                                             \
                    VEC a0 = PFX##_setzero_ps(), a1 = PFX##_setzero_ps(), a2 = PFX##_setzero_ps();           \
                    VEC a3 = PFX##_setzero_ps(), a4 = PFX##_setzero_ps(), a5 = PFX##_setzero_ps();           \
                    VEC a6 = PFX##_setzero_ps(), a7 = PFX##_setzero_ps();                                    \
                    im2col_pos cursor;                                                                       \
                    pos_from_row(g, A->row0 + pc, &cursor);                                                  \
                    const float *dy = b + pc * ldb + j0;                                                     \
                    for (long q = 0; q < kc; q++, pos_next(g, &cursor), dy += ldb) {                         \
                        if (cursor.example != padded) {                                                      \
                            few_channels_pad(g, A->a, cursor.example, p, plane);                             \
                            padded = cursor.example;                                                         \
                        }                                                                                    \
                        const float *pb = plane + few_channels_base(g, p, &cursor);                          \
                        const VEC d = PFX##_maskz_loadu_ps(mask, dy);                                        \
                        a0 = PFX##_fmadd_ps(PFX##_set1_ps(pb[o[0]]), d, a0);                                 \
                        a1 = PFX##_fmadd_ps(PFX##_set1_ps(pb[o[1]]), d, a1);                                 \
                        a2 = PFX##_fmadd_ps(PFX##_set1_ps(pb[o[2]]), d, a2);                                 \
                        a3 = PFX##_fmadd_ps(PFX##_set1_ps(pb[o[3]]), d, a3);                                 \
                        a4 = PFX##_fmadd_ps(PFX##_set1_ps(pb[o[4]]), d, a4);                                 \
                        a5 = PFX##_fmadd_ps(PFX##_set1_ps(pb[o[5]]), d, a5);                                 \
                        a6 = PFX##_fmadd_ps(PFX##_set1_ps(pb[o[6]]), d, a6);                                 \
                        a7 = PFX##_fmadd_ps(PFX##_set1_ps(pb[o[7]]), d, a7);                                 \
                    }                                                                                        \
                    const VEC acc[FEW_CHANNELS_ROWS] = { a0, a1, a2, a3, a4, a5, a6, a7 };                   \
                    const int add = pc > 0 || beta != 0.0f;                                                  \
                    for (long t = 0; t < taps; t++) {                                                        \
                        float *cr = c + (t0 + t) * ldc + j0;                                                 \
                        VEC v = acc[t];                                                                      \
                        if (add) v = PFX##_add_ps(v, PFX##_maskz_loadu_ps(mask, cr));                        \
                        PFX##_mask_storeu_ps(cr, mask, v);                                                   \
                    }                                                                                        \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
    }
FEW_CHANNELS_AT_WIDTH(, "avx512f,fma", 16, __m512, _mm512, __mmask16)
FEW_CHANNELS_AT_WIDTH(_narrow, "avx512f,avx512vl,fma", 8, __m256, _mm256, __mmask8)
#endif

/// Runs the product on these kernels when they apply (see `few_channels_eligible`); 0 if not.
static int few_channels_product(const A_SOURCE *A, long m0, long m1, long n, long k, float alpha, const float *b,
                               long ldb, int transB, float beta, float *c, long ldc) {
#ifdef BN_X86
    if (!few_channels_eligible(A, n, k, alpha, transB, beta)) return 0;
    few_channels_plan plan;
    if (A->kind == BN_A_IM2COL_T && m1 > KC) return 0;
    few_channels_setup(A->geom, A->kind == BN_A_IM2COL ? k : m1, &plan);
    float *plane = scratch((size_t)(plan.dims[0] * plan.dims[1] * plan.dims[2] * A->geom->inChannels));
    if (!plane) return 0;
    const int narrow = n <= 8 && narrow_vectors_available();
    if (A->kind == BN_A_IM2COL)
        (narrow ? few_channels_forward_narrow : few_channels_forward)(A, m0, m1, n, k, b, ldb, beta, c, ldc, &plan,
                                                                    plane);
    else
        (narrow ? few_channels_gradient_narrow : few_channels_gradient)(A, m0, m1, n, k, b, ldb, beta, c, ldc,
                                                                      &plan, plane);
    return 1;
#else
    (void)A; (void)m0; (void)m1; (void)n; (void)k; (void)alpha; (void)b; (void)ldb; (void)transB; (void)beta;
    (void)c; (void)ldc;
    return 0;
#endif
}
