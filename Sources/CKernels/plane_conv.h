// Convolutions read straight from a zero-padded copy of each example (AVX-512, single precision), for any
// number of input channels. Included by gemm_driver.h for sgemm.c, after the packing helpers and
// few_channels.h, whose padded plane and column offsets they share.
//
// The fused Flipout convolution multiplies each example by its own kernel: products of one example's output
// positions (49 for a 7x7 map), too few rows to amortise packing that kernel, and a kernel gradient per
// example whose depth is those few positions. These kernels read the patches in place from the padded
// plane and the kernel (or dy) unpacked, with a register tile sized to the product (rows 5 to 8, one to
// three vectors of 16 columns), and the kernel gradient adds each example's tile into dμ and dΔW while it is
// still in registers. Every element is the fused multiply-add chain the packed GEMM computes for the same
// product (the same depth blocks, padding as zeros, blocks added in order), so results keep their bits.

/// Depth blocks at most: the kernel gradient's depth is an example's output positions, so 512 blocks of KC
/// cover maps of 131,072 positions (a 50³ volume).
#define PLANE_MAX_BLOCKS 512

/// Depth blocks of an implicit-im2col product, as the packed GEMM cuts them: by filter row where it reads
/// the patches in place (gemm_im2col_direct), else equal blocks of at most KC.
typedef struct {
    long count;
    long start[PLANE_MAX_BLOCKS], length[PLANE_MAX_BLOCKS];
} plane_blocks;

static int plane_blocks_for(const bn_conv_geom *g, long k, int direct, plane_blocks *pb) {
    pb->count = 0;
    if (direct) {
        const long run = g->filter[2] * g->inChannels, filterRows = g->filter[0] * g->filter[1];
        const long pieces = (run + KC - 1) / KC, kcb = (run + pieces - 1) / pieces;
        if (filterRows * pieces > PLANE_MAX_BLOCKS) return 0;
        for (long t = 0; t < filterRows; t++)
            for (long off = 0; off < run; off += kcb) {
                pb->start[pb->count] = t * run + off;
                pb->length[pb->count++] = run - off < kcb ? run - off : kcb;
            }
        return 1;
    }
    const long kblocks = (k + KC - 1) / KC, kcb = (k + kblocks - 1) / kblocks;
    if (kblocks > PLANE_MAX_BLOCKS) return 0;
    for (long pc = 0; pc < k; pc += kcb) {
        pb->start[pb->count] = pc;
        pb->length[pb->count++] = k - pc < kcb ? k - pc : kcb;
    }
    return 1;
}

/// Patches up to this many values (the column offsets are kept in the thread's scratch).
#define PLANE_MAX_COLS 16384

static int plane_available(void) {
    return bn_few_channels_kernels() && bn_cpu_level() == BN_CPU_AVX512;
}

int bn_plane_conv_available(void) { return plane_available(); }

int bn_flipout_conv_gradient_applies(const bn_conv_geom *g, long n) {
    const long k = g->filter[0] * g->filter[1] * g->filter[2] * g->inChannels;
    const long positions = g->out[0] * g->out[1] * g->out[2];
    plane_blocks blocks;
    return plane_available() && n > 0 && n <= 64 * 16 && k <= PLANE_MAX_COLS
        && plane_blocks_for(g, positions, 0, &blocks);
}

static void plane_offsets(const bn_conv_geom *g, const long dims[3], long k, long *cols) {
    const long C = g->inChannels;
    long col = 0;
    for (long tz = 0; tz < g->filter[0]; tz++)
        for (long ty = 0; ty < g->filter[1]; ty++)
            for (long tx = 0; tx < g->filter[2]; tx++)
                for (long i = 0; i < C && col < k; i++)
                    cols[col++] = ((tz * g->dilation[0] * dims[1] + ty * g->dilation[1]) * dims[2]
                                   + tx * g->dilation[2]) * C + i;
}

/// The padded plane of example `e` (the layout few_channels_pad writes).
static void plane_pad(const bn_conv_geom *g, const float *x, long e, const long dims[3], float *plane) {
    few_channels_plan p;
    p.dims[0] = dims[0]; p.dims[1] = dims[1]; p.dims[2] = dims[2];
    few_channels_pad(g, x, e, &p, plane);
}

static inline long plane_base(const bn_conv_geom *g, const long dims[3], const im2col_pos *pos) {
    return ((pos->oz * g->stride[0] * dims[1] + pos->oy * g->stride[1]) * dims[2] + pos->ox * g->stride[2])
         * g->inChannels;
}

#ifdef BN_X86
static inline __mmask16 plane_mask(long cols) {
    return cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
}

/// Accumulators of a tile of up to 8 rows and three vectors, named so that they stay in registers; a kernel
/// of R rows and V vectors uses the first R x V (the others are removed as dead code).
#define PLANE_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define PLANE_DECL(r) __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = _mm512_setzero_ps(), \
                             a##r##2 = _mm512_setzero_ps();
#define PLANE_FMA(r, src)                                                                                     \
    if (r < R) {                                                                                              \
        const __m512 av = _mm512_set1_ps(src);                                                                \
        a##r##0 = _mm512_fmadd_ps(av, w0, a##r##0);                                                           \
        if (V > 1) a##r##1 = _mm512_fmadd_ps(av, w1, a##r##1);                                                \
        if (V > 2) a##r##2 = _mm512_fmadd_ps(av, w2, a##r##2);                                                \
    }
#define PLANE_LOADW(p)                                                                                        \
    const __m512 w0 = V == 1 ? _mm512_maskz_loadu_ps(mlast, (p)) : _mm512_loadu_ps(p);                        \
    const __m512 w1 = V == 2 ? _mm512_maskz_loadu_ps(mlast, (p) + 16) : V > 2 ? _mm512_loadu_ps((p) + 16)     \
                                                                              : _mm512_setzero_ps();          \
    const __m512 w2 = V == 3 ? _mm512_maskz_loadu_ps(mlast, (p) + 32) : _mm512_setzero_ps();

/// Stores row r of a forward tile: the first depth block onto the bias (or alone), later ones onto C.
#define PLANE_STORE1(r, v, m)                                                                                 \
    {                                                                                                         \
        __m512 s_ = a##r##v;                                                                                  \
        if (blk > 0) s_ = _mm512_add_ps(s_, _mm512_maskz_loadu_ps(m, c + r * ldc + 16 * v));                  \
        else if (bias) s_ = _mm512_add_ps(s_, _mm512_maskz_loadu_ps(m, bias + 16 * v));                       \
        _mm512_mask_storeu_ps(c + r * ldc + 16 * v, m, s_);                                                   \
    }
#define PLANE_STORE(r)                                                                                        \
    if (r < R && r < rows) {                                                                                  \
        if (V == 1) PLANE_STORE1(r, 0, mlast)                                                                 \
        else PLANE_STORE1(r, 0, (__mmask16)0xFFFF)                                                            \
        if (V == 2) PLANE_STORE1(r, 1, mlast)                                                                 \
        else if (V > 2) PLANE_STORE1(r, 1, (__mmask16)0xFFFF)                                                 \
        if (V == 3) PLANE_STORE1(r, 2, mlast)                                                                 \
    }

/// One R x 16V tile of C = patches · B over the depth blocks: row r's patch starts at pr[r] in the plane,
/// column col of the patch at pr[r] + cols[col]; B rows of ldb floats from column 0 of the tile. The first
/// block starts from bias (or zero), later blocks add onto the stored tile.
#define PLANE_FORWARD(R_, V_)                                                                                 \
    __attribute__((target("avx512f,fma"))) static void plane_forward_##R_##_##V_(                             \
        const float *const *pr, long rows, const long *cols, const plane_blocks *blocks, const float *b,     \
        long ldb, __mmask16 mlast, const float *bias, float *c, long ldc) {                                   \
        enum { R = R_, V = V_ };                                                                              \
        const float *p0 = pr[0], *p1 = pr[1], *p2 = pr[2], *p3 = pr[3];                                       \
        const float *p4 = pr[4], *p5 = pr[5], *p6 = pr[6], *p7 = pr[7];                                       \
        for (long blk = 0; blk < blocks->count; blk++) {                                                      \
            PLANE_ROWS(PLANE_DECL)                                                                            \
            const long k0 = blocks->start[blk], k1 = k0 + blocks->length[blk];                                \
            const float *bk = b + k0 * ldb;                                                                   \
            for (long kk = k0; kk < k1; kk++, bk += ldb) {                                                    \
                PLANE_LOADW(bk)                                                                               \
                const long o = cols[kk];                                                                      \
                PLANE_FMA(0, p0[o]) PLANE_FMA(1, p1[o]) PLANE_FMA(2, p2[o]) PLANE_FMA(3, p3[o])               \
                PLANE_FMA(4, p4[o]) PLANE_FMA(5, p5[o]) PLANE_FMA(6, p6[o]) PLANE_FMA(7, p7[o])               \
            }                                                                                                 \
            PLANE_STORE(0) PLANE_STORE(1) PLANE_STORE(2) PLANE_STORE(3)                                       \
            PLANE_STORE(4) PLANE_STORE(5) PLANE_STORE(6) PLANE_STORE(7)                                       \
        }                                                                                                     \
    }
PLANE_FORWARD(5, 1) PLANE_FORWARD(6, 1) PLANE_FORWARD(7, 1) PLANE_FORWARD(8, 1)
PLANE_FORWARD(5, 2) PLANE_FORWARD(6, 2) PLANE_FORWARD(7, 2) PLANE_FORWARD(8, 2)
PLANE_FORWARD(5, 3) PLANE_FORWARD(6, 3) PLANE_FORWARD(7, 3) PLANE_FORWARD(8, 3)

typedef void (*plane_forward_fn)(const float *const *, long, const long *, const plane_blocks *, const float *,
                                 long, __mmask16, const float *, float *, long);
static const plane_forward_fn plane_forward_kernels[4][3] = {
    { plane_forward_5_1, plane_forward_5_2, plane_forward_5_3 },
    { plane_forward_6_1, plane_forward_6_2, plane_forward_6_3 },
    { plane_forward_7_1, plane_forward_7_2, plane_forward_7_3 },
    { plane_forward_8_1, plane_forward_8_2, plane_forward_8_3 },
};

/// The same tile for products of at most 8 columns, in 8-lane vectors (see narrow_vectors_available).
#define PLANE8_DECL(r) __m256 a##r = _mm256_setzero_ps();
#define PLANE8_FMA(r, src) if (r < R) a##r = _mm256_fmadd_ps(_mm256_set1_ps(src), w, a##r);
#define PLANE8_STORE(r)                                                                                       \
    if (r < R && r < rows) {                                                                                  \
        __m256 s_ = a##r;                                                                                     \
        if (blk > 0) s_ = _mm256_add_ps(s_, _mm256_maskz_loadu_ps(m8, c + r * ldc));                         \
        else if (bias) s_ = _mm256_add_ps(s_, _mm256_maskz_loadu_ps(m8, bias));                              \
        _mm256_mask_storeu_ps(c + r * ldc, m8, s_);                                                           \
    }
#define PLANE8_FORWARD(R_)                                                                                    \
    __attribute__((target("avx512f,avx512vl,fma"))) static void plane_forward8_##R_(                          \
        const float *const *pr, long rows, const long *cols, const plane_blocks *blocks, const float *b,     \
        long ldb, __mmask8 m8, const float *bias, float *c, long ldc) {                                       \
        enum { R = R_ };                                                                                      \
        const float *p0 = pr[0], *p1 = pr[1], *p2 = pr[2], *p3 = pr[3];                                       \
        const float *p4 = pr[4], *p5 = pr[5], *p6 = pr[6], *p7 = pr[7];                                       \
        for (long blk = 0; blk < blocks->count; blk++) {                                                      \
            PLANE_ROWS(PLANE8_DECL)                                                                           \
            const long k0 = blocks->start[blk], k1 = k0 + blocks->length[blk];                                \
            const float *bk = b + k0 * ldb;                                                                   \
            for (long kk = k0; kk < k1; kk++, bk += ldb) {                                                    \
                const __m256 w = _mm256_maskz_loadu_ps(m8, bk);                                               \
                const long o = cols[kk];                                                                      \
                PLANE8_FMA(0, p0[o]) PLANE8_FMA(1, p1[o]) PLANE8_FMA(2, p2[o]) PLANE8_FMA(3, p3[o])           \
                PLANE8_FMA(4, p4[o]) PLANE8_FMA(5, p5[o]) PLANE8_FMA(6, p6[o]) PLANE8_FMA(7, p7[o])           \
            }                                                                                                 \
            PLANE_ROWS(PLANE8_STORE)                                                                          \
        }                                                                                                     \
    }
PLANE8_FORWARD(5) PLANE8_FORWARD(6) PLANE8_FORWARD(7) PLANE8_FORWARD(8)

typedef void (*plane_forward8_fn)(const float *const *, long, const long *, const plane_blocks *, const float *,
                                  long, __mmask8, const float *, float *, long);
static const plane_forward8_fn plane_forward8_kernels[4] = {
    plane_forward8_5, plane_forward8_6, plane_forward8_7, plane_forward8_8,
};

/// Rows per tile (5 to 8) that leave the fewest empty rows in `rows` (ties: the larger).
static int plane_rows_per_tile(long rows) {
    int best = 8;
    long waste = (rows + 7) / 8 * 8 - rows;
    for (int r = 7; r >= 5; r--) {
        long w = (rows + r - 1) / r * r - rows;
        if (w < waste) { waste = w; best = r; }
    }
    return best;
}

/// The column tiles: the 16-wide vectors of n split as evenly as they go into tiles of at most three.
static long plane_column_tiles(long n, int vecs[], long starts[]) {
    const long nv = (n + 15) / 16, tiles = (nv + 2) / 3;
    long j = 0;
    for (long t = 0; t < tiles; t++) {
        vecs[t] = (int)(nv / tiles + (t < nv % tiles ? 1 : 0));
        starts[t] = j;
        j += 16 * vecs[t];
    }
    return tiles;
}
#endif

/// Rows [m0, m1) of C = im2col(x) · B (+ bias on every row), B k x n with row stride ldb, with the packed
/// GEMM's bits for the same product (beta 1 onto rows holding the bias). Returns 0, computing nothing, where
/// it does not apply.
int bn_conv_plane_forward(const bn_conv_geom *g, const float *x, long m0, long m1, long n, const float *b,
                          long ldb, const float *bias, float *c, long ldc) {
#ifdef BN_X86
    const long k = g->filter[0] * g->filter[1] * g->filter[2] * g->inChannels;
    if (!plane_available() || n <= 0 || n > 64 * 16 || k > PLANE_MAX_COLS || m1 <= m0) return 0;
    A_SOURCE A = { BN_A_IM2COL, 0, x, 0, g, 0 };
    bn_kernel_info K = kernel_info(n);
    plane_blocks blocks;
    if (!plane_blocks_for(g, k, direct_eligible(&A, n, k, K.nr), &blocks)) return 0;
    long dims[3];
    for (int d = 0; d < 3; d++) dims[d] = (g->out[d] - 1) * g->stride[d] + (g->filter[d] - 1) * g->dilation[d] + 1;
    const size_t planeSize = (size_t)(dims[0] * dims[1] * dims[2] * g->inChannels);
    float *plane = scratch(planeSize + (size_t)k * 2 + 16);
    if (!plane) return 0;
    long *cols = (long *)(plane + (planeSize + 15) / 16 * 16);
    plane_offsets(g, dims, k, cols);
    int vecs[64];
    long starts[64];
    const long ctiles = plane_column_tiles(n, vecs, starts);
    const long positions = g->out[0] * g->out[1] * g->out[2];
    const int narrow = n <= 8 && narrow_vectors_available();
    for (long row = m0; row < m1;) {
        const long e = row / positions;
        const long end = m1 < (e + 1) * positions ? m1 : (e + 1) * positions;
        plane_pad(g, x, e, dims, plane);
        const int R = plane_rows_per_tile(end - row);
        im2col_pos cursor;
        pos_from_row(g, row, &cursor);
        for (long i = row; i < end; i += R) {
            const long rows = end - i < R ? end - i : R;
            const float *pr[8];
            for (long r = 0; r < rows; r++, pos_next(g, &cursor)) pr[r] = plane + plane_base(g, dims, &cursor);
            for (long r = rows; r < 8; r++) pr[r] = pr[0];
            if (narrow) {
                plane_forward8_kernels[R - 5](pr, rows, cols, &blocks, b, ldb, (__mmask8)((1u << n) - 1), bias,
                                              c + i * ldc, ldc);
                continue;
            }
            for (long t = 0; t < ctiles; t++) {
                const long j0 = starts[t];
                const __mmask16 mlast = plane_mask(n - (j0 + 16 * (vecs[t] - 1)));
                plane_forward_kernels[R - 5][vecs[t] - 1](pr, rows, cols, &blocks, b + j0, ldb, mlast,
                                                          bias ? bias + j0 : NULL, c + i * ldc + j0, ldc);
            }
        }
        row = end;
    }
    return 1;
#else
    (void)g; (void)x; (void)m0; (void)m1; (void)n; (void)b; (void)ldb; (void)bias; (void)c; (void)ldc;
    return 0;
#endif
}

#ifdef BN_X86
/// Adds the kernel-gradient tile's row r into dμ and, times the sign product, into dΔW. The sign product is
/// ±1, so the fused multiply-add rounds as the separate multiply and add did.
#define PLANE_ADD1(r, v, m, g)                                                                                \
    {                                                                                                         \
        const __m512 g_ = (g);                                                                                \
        float *mr_ = dm + r * ldc + 16 * v, *dr_ = dd + r * ldc + 16 * v;                                     \
        _mm512_mask_storeu_ps(mr_, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, mr_), g_));                      \
        const __m512 sg_ = _mm512_mul_ps(_mm512_set1_ps(sIn[r]), so##v);                                      \
        _mm512_mask_storeu_ps(dr_, m, _mm512_fmadd_ps(sg_, g_, _mm512_maskz_loadu_ps(m, dr_)));               \
    }
#define PLANE_ADD_ROW(r, G0, G1, G2)                                                                          \
    if (r < rows) {                                                                                           \
        if (V == 1) PLANE_ADD1(r, 0, mlast, G0)                                                               \
        else PLANE_ADD1(r, 0, (__mmask16)0xFFFF, G0)                                                          \
        if (V == 2) PLANE_ADD1(r, 1, mlast, G1)                                                               \
        else if (V > 2) PLANE_ADD1(r, 1, (__mmask16)0xFFFF, G1)                                               \
        if (V == 3) PLANE_ADD1(r, 2, mlast, G2)                                                               \
    }
#define PLANE_ADD_REG(r) PLANE_ADD_ROW(r, a##r##0, a##r##1, a##r##2)
#define PLANE_ADD_MEM(r) PLANE_ADD_ROW(r, _mm512_loadu_ps(sum + r * 48), _mm512_loadu_ps(sum + r * 48 + 16),   \
                                       _mm512_loadu_ps(sum + r * 48 + 32))
/// Keeps a depth block's partial tile (row r) in `sum`, adding it onto the earlier blocks'.
#define PLANE_SUM1(r, v)                                                                                      \
    {                                                                                                         \
        __m512 s_ = a##r##v;                                                                                  \
        if (blk > 0) s_ = _mm512_add_ps(s_, _mm512_loadu_ps(sum + r * 48 + 16 * v));                          \
        _mm512_storeu_ps(sum + r * 48 + 16 * v, s_);                                                          \
    }
#define PLANE_SUM(r)                                                                                          \
    PLANE_SUM1(r, 0)                                                                                          \
    if (V > 1) PLANE_SUM1(r, 1)                                                                               \
    if (V > 2) PLANE_SUM1(r, 2)

/// One 8 x 16V tile of an example's kernel gradient G = patchesᵀ · dy (kernel rows at pr[r] = plane +
/// offset, position q's patch at base[q]), summed over the depth blocks of positions as the packed GEMM
/// does, then added into dμ and, times s_in[row] · s_out, into dΔW.
#define PLANE_GRADIENT(V_)                                                                                    \
    __attribute__((target("avx512f,fma"))) static void plane_gradient_##V_(                                   \
        const float *const *pr, long rows, const long *base, const plane_blocks *blocks, const float *dy,    \
        long ldy, __mmask16 mlast, const float *sIn, const float *sOut, float *dm, float *dd, long ldc) {     \
        enum { R = 8, V = V_ };                                                                               \
        const float *p0 = pr[0], *p1 = pr[1], *p2 = pr[2], *p3 = pr[3];                                       \
        const float *p4 = pr[4], *p5 = pr[5], *p6 = pr[6], *p7 = pr[7];                                       \
        float sum[8 * 48];                                                                                    \
        for (long blk = 0; blk < blocks->count; blk++) {                                                      \
            PLANE_ROWS(PLANE_DECL)                                                                            \
            const long q0 = blocks->start[blk], q1 = q0 + blocks->length[blk];                                \
            const float *d = dy + q0 * ldy;                                                                   \
            for (long q = q0; q < q1; q++, d += ldy) {                                                        \
                PLANE_LOADW(d)                                                                                \
                const long o = base[q];                                                                       \
                PLANE_FMA(0, p0[o]) PLANE_FMA(1, p1[o]) PLANE_FMA(2, p2[o]) PLANE_FMA(3, p3[o])               \
                PLANE_FMA(4, p4[o]) PLANE_FMA(5, p5[o]) PLANE_FMA(6, p6[o]) PLANE_FMA(7, p7[o])               \
            }                                                                                                 \
            if (blocks->count > 1) {                                                                          \
                PLANE_ROWS(PLANE_SUM)                                                                         \
                continue;                                                                                     \
            }                                                                                                 \
            const __m512 so0 = V == 1 ? _mm512_maskz_loadu_ps(mlast, sOut) : _mm512_loadu_ps(sOut);           \
            const __m512 so1 = V == 2 ? _mm512_maskz_loadu_ps(mlast, sOut + 16)                               \
                             : V > 2 ? _mm512_loadu_ps(sOut + 16) : _mm512_setzero_ps();                      \
            const __m512 so2 = V == 3 ? _mm512_maskz_loadu_ps(mlast, sOut + 32) : _mm512_setzero_ps();        \
            PLANE_ROWS(PLANE_ADD_REG)                                                                         \
            return;                                                                                           \
        }                                                                                                     \
        const __m512 so0 = V == 1 ? _mm512_maskz_loadu_ps(mlast, sOut) : _mm512_loadu_ps(sOut);               \
        const __m512 so1 = V == 2 ? _mm512_maskz_loadu_ps(mlast, sOut + 16)                                   \
                         : V > 2 ? _mm512_loadu_ps(sOut + 16) : _mm512_setzero_ps();                          \
        const __m512 so2 = V == 3 ? _mm512_maskz_loadu_ps(mlast, sOut + 32) : _mm512_setzero_ps();            \
        PLANE_ROWS(PLANE_ADD_MEM)                                                                             \
    }
PLANE_GRADIENT(1) PLANE_GRADIENT(2) PLANE_GRADIENT(3)

/// The kernel-gradient tile for at most 8 columns, in 8-lane vectors.
#define PLANE8_ADD(r, G)                                                                                      \
    if (r < rows) {                                                                                           \
        const __m256 g_ = (G);                                                                                \
        float *mr_ = dm + r * ldc, *dr_ = dd + r * ldc;                                                       \
        _mm256_mask_storeu_ps(mr_, m8, _mm256_add_ps(_mm256_maskz_loadu_ps(m8, mr_), g_));                    \
        const __m256 sg_ = _mm256_mul_ps(_mm256_set1_ps(sIn[r]), so);                                         \
        _mm256_mask_storeu_ps(dr_, m8, _mm256_fmadd_ps(sg_, g_, _mm256_maskz_loadu_ps(m8, dr_)));             \
    }
#define PLANE8_ADD_REG(r) PLANE8_ADD(r, a##r)
#define PLANE8_ADD_MEM(r) PLANE8_ADD(r, _mm256_loadu_ps(sum + r * 8))
#define PLANE8_SUM(r)                                                                                         \
    {                                                                                                         \
        __m256 s_ = a##r;                                                                                     \
        if (blk > 0) s_ = _mm256_add_ps(s_, _mm256_loadu_ps(sum + r * 8));                                    \
        _mm256_storeu_ps(sum + r * 8, s_);                                                                    \
    }
__attribute__((target("avx512f,avx512vl,fma"))) static void plane_gradient8(
    const float *const *pr, long rows, const long *base, const plane_blocks *blocks, const float *dy, long ldy,
    __mmask8 m8, const float *sIn, const float *sOut, float *dm, float *dd, long ldc) {
    enum { R = 8 };
    const float *p0 = pr[0], *p1 = pr[1], *p2 = pr[2], *p3 = pr[3];
    const float *p4 = pr[4], *p5 = pr[5], *p6 = pr[6], *p7 = pr[7];
    const __m256 so = _mm256_maskz_loadu_ps(m8, sOut);
    float sum[8 * 8];
    for (long blk = 0; blk < blocks->count; blk++) {
        PLANE_ROWS(PLANE8_DECL)
        const long q0 = blocks->start[blk], q1 = q0 + blocks->length[blk];
        const float *d = dy + q0 * ldy;
        for (long q = q0; q < q1; q++, d += ldy) {
            const __m256 w = _mm256_maskz_loadu_ps(m8, d);
            const long o = base[q];
            PLANE8_FMA(0, p0[o]) PLANE8_FMA(1, p1[o]) PLANE8_FMA(2, p2[o]) PLANE8_FMA(3, p3[o])
            PLANE8_FMA(4, p4[o]) PLANE8_FMA(5, p5[o]) PLANE8_FMA(6, p6[o]) PLANE8_FMA(7, p7[o])
        }
        if (blocks->count > 1) {
            PLANE_ROWS(PLANE8_SUM)
            continue;
        }
        PLANE_ROWS(PLANE8_ADD_REG)
        return;
    }
    PLANE_ROWS(PLANE8_ADD_MEM)
}

typedef void (*plane_gradient_fn)(const float *const *, long, const long *, const plane_blocks *, const float *,
                                  long, __mmask16, const float *, const float *, float *, float *, long);
static const plane_gradient_fn plane_gradient_kernels[3] = { plane_gradient_1, plane_gradient_2, plane_gradient_3 };
#endif

/// The fused Flipout convolution's kernel gradient over kernel rows [r0, r1) (tap, input channel): with
/// G_b = patches_bᵀ · dy_b, dMean[r] += Σ_b G_b[r] and dDelta[r] += Σ_b (s_in[b] ⊗ s_out[b]) ⊙ G_b[r], the
/// examples added in order. Each G_b has the packed GEMM's bits. Returns 0, computing nothing, where it
/// does not apply.
int bn_flipout_conv_kernel_gradient(const bn_conv_geom *g, const float *x, const float *dy, long batch, long r0,
                                    long r1, long n, const float *sIn, const float *sOut, float *dMean,
                                    float *dDelta) {
#ifdef BN_X86
    const long cin = g->inChannels;
    const long k = g->filter[0] * g->filter[1] * g->filter[2] * cin;
    const long positions = g->out[0] * g->out[1] * g->out[2];
    if (!plane_available() || n <= 0 || n > 64 * 16 || k > PLANE_MAX_COLS || r1 <= r0 || r1 > k) return 0;
    plane_blocks blocks;
    if (!plane_blocks_for(g, positions, 0, &blocks)) return 0;
    long dims[3];
    for (int d = 0; d < 3; d++) dims[d] = (g->out[d] - 1) * g->stride[d] + (g->filter[d] - 1) * g->dilation[d] + 1;
    const size_t planeSize = (size_t)(dims[0] * dims[1] * dims[2] * cin);
    float *plane = scratch(planeSize + (size_t)(k + positions) * 2 + 16);
    if (!plane) return 0;
    long *cols = (long *)(plane + (planeSize + 15) / 16 * 16);
    long *base = cols + k;
    plane_offsets(g, dims, k, cols);
    im2col_pos cursor;
    pos_from_row(g, 0, &cursor);
    for (long q = 0; q < positions; q++, pos_next(g, &cursor)) base[q] = plane_base(g, dims, &cursor);
    int vecs[64];
    long starts[64];
    const long ctiles = plane_column_tiles(n, vecs, starts);
    const int narrow = n <= 8 && narrow_vectors_available();
    for (long e = 0; e < batch; e++) {
        plane_pad(g, x, e, dims, plane);
        const float *dye = dy + e * positions * n;
        const float *si = sIn + e * cin, *so = sOut + e * n;
        for (long i = r0; i < r1; i += 8) {
            const long rows = r1 - i < 8 ? r1 - i : 8;
            const float *pr[8];
            float sr[8];
            for (long r = 0; r < 8; r++) {
                const long row = i + (r < rows ? r : 0);
                pr[r] = plane + cols[row];
                sr[r] = si[row % cin];
            }
            if (narrow) {
                plane_gradient8(pr, rows, base, &blocks, dye, n, (__mmask8)((1u << n) - 1), sr, so,
                                dMean + i * n, dDelta + i * n, n);
                continue;
            }
            for (long t = 0; t < ctiles; t++) {
                const long j0 = starts[t];
                const __mmask16 mlast = plane_mask(n - (j0 + 16 * (vecs[t] - 1)));
                plane_gradient_kernels[vecs[t] - 1](pr, rows, base, &blocks, dye + j0, n, mlast, sr, so + j0,
                                                    dMean + i * n + j0, dDelta + i * n + j0, n);
            }
        }
    }
    return 1;
#else
    (void)g; (void)x; (void)dy; (void)batch; (void)r0; (void)r1; (void)n; (void)sIn; (void)sOut; (void)dMean;
    (void)dDelta;
    return 0;
#endif
}
