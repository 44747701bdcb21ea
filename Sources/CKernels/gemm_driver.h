// The GEMM driver, im2col packing and col2im, included by sgemm.c and dgemm.c with REAL (the scalar type),
// A_SOURCE, GEMM_ROWS, COL2IM_ADD and IM2COL_SEGMENT defined, after each has defined its micro-kernels,
// bn_kernel_fn, bn_kernel_info and kernel_info(n).

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
static inline __attribute__((always_inline)) void im2col_copy(const bn_conv_geom *g, const REAL *x, const im2col_pos *pos, long col0, long count,
                        REAL *dst) {
    const long C = g->inChannels;
    const long D = g->in[0], H = g->in[1], W = g->in[2];
    const long z0 = pos->oz * g->stride[0] - g->pad[0];
    const long y0 = pos->oy * g->stride[1] - g->pad[1];
    const long x0 = pos->ox * g->stride[2] - g->pad[2];
    const REAL *xe = x + pos->example * (D * H * W * C);
    const long fh = g->filter[1], fw = g->filter[2];
    if (col0 == 0 && count == C * g->filter[0] * fh * fw && g->dilation[2] == 1 && z0 >= 0 && y0 >= 0 && x0 >= 0
        && z0 + (g->filter[0] - 1) * g->dilation[0] < D && y0 + (fh - 1) * g->dilation[1] < H && x0 + fw <= W) {
        // A whole row whose patch lies inside the input: one contiguous run per filter row, no bounds checks.
        const long run = fw * C;
        for (long tz = 0; tz < g->filter[0]; tz++) {
            for (long ty = 0; ty < fh; ty++) {
                const REAL *src = xe + (((z0 + tz * g->dilation[0]) * H + y0 + ty * g->dilation[1]) * W + x0) * C;
                if (run <= 16) for (long i = 0; i < run; i++) dst[i] = src[i];
                else memcpy(dst, src, (size_t)run * sizeof(REAL));
                dst += run;
            }
        }
        return;
    }
    if (col0 == 0 && count == C * g->filter[0] * fh * fw && g->dilation[2] == 1) {
        // A whole row whose patch crosses the padding: per filter row, zeros, one contiguous run, zeros.
        const long lo = x0 < 0 ? (-x0 < fw ? -x0 : fw) : 0;
        const long hi = W - x0 < fw ? (W - x0 > lo ? W - x0 : lo) : fw;
        for (long tz = 0; tz < g->filter[0]; tz++) {
            const long iz = z0 + tz * g->dilation[0];
            for (long ty = 0; ty < fh; ty++) {
                const long iy = y0 + ty * g->dilation[1];
                if (iz < 0 || iz >= D || iy < 0 || iy >= H || hi == lo) {
                    for (long i = 0; i < fw * C; i++) dst[i] = 0.0f;
                } else {
                    for (long i = 0; i < lo * C; i++) dst[i] = 0.0f;
                    const REAL *src = xe + ((iz * H + iy) * W + x0 + lo) * C;
                    REAL *d = dst + lo * C;
                    const long run = (hi - lo) * C;
                    if (run <= 16) for (long i = 0; i < run; i++) d[i] = src[i];
                    else memcpy(d, src, (size_t)run * sizeof(REAL));
                    for (long i = hi * C; i < fw * C; i++) dst[i] = 0.0f;
                }
                dst += fw * C;
            }
        }
        return;
    }
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
            const REAL *src = xe + ((iz * H + iy) * W + ix) * C + ch;
            if (run <= 8) for (long i = 0; i < run; i++) dst[i] = src[i];   // few values: no library call
            else memcpy(dst, src, (size_t)run * sizeof(REAL));
        } else {
            run = C - ch;
            if (run > count) run = count;
            if (run <= 8) for (long i = 0; i < run; i++) dst[i] = 0.0f;
            else memset(dst, 0, (size_t)run * sizeof(REAL));
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

void COL2IM_ADD(const bn_conv_geom *g, const REAL *src, long ld, long row0, long rows, REAL *dx) {
    const long C = g->inChannels;
    const long D = g->in[0], H = g->in[1], W = g->in[2];
    const long fd = g->filter[0], fh = g->filter[1], fw = g->filter[2];
    im2col_pos pos;
    pos_from_row(g, row0, &pos);
    for (long r = 0; r < rows; r++, pos_next(g, &pos), src += ld) {
        const long z0 = pos.oz * g->stride[0] - g->pad[0];
        const long y0 = pos.oy * g->stride[1] - g->pad[1];
        const long x0 = pos.ox * g->stride[2] - g->pad[2];
        REAL *xe = dx + pos.example * (D * H * W * C);
        const REAL *s = src;
        for (long tz = 0; tz < fd; tz++) {
            long iz = z0 + tz * g->dilation[0];
            for (long ty = 0; ty < fh; ty++) {
                long iy = y0 + ty * g->dilation[1];
                int rowValid = iz >= 0 && iz < D && iy >= 0 && iy < H;
                for (long tx = 0; tx < fw; tx++, s += C) {
                    long ix = x0 + tx * g->dilation[2];
                    if (!rowValid || ix < 0 || ix >= W) continue;
                    REAL *d = xe + ((iz * H + iy) * W + ix) * C;
                    for (long c = 0; c < C; c++) d[c] += s[c];
                }
            }
        }
    }
}

void IM2COL_SEGMENT(const bn_conv_geom *g, const REAL *x, long row, long col0, long count,
                       REAL *dst, long stride) {
    im2col_pos pos;
    pos_from_row(g, row, &pos);
    if (stride == 1) { im2col_copy(g, x, &pos, col0, count, dst); return; }
    REAL tmp[256];
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
static int a_rows_layout(const A_SOURCE *A) {
    return (A->kind == BN_A_MATRIX && !A->trans) || A->kind == BN_A_IM2COL;
}

/// The transposed im2col block: for each im2col row p, its columns [i0, i0+mc) are gathered once into a
/// small buffer, then dealt out mr at a time to the column-major panels.
static void pack_a_im2col_t(const A_SOURCE *A, long i0, long mc, long p0, long kc, int mr, REAL *dst) {
    REAL tmp[MC_ROWS];
    im2col_pos pos;
    pos_from_row(A->geom, A->row0 + p0, &pos);
    const long full = mc / mr * mr;
    for (long p = 0; p < kc; p++, pos_next(A->geom, &pos)) {
        im2col_copy(A->geom, A->a, &pos, i0, mc, tmp);
        // Constant-size copies compile to a few vector moves rather than library calls.
        if (mr == 12) {
            for (long ir = 0; ir < full; ir += 12) memcpy(dst + ir * kc + p * 12, tmp + ir, 12 * sizeof(REAL));
        } else if (mr == 6) {
            for (long ir = 0; ir < full; ir += 6) memcpy(dst + ir * kc + p * 6, tmp + ir, 6 * sizeof(REAL));
        } else {
            for (long ir = 0; ir < full; ir += mr) memcpy(dst + ir * kc + p * mr, tmp + ir, (size_t)mr * sizeof(REAL));
        }
        if (full < mc) {
            REAL *d = dst + full * kc + p * mr;
            long r = 0;
            for (; r < mc - full; r++) d[r] = tmp[full + r];
            for (; r < mr; r++) d[r] = 0.0f;
        }
    }
}

/// Packs op(A)[i0 ..< i0+mc][p0 ..< p0+kc] into panels of mr rows, zero-padded to mr: row-major panels
/// (mr rows of kc) or column-major ones (kc steps of mr), as `a_rows_layout` says. Writes stay contiguous.
static void pack_a(const A_SOURCE *A, long i0, long mc, long p0, long kc, int mr, REAL *dst) {
    for (long ir = 0; ir < mc; ir += mr) {
        long rows = mc - ir < mr ? mc - ir : mr;
        REAL *panel = dst + ir * kc;
        switch (A->kind) {
        case BN_A_MATRIX:
            if (!A->trans) {
                for (long r = 0; r < rows; r++)
                    memcpy(panel + r * kc, A->a + (i0 + ir + r) * A->lda + p0, (size_t)kc * sizeof(REAL));
                memset(panel + rows * kc, 0, (size_t)((mr - rows) * kc) * sizeof(REAL));
            } else {
                for (long p = 0; p < kc; p++) {
                    const REAL *src = A->a + (p0 + p) * A->lda + i0 + ir;
                    REAL *d = panel + p * mr;
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
            memset(panel + rows * kc, 0, (size_t)((mr - rows) * kc) * sizeof(REAL));
            break;
        }
        case BN_A_IM2COL_T:
            pack_a_im2col_t(A, i0, mc, p0, kc, mr, dst);
            return;
        }
    }
}

#if defined(BN_X86) && defined(FEW_CHANNELS_KERNELS)
/// Transposes the 16 x 16 block in r (rows become columns).
__attribute__((target("avx512f"), always_inline))
static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int h = 0; h < 16; h += 8)
        for (int i = 0; i < 4; i++) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xDD);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    }
}

/// One panel of a transposed B (B[p][j] = b[j*ldb + p]) in 16 x 16 blocks: contiguous reads of b and
/// contiguous writes of the panel, where the scalar loop writes every value nr floats apart.
__attribute__((target("avx512f")))
static void pack_b_trans_avx512(const float *b, long ldb, long p0, long kc, long j0, long cols, int nr,
                                float *panel) {
    for (long jg = 0; jg < nr; jg += 16) {
        const long rows = cols - jg < 0 ? 0 : cols - jg < 16 ? cols - jg : 16;
        for (long pg = 0; pg < kc; pg += 16) {
            const long depth = kc - pg < 16 ? kc - pg : 16;
            const __mmask16 m = depth == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << depth) - 1);
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < rows ? _mm512_maskz_loadu_ps(m, b + (j0 + jg + i) * ldb + p0 + pg) : _mm512_setzero_ps();
            transpose16(r);
            for (int i = 0; i < depth; i++) _mm512_storeu_ps(panel + (pg + i) * nr + jg, r[i]);
        }
    }
}
#endif

/// Packs op(B)[p0 ..< p0+kc][j0 ..< j0+nc] into panels of nr columns, each kc x nr, zero-padded.
static void pack_b(const REAL *b, long ldb, int transB, long p0, long kc, long j0, long nc, int nr,
                   REAL *dst) {
#if defined(BN_X86) && defined(FEW_CHANNELS_KERNELS)
    if (transB && nr % 16 == 0 && bn_cpu_level() == BN_CPU_AVX512) {
        for (long jr = 0; jr < nc; jr += nr)
            pack_b_trans_avx512(b, ldb, p0, kc, j0 + jr, nc - jr < nr ? nc - jr : nr, nr, dst + jr * kc);
        return;
    }
#endif
    for (long jr = 0; jr < nc; jr += nr) {
        long cols = nc - jr < nr ? nc - jr : nr;
        REAL *panel = dst + jr * kc;
        if (!transB) {
            for (long p = 0; p < kc; p++) {
                const REAL *src = b + (p0 + p) * ldb + j0 + jr;
                REAL *d = panel + p * nr;
                long j = 0;
                for (; j < cols; j++) d[j] = src[j];
                for (; j < nr; j++) d[j] = 0.0f;
            }
        } else {
            for (long j = 0; j < cols; j++) {
                const REAL *src = b + (j0 + jr + j) * ldb + p0;
                for (long p = 0; p < kc; p++) panel[p * nr + j] = src[p];
            }
            for (long j = cols; j < nr; j++)
                for (long p = 0; p < kc; p++) panel[p * nr + j] = 0.0f;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The blocked driver.

static void scale_rows(REAL *c, long ldc, long m0, long m1, long n, REAL beta) {
    for (long i = m0; i < m1; i++) {
        REAL *ci = c + i * ldc;
        if (beta == 0.0f) memset(ci, 0, (size_t)n * sizeof(REAL));
        else if (beta != 1.0f) for (long j = 0; j < n; j++) ci[j] *= beta;
    }
}

/// Per-thread packing buffers, kept between calls so large products never pay for fresh pages.
static __thread REAL *tls_buffer;
static __thread size_t tls_capacity;

static REAL *scratch(size_t floats) {
    if (floats > tls_capacity) {
        free(tls_buffer);
        size_t bytes = (floats * sizeof(REAL) + 63) / 64 * 64;
        tls_buffer = aligned_alloc(64, bytes);
        tls_capacity = tls_buffer ? floats : 0;
    }
    return tls_buffer;
}

/// One packed A block times one packed B block into C (mc x nc), with edge tiles through a scratch tile.
static void macro_tile(bn_kernel_fn kernel, int mr, int nr, const REAL *apack, const REAL *bpack, long mc,
                       long nc, long kc, REAL alpha, REAL beta, REAL *c, long ldc) {
    REAL edge[MR_MAX * NR_MAX] __attribute__((aligned(64)));
    for (long jr = 0; jr < nc; jr += nr) {
        long cols = nc - jr < nr ? nc - jr : nr;
        const REAL *bp = bpack + jr * kc;
        for (long ir = 0; ir < mc; ir += mr) {
            long rows = mc - ir < mr ? mc - ir : mr;
            const REAL *ap = apack + ir * kc;
            REAL *cp = c + ir * ldc + jr;
            if (rows == mr && cols == nr) {
                kernel(kc, ap, kc, bp, cp, ldc, alpha, beta);
            } else {
                kernel(kc, ap, kc, bp, edge, nr, alpha, 0.0f);
                for (long r = 0; r < rows; r++) {
                    REAL *cr = cp + r * ldc;
                    const REAL *er = edge + r * nr;
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

/// Filter-row runs (fw · inChannels contiguous input values) at least this long are read in place.
#define DIRECT_MIN_RUN 64

static const REAL direct_zeros[KC];

/// Whether a product can read its implicit im2col rows straight from the input (see gemm_im2col_direct).
static int direct_eligible(const A_SOURCE *A, long n, long k, int nr) {
    if (A->kind != BN_A_IM2COL) return 0;
    const bn_conv_geom *g = A->geom;
    const long ncr = (n + nr - 1) / nr * nr;
    return g->dilation[2] == 1 && g->filter[2] * g->inChannels >= DIRECT_MIN_RUN && n <= NC
        && (size_t)ncr * (size_t)k * sizeof(REAL) <= B_RESIDENT_BYTES;
}

/// Implicit im2col without packing A. Depth blocks follow the filter rows: within one, each output row's
/// patch values are a contiguous run of the input, so the micro-kernel reads them in place through row
/// pointers. A filter row above or below the input reads zeros; a row clipped at the left or right edge gets
/// just that block packed. Each block of mr rows of C stays in cache while every depth block adds into it.
static void gemm_im2col_direct(const A_SOURCE *A, long m0, long m1, long n, long k, REAL alpha, const REAL *b,
                               long ldb, int transB, REAL beta, REAL *c, long ldc, bn_kernel_info K) {
    const bn_conv_geom *g = A->geom;
    const int mr = K.mr, nr = K.nr;
    const long C = g->inChannels, D = g->in[0], H = g->in[1], W = g->in[2];
    const long fh = g->filter[1], fw = g->filter[2];
    const long run = fw * C, filterRows = g->filter[0] * fh;
    const long pieces = (run + KC - 1) / KC;
    const long kcb = (run + pieces - 1) / pieces;
    const long ncr = (n + nr - 1) / nr * nr;
    const size_t bsize = (size_t)ncr * (size_t)k;
    REAL *bpack = scratch(bsize + (size_t)mr * (size_t)kcb + 16);
    REAL *rowbuf = bpack + (bsize + 15) / 16 * 16;
    for (long t = 0; t < filterRows; t++) {
        for (long off = 0; off < run; off += kcb) {
            long kc = run - off < kcb ? run - off : kcb;
            long pc = t * run + off;
            pack_b(b, ldb, transB, pc, kc, 0, n, nr, bpack + pc * ncr);
        }
    }
    REAL edge[MR_MAX * NR_MAX] __attribute__((aligned(64)));
    const REAL *ap[MR_MAX];
    const REAL *xe[MR_MAX];
    long z0[MR_MAX], y0[MR_MAX], x0[MR_MAX];
    im2col_pos pos[MR_MAX];
    im2col_pos cursor;
    pos_from_row(g, m0, &cursor);
    for (long i = m0; i < m1; i += mr) {
        const long rows = m1 - i < mr ? m1 - i : mr;
        for (long r = 0; r < rows; r++, pos_next(g, &cursor)) {
            pos[r] = cursor;
            z0[r] = cursor.oz * g->stride[0] - g->pad[0];
            y0[r] = cursor.oy * g->stride[1] - g->pad[1];
            x0[r] = cursor.ox * g->stride[2] - g->pad[2];
            xe[r] = A->a + cursor.example * (D * H * W * C);
        }
        for (long t = 0; t < filterRows; t++) {
            const long tz = t / fh, ty = t - tz * fh;
            for (long off = 0; off < run; off += kcb) {
                const long kc = run - off < kcb ? run - off : kcb;
                const long pc = t * run + off;
                for (long r = 0; r < mr; r++) {
                    if (r >= rows) { ap[r] = direct_zeros; continue; }
                    long iz = z0[r] + tz * g->dilation[0], iy = y0[r] + ty * g->dilation[1];
                    if (iz < 0 || iz >= D || iy < 0 || iy >= H) { ap[r] = direct_zeros; continue; }
                    if (x0[r] >= 0 && x0[r] + fw <= W) {
                        ap[r] = xe[r] + ((iz * H + iy) * W + x0[r]) * C + off;
                        continue;
                    }
                    REAL *dst = rowbuf + r * kcb;
                    im2col_copy(g, A->a, &pos[r], pc, kc, dst);
                    ap[r] = dst;
                }
                const REAL bt = pc == 0 ? beta : (REAL)1;
                const REAL *bp = bpack + pc * ncr;
                for (long jr = 0; jr < n; jr += nr) {
                    const long cols = n - jr < nr ? n - jr : nr;
                    REAL *cp = c + i * ldc + jr;
                    if (rows == mr && cols == nr) {
                        K.ptrs(kc, ap, bp + jr * kc, cp, ldc, alpha, bt);
                    } else {
                        K.ptrs(kc, ap, bp + jr * kc, edge, nr, alpha, (REAL)0);
                        for (long r = 0; r < rows; r++) {
                            REAL *cr = cp + r * ldc;
                            const REAL *er = edge + r * nr;
                            if (bt == (REAL)0) for (long j = 0; j < cols; j++) cr[j] = er[j];
                            else for (long j = 0; j < cols; j++) cr[j] = er[j] + bt * cr[j];
                        }
                    }
                }
            }
        }
    }
}

#ifdef FEW_CHANNELS_KERNELS
#include "few_channels.h"
#include "plane_conv.h"
#endif

/// macro_tile for a plain row-major A, read in place through row pointers: packing it would only copy each
/// row's run (rows past the block read zeros).
static void macro_tile_in_place(bn_kernel_info K, const REAL *a, long lda, const REAL *bpack, long mc, long nc,
                                long kc, REAL alpha, REAL beta, REAL *c, long ldc) {
    const int mr = K.mr, nr = K.nr;
    REAL edge[MR_MAX * NR_MAX] __attribute__((aligned(64)));
    const REAL *ap[MR_MAX];
    for (long jr = 0; jr < nc; jr += nr) {
        long cols = nc - jr < nr ? nc - jr : nr;
        const REAL *bp = bpack + jr * kc;
        for (long ir = 0; ir < mc; ir += mr) {
            long rows = mc - ir < mr ? mc - ir : mr;
            for (long r = 0; r < mr; r++) ap[r] = r < rows ? a + (ir + r) * lda : direct_zeros;
            REAL *cp = c + ir * ldc + jr;
            if (rows == mr && cols == nr) {
                K.ptrs(kc, ap, bp, cp, ldc, alpha, beta);
            } else {
                K.ptrs(kc, ap, bp, edge, nr, alpha, (REAL)0);
                for (long r = 0; r < rows; r++) {
                    REAL *cr = cp + r * ldc;
                    const REAL *er = edge + r * nr;
                    if (beta == (REAL)0) for (long j = 0; j < cols; j++) cr[j] = er[j];
                    else for (long j = 0; j < cols; j++) cr[j] = er[j] + beta * cr[j];
                }
            }
        }
    }
}

void GEMM_ROWS(const A_SOURCE *A, long m0, long m1, long n, long k, REAL alpha,
                   const REAL *b, long ldb, int transB, REAL beta, REAL *c, long ldc) {
    if (m1 <= m0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) { scale_rows(c, ldc, m0, m1, n, beta); return; }
    bn_kernel_info K = kernel_info(n);
    const int mr = K.mr, nr = K.nr;
    if (direct_eligible(A, n, k, nr)) {
        gemm_im2col_direct(A, m0, m1, n, k, alpha, b, ldb, transB, beta, c, ldc, K);
        return;
    }
#ifdef FEW_CHANNELS_KERNELS
    if (few_channels_product(A, m0, m1, n, k, alpha, b, ldb, transB, beta, c, ldc)) return;
#endif
    bn_kernel_fn kernel = a_rows_layout(A) ? K.rows : K.cols;
    // A plain row-major A is read in place where each of its blocks meets few column tiles (a dense layer's
    // forward product with few outputs): there packing costs as much as the multiply-adds it serves. Against
    // many tiles the packed panel's one contiguous run beats rows a power-of-two stride apart, which contend
    // for the same cache sets.
    const int inPlace = A->kind == BN_A_MATRIX && !A->trans && (n + nr - 1) / nr <= 4;
    // Equal depth blocks: 576 = 3 x 192 rather than 256 + 256 + 64.
    const long kblocks = (k + KC - 1) / KC;
    const long kcb = (k + kblocks - 1) / kblocks;
    const long ncap = n < NC ? n : NC;
    const long ncr = (ncap + nr - 1) / nr * nr;
    const int resident = (size_t)ncr * (size_t)k * sizeof(REAL) <= B_RESIDENT_BYTES;
    size_t bsize = (size_t)ncr * (size_t)(resident ? k : kcb);
    size_t asize = (size_t)MC_ROWS * kcb;
    REAL *bpack = scratch(bsize + asize + 16);
    REAL *apack = bpack + (bsize + 15) / 16 * 16;

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
                    if (inPlace) {
                        macro_tile_in_place(K, A->a + ic * A->lda + pc, A->lda, bpack + pc * ncr, mc, nc, kc, alpha,
                                            pc == 0 ? beta : 1.0f, c + ic * ldc + jc, ldc);
                        continue;
                    }
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
                    if (inPlace) {
                        macro_tile_in_place(K, A->a + ic * A->lda + pc, A->lda, bpack, mc, nc, kc, alpha,
                                            pc == 0 ? beta : 1.0f, c + ic * ldc + jc, ldc);
                        continue;
                    }
                    pack_a(A, ic, mc, pc, kc, mr, apack);
                    macro_tile(kernel, mr, nr, apack, bpack, mc, nc, kc, alpha, pc == 0 ? beta : 1.0f,
                               c + ic * ldc + jc, ldc);
                }
            }
        }
    }
}
