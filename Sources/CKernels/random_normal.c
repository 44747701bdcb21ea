// Normal draws for the weight noise of variational layers. The Swift generator computes each value through
// tuples and optional returns; this loop runs the Philox blocks for many pairs at once (which the compiler
// vectorises) and then the polar transform pair by pair, in exactly the Swift code's order of operations.
#include "bn_random.h"
#include <math.h>
#include <string.h>

// The Swift code rounds every operation; no fused multiply-adds here either.
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define PAIRS 64

typedef struct {
    uint32_t c[4][PAIRS];
} blocks;

static inline __attribute__((always_inline)) void philox_blocks(uint32_t k0, uint32_t k1, uint64_t first, long n, uint32_t s0, uint32_t s1,
                                 blocks *out) {
    for (long j = 0; j < n; j++) {
        uint64_t index = first + (uint64_t)j;
        uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = s0, c3 = s1;
        uint32_t a = k0, b = k1;
        for (int r = 0; r < 10; r++) {
            if (r > 0) {
                a += 0x9E3779B9u;
                b += 0xBB67AE85u;
            }
            uint64_t p0 = (uint64_t)0xD2511F53u * c0;
            uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
            uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
            uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
            c0 = hi1 ^ c1 ^ a;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ b;
            c3 = lo0;
        }
        out->c[0][j] = c0;
        out->c[1][j] = c1;
        out->c[2][j] = c2;
        out->c[3][j] = c3;
    }
}

static inline __attribute__((always_inline)) int polar(uint32_t a, uint32_t b, double *z0, double *z1) {
    double u = ((double)a + 0.5) * 0x1p-31 - 1;
    double v = ((double)b + 0.5) * 0x1p-31 - 1;
    double s = u * u + v * v;
    if (!(s < 1)) return 0;
    double f = sqrt(-2 * log(s) / s);
    *z0 = u * f;
    *z1 = v * f;
    return 1;
}

static void box_muller(uint32_t k0, uint32_t k1, uint64_t pair, uint32_t s0, uint32_t s1, double *z0, double *z1) {
    blocks one;
    philox_blocks(k0, k1, pair, 1, s0, s1, &one);
    uint64_t w0 = (uint64_t)one.c[0][0] | ((uint64_t)one.c[1][0] << 32);
    uint64_t w1 = (uint64_t)one.c[2][0] | ((uint64_t)one.c[3][0] << 32);
    double u1 = ((double)(w0 >> 11) + 1) * 0x1p-53;
    double u2 = (double)(w1 >> 11) * 0x1p-53;
    double radius = sqrt(-2 * log(u1));
    double theta = 2 * 3.141592653589793115997963468544185161590576171875 * u2;
    *z0 = radius * cos(theta);
    *z1 = radius * sin(theta);
}

static inline __attribute__((always_inline)) void fill_normal(uint64_t key, uint64_t fallbackKey, uint64_t step, long offset, long count, float *out) {
    if (count <= 0) return;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    uint32_t f0 = (uint32_t)fallbackKey, f1 = (uint32_t)(fallbackKey >> 32);
    uint32_t s0 = (uint32_t)step, s1 = (uint32_t)(step >> 32);
    long end = offset + count;
    long firstPair = offset >> 1, lastPair = (end - 1) >> 1;
    blocks b;
    for (long p0 = firstPair; p0 <= lastPair; p0 += PAIRS) {
        long n = lastPair - p0 + 1 < PAIRS ? lastPair - p0 + 1 : PAIRS;
        philox_blocks(k0, k1, (uint64_t)p0, n, s0, s1, &b);
        for (long j = 0; j < n; j++) {
            long pair = p0 + j;
            double z0, z1;
            if (!polar(b.c[0][j], b.c[1][j], &z0, &z1) && !polar(b.c[2][j], b.c[3][j], &z0, &z1)) {
                box_muller(f0, f1, (uint64_t)pair, s0, s1, &z0, &z1);
            }
            long i = 2 * pair;
            if (i >= offset && i < end) out[i - offset] = (float)z0;
            if (i + 1 >= offset && i + 1 < end) out[i + 1 - offset] = (float)z1;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#include "ckernels.h"

/// log(s) for s in (0, 1), eight at a time: s = 2^e · m with m in (√½, √2], log m = 2 atanh((m-1)/(m+1)) by
/// its series. Not the C library's bits: within a few units in the last place of them, which is all the
/// guard in fill_normal_avx512 needs.
__attribute__((target("avx512f,avx512dq"))) static inline __m512d log_unit_avx512(__m512d s) {
    __m512d e = _mm512_getexp_pd(s);
    __m512d m = _mm512_getmant_pd(s, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
    const __mmask8 big = _mm512_cmp_pd_mask(m, _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
    e = _mm512_mask_add_pd(e, big, e, _mm512_set1_pd(1.0));
    const __m512d one = _mm512_set1_pd(1.0);
    const __m512d t = _mm512_div_pd(_mm512_sub_pd(m, one), _mm512_add_pd(m, one));
    const __m512d t2 = _mm512_mul_pd(t, t);
    // |t| <= 0.1716, t² <= 0.0295: eleven terms of Σ t^2k / (2k+1) reach below 2^-56.
    __m512d p = _mm512_set1_pd(1.0 / 25);
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 23));
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 21));
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 19));
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 17));
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 15));
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 13));
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 11));
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 9));
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 7));
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 5));
    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / 3));
    const __m512d t2t = _mm512_add_pd(t, t);
    const __m512d lm = _mm512_fmadd_pd(_mm512_mul_pd(t2t, t2), p, t2t);
    // ln 2 in two parts, the first with trailing zeros so that e · hi is exact.
    const __m512d hi = _mm512_set1_pd(0.6931471803691238), lo = _mm512_set1_pd(1.9082149292705877e-10);
    return _mm512_add_pd(_mm512_mul_pd(e, hi), _mm512_fmadd_pd(e, lo, lm));
}

/// sin x and cos x for x in [0, 2π), eight at a time: x less the nearest multiple q of π/2 in three parts
/// (fdlibm's, the first two with trailing zeros so that their products with q are exact, the last step
/// compensated), then the Taylor series on [-π/4, π/4] and the quadrant's swap and signs. Within a few units
/// in the last place of the library's, also where the result is tiny (x near a multiple of π/2).
__attribute__((target("avx512f,avx512dq"))) static inline void sincos_avx512(__m512d x, __m512d *sine,
                                                                             __m512d *cosine) {
    const __m512d q = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(6.36619772367581382433e-01)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512d t = _mm512_fnmadd_pd(q, _mm512_set1_pd(1.57079632673412561417e+00), x);
    __m512d w = _mm512_mul_pd(q, _mm512_set1_pd(6.07710050630396597660e-11));
    const __m512d r = _mm512_sub_pd(t, w);
    w = _mm512_sub_pd(_mm512_mul_pd(q, _mm512_set1_pd(2.02226624879595063154e-21)),
                      _mm512_sub_pd(_mm512_sub_pd(t, r), w));
    const __m512d y = _mm512_sub_pd(r, w), y2 = _mm512_mul_pd(y, y);
    // sin y = y + y³ Σ (−1)^k y^(2k−2) / (2k+1)!, cos y = 1 − y²/2 + y⁴ Σ (−1)^k y^(2k−4) / (2k)!; the first
    // omitted terms are below 2^-60 of the result.
    __m512d ps = _mm512_set1_pd(1.0 / 355687428096000.0);
    ps = _mm512_fmadd_pd(ps, y2, _mm512_set1_pd(-1.0 / 1307674368000.0));
    ps = _mm512_fmadd_pd(ps, y2, _mm512_set1_pd(1.0 / 6227020800.0));
    ps = _mm512_fmadd_pd(ps, y2, _mm512_set1_pd(-1.0 / 39916800.0));
    ps = _mm512_fmadd_pd(ps, y2, _mm512_set1_pd(1.0 / 362880.0));
    ps = _mm512_fmadd_pd(ps, y2, _mm512_set1_pd(-1.0 / 5040.0));
    ps = _mm512_fmadd_pd(ps, y2, _mm512_set1_pd(1.0 / 120.0));
    ps = _mm512_fmadd_pd(ps, y2, _mm512_set1_pd(-1.0 / 6.0));
    const __m512d s = _mm512_fmadd_pd(_mm512_mul_pd(y, y2), ps, y);
    __m512d pc = _mm512_set1_pd(-1.0 / 6402373705728000.0);
    pc = _mm512_fmadd_pd(pc, y2, _mm512_set1_pd(1.0 / 20922789888000.0));
    pc = _mm512_fmadd_pd(pc, y2, _mm512_set1_pd(-1.0 / 87178291200.0));
    pc = _mm512_fmadd_pd(pc, y2, _mm512_set1_pd(1.0 / 479001600.0));
    pc = _mm512_fmadd_pd(pc, y2, _mm512_set1_pd(-1.0 / 3628800.0));
    pc = _mm512_fmadd_pd(pc, y2, _mm512_set1_pd(1.0 / 40320.0));
    pc = _mm512_fmadd_pd(pc, y2, _mm512_set1_pd(-1.0 / 720.0));
    pc = _mm512_fmadd_pd(pc, y2, _mm512_set1_pd(1.0 / 24.0));
    const __m512d c = _mm512_fmadd_pd(_mm512_mul_pd(y2, y2), pc,
                                      _mm512_fnmadd_pd(_mm512_set1_pd(0.5), y2, _mm512_set1_pd(1.0)));
    // Quadrant q mod 4: sin x = (s, c, −s, −c), cos x = (c, −s, −c, s).
    const __m512i qi = _mm512_cvtpd_epi64(q);
    const __mmask8 swap = _mm512_test_epi64_mask(qi, _mm512_set1_epi64(1));
    const __mmask8 negSin = _mm512_test_epi64_mask(qi, _mm512_set1_epi64(2));
    const __mmask8 negCos = _mm512_test_epi64_mask(_mm512_add_epi64(qi, _mm512_set1_epi64(1)), _mm512_set1_epi64(2));
    const __m512d zero = _mm512_setzero_pd();
    const __m512d sx = _mm512_mask_blend_pd(swap, s, c), cx = _mm512_mask_blend_pd(swap, c, s);
    *sine = _mm512_mask_sub_pd(sx, negSin, zero, sx);
    *cosine = _mm512_mask_sub_pd(cx, negCos, zero, cx);
}

/// Relative distance within which the vector pipeline's z (double) is sure to lie from the C library's: a
/// logarithm within a few units in the last place, then the same divide, square root and product, each
/// rounded once. Far below a float's resolution (2^-24), so only values this close to a rounding boundary
/// of float are recomputed with the library.
#define POLAR_GUARD 0x1p-36

/// The normal pairs of `n` Philox blocks as floats into z (2n values): the polar method, or Box-Muller on the
/// fallback key's block where both pairs fall outside the disc, in the vector pipeline where it is sure to
/// give the library's bits, the scalar code elsewhere.
__attribute__((target("avx512f,avx512dq"))) static void polar_blocks_avx512(const blocks *b, long n, uint32_t f0,
                                                                           uint32_t f1, uint64_t p0, uint32_t s0,
                                                                           uint32_t s1, float *z) {
    const __m512d half = _mm512_set1_pd(0.5), scale = _mm512_set1_pd(0x1p-31), one = _mm512_set1_pd(1.0);
    const __m512d guardLo = _mm512_set1_pd(1.0 - POLAR_GUARD), guardHi = _mm512_set1_pd(1.0 + POLAR_GUARD);
    long j = 0;
    for (; j + 8 <= n; j += 8) {
#define UNIT(w) _mm512_sub_pd(_mm512_mul_pd(_mm512_add_pd(_mm512_cvtepu32_pd(_mm256_loadu_si256((const __m256i *)(b->c[w] + j))), half), scale), one)
        const __m512d ua = UNIT(0), va = UNIT(1), ub = UNIT(2), vb = UNIT(3);
#undef UNIT
        const __m512d sa = _mm512_add_pd(_mm512_mul_pd(ua, ua), _mm512_mul_pd(va, va));
        const __m512d sb = _mm512_add_pd(_mm512_mul_pd(ub, ub), _mm512_mul_pd(vb, vb));
        const __mmask8 inA = _mm512_cmp_pd_mask(sa, one, _CMP_LT_OQ);
        const __mmask8 inB = _mm512_cmp_pd_mask(sb, one, _CMP_LT_OQ);
        const __m512d u = _mm512_mask_blend_pd(inA, ub, ua), v = _mm512_mask_blend_pd(inA, vb, va);
        __m512d sv = _mm512_mask_blend_pd(inA, sb, sa);
        const __mmask8 valid = inA | inB;
        sv = _mm512_mask_blend_pd(valid, half, sv);   // lanes of neither pair: any s in (0, 1), recomputed below
        const __m512d f = _mm512_sqrt_pd(_mm512_div_pd(_mm512_mul_pd(_mm512_set1_pd(-2.0), log_unit_avx512(sv)), sv));
        __m512d z0 = _mm512_mul_pd(u, f), z1 = _mm512_mul_pd(v, f);
        __mmask8 usable = valid;
        if (valid != 0xFF) {
            // Box-Muller on the fallback key's blocks for the pairs outside the disc, as box_muller computes
            // it: u1 in (0, 1] from the first 64 bits, u2 in [0, 1) from the second, radius · (cos, sin) 2π u2.
            blocks fb;
            philox_blocks(f0, f1, p0 + (uint64_t)j, 8, s0, s1, &fb);
#define WORD(lo, hi) _mm512_or_si512(_mm512_cvtepu32_epi64(_mm256_loadu_si256((const __m256i *)fb.c[lo])), \
                                     _mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm256_loadu_si256((const __m256i *)fb.c[hi])), 32))
            const __m512d ulp53 = _mm512_set1_pd(0x1p-53);
            const __m512d u1 = _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(WORD(0, 1), 11)), one), ulp53);
            const __m512d u2 = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(WORD(2, 3), 11)), ulp53);
#undef WORD
            const __m512d radius = _mm512_sqrt_pd(_mm512_mul_pd(_mm512_set1_pd(-2.0), log_unit_avx512(u1)));
            __m512d sn, cs;
            sincos_avx512(_mm512_mul_pd(_mm512_set1_pd(2 * 3.141592653589793115997963468544185161590576171875), u2),
                          &sn, &cs);
            z0 = _mm512_mask_blend_pd(valid, _mm512_mul_pd(radius, cs), z0);
            z1 = _mm512_mask_blend_pd(valid, _mm512_mul_pd(radius, sn), z1);
            // A zero's sign follows the cosine's or sine's sign, which the guard does not see: recomputed.
            const __m512d zero = _mm512_setzero_pd();
            usable = valid | (_mm512_cmp_pd_mask(z0, zero, _CMP_NEQ_OQ) & _mm512_cmp_pd_mask(z1, zero, _CMP_NEQ_OQ));
        }
        // z rounds to the same float as every value within the guard of it, so as the library's z.
        const __m256 z0f = _mm512_cvtpd_ps(z0), z1f = _mm512_cvtpd_ps(z1);
        const __m512d a0 = _mm512_mul_pd(z0, guardLo), b0 = _mm512_mul_pd(z0, guardHi);
        const __m512d a1 = _mm512_mul_pd(z1, guardLo), b1 = _mm512_mul_pd(z1, guardHi);
#define SAME_FLOAT(x, f) _mm512_cmp_pd_mask(_mm512_cvtps_pd(_mm512_cvtpd_ps(x)), _mm512_cvtps_pd(f), _CMP_EQ_OQ)
        const __mmask8 sure = usable & SAME_FLOAT(a0, z0f) & SAME_FLOAT(b0, z0f) & SAME_FLOAT(a1, z1f) & SAME_FLOAT(b1, z1f);
#undef SAME_FLOAT
        // Interleave (z0, z1) pairs.
        const __m512 both = _mm512_insertf32x8(_mm512_castps256_ps512(z0f), z1f, 1);
        const __m512i order = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        _mm512_storeu_ps(z + 2 * j, _mm512_permutexvar_ps(order, both));
        if (sure != 0xFF) {
            for (int l = 0; l < 8; l++) {
                if (sure >> l & 1) continue;
                double w0, w1;
                if (!polar(b->c[0][j + l], b->c[1][j + l], &w0, &w1) && !polar(b->c[2][j + l], b->c[3][j + l], &w0, &w1))
                    box_muller(f0, f1, p0 + (uint64_t)(j + l), s0, s1, &w0, &w1);
                z[2 * (j + l)] = (float)w0;
                z[2 * (j + l) + 1] = (float)w1;
            }
        }
    }
    for (; j < n; j++) {
        double w0, w1;
        if (!polar(b->c[0][j], b->c[1][j], &w0, &w1) && !polar(b->c[2][j], b->c[3][j], &w0, &w1))
            box_muller(f0, f1, p0 + (uint64_t)j, s0, s1, &w0, &w1);
        z[2 * j] = (float)w0;
        z[2 * j + 1] = (float)w1;
    }
}

__attribute__((target("avx512f,avx512dq"))) static void fill_normal_avx512(uint64_t key, uint64_t fallbackKey,
                                                                           uint64_t step, long offset, long count,
                                                                           float *out) {
    if (count <= 0) return;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    uint32_t f0 = (uint32_t)fallbackKey, f1 = (uint32_t)(fallbackKey >> 32);
    uint32_t s0 = (uint32_t)step, s1 = (uint32_t)(step >> 32);
    long end = offset + count;
    long firstPair = offset >> 1, lastPair = (end - 1) >> 1;
    blocks b;
    float z[2 * PAIRS];
    for (long p0 = firstPair; p0 <= lastPair; p0 += PAIRS) {
        long n = lastPair - p0 + 1 < PAIRS ? lastPair - p0 + 1 : PAIRS;
        philox_blocks(k0, k1, (uint64_t)p0, n, s0, s1, &b);
        polar_blocks_avx512(&b, n, f0, f1, (uint64_t)p0, s0, s1, z);
        long i0 = 2 * p0, i1 = 2 * (p0 + n);
        long lo = i0 > offset ? i0 : offset, hi = i1 < end ? i1 : end;
        memcpy(out + (lo - offset), z + (lo - i0), (size_t)(hi - lo) * sizeof(float));
    }
}
__attribute__((target("avx2"))) static void fill_normal_avx2(uint64_t key, uint64_t fallbackKey, uint64_t step,
                                                             long offset, long count, float *out) {
    fill_normal(key, fallbackKey, step, offset, count, out);
}
#endif

/// Signs [offset, offset + count): element i is bit i % 32 of word (i / 32) % 4 of block i / 128, +1 for a 0.
typedef void (*store_signs_fn)(float *dst, uint32_t word);

static inline __attribute__((always_inline)) void fill_signs(uint64_t key, uint64_t step, long offset, long count,
                                                             float *out, store_signs_fn store32) {
    if (count <= 0) return;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    uint32_t s0 = (uint32_t)step, s1 = (uint32_t)(step >> 32);
    const long end = offset + count;
    const long firstBlock = offset >> 7, lastBlock = (end - 1) >> 7;
    blocks b;
    for (long b0 = firstBlock; b0 <= lastBlock; b0 += PAIRS) {
        const long n = lastBlock - b0 + 1 < PAIRS ? lastBlock - b0 + 1 : PAIRS;
        philox_blocks(k0, k1, (uint64_t)b0, n, s0, s1, &b);
        for (long j = 0; j < n; j++) {
            for (int w = 0; w < 4; w++) {
                const uint32_t word = b.c[w][j];
                const long i0 = (b0 + j) * 128 + 32 * w;
                if (store32 && i0 >= offset && i0 + 32 <= end) {
                    store32(out + (i0 - offset), word);
                    continue;
                }
                for (long i = i0 < offset ? offset : i0; i < i0 + 32 && i < end; i++)
                    out[i - offset] = (word >> (i & 31)) & 1 ? -1.0f : 1.0f;
            }
        }
    }
}

#if defined(__x86_64__)
/// 32 signs from one word: a set bit selects -1.
__attribute__((target("avx512f"), always_inline)) static inline void store_signs_avx512(float *dst, uint32_t word) {
    const __m512 plus = _mm512_set1_ps(1.0f), minus = _mm512_set1_ps(-1.0f);
    _mm512_storeu_ps(dst, _mm512_mask_blend_ps((__mmask16)word, plus, minus));
    _mm512_storeu_ps(dst + 16, _mm512_mask_blend_ps((__mmask16)(word >> 16), plus, minus));
}

__attribute__((target("avx512f,avx512dq"))) static void fill_signs_avx512(uint64_t key, uint64_t step, long offset,
                                                                          long count, float *out) {
    fill_signs(key, step, offset, count, out, store_signs_avx512);
}
__attribute__((target("avx2"))) static void fill_signs_avx2(uint64_t key, uint64_t step, long offset, long count,
                                                            float *out) {
    fill_signs(key, step, offset, count, out, NULL);
}
#endif

void bn_fill_signs_f32(uint64_t key, uint64_t step, long offset, long count, float *out) {
#if defined(__x86_64__)
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) { fill_signs_avx512(key, step, offset, count, out); return; }
    if (k == BN_CPU_AVX2) { fill_signs_avx2(key, step, offset, count, out); return; }
#endif
    fill_signs(key, step, offset, count, out, NULL);
}

void bn_fill_normal_f32(uint64_t key, uint64_t fallbackKey, uint64_t step, long offset, long count, float *out) {
#if defined(__x86_64__)
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) { fill_normal_avx512(key, fallbackKey, step, offset, count, out); return; }
    if (k == BN_CPU_AVX2) { fill_normal_avx2(key, fallbackKey, step, offset, count, out); return; }
#endif
    fill_normal(key, fallbackKey, step, offset, count, out);
}

/// Dropout over elements [offset, offset + count) of a stream's uniform sequence: element i is kept when
/// the top 53 bits k of words (0, 1) (i even) or (2, 3) (i odd) of block i / 2 give k·2^-53 ≥ rate
/// (RandomStream.uniform(at:)), that is k ≥ ⌈rate·2^53⌉: an integer comparison, exact since the scaling is.
static inline __attribute__((always_inline)) void dropout(uint64_t key, uint64_t step, long offset, long count,
                                                          const float *in, float *out, double rate, float scale,
                                                          int accumulate) {
    if (count <= 0) return;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    uint32_t s0 = (uint32_t)step, s1 = (uint32_t)(step >> 32);
    const uint64_t threshold = (uint64_t)ceil(rate * 0x1p53);
    const long end = offset + count;
    const long firstPair = offset >> 1, lastPair = (end - 1) >> 1;
    blocks b;
    for (long p0 = firstPair; p0 <= lastPair; p0 += PAIRS) {
        const long n = lastPair - p0 + 1 < PAIRS ? lastPair - p0 + 1 : PAIRS;
        philox_blocks(k0, k1, (uint64_t)p0, n, s0, s1, &b);
        for (long j = 0; j < n; j++) {
            const uint64_t even = ((uint64_t)b.c[0][j] | (uint64_t)b.c[1][j] << 32) >> 11;
            const uint64_t odd = ((uint64_t)b.c[2][j] | (uint64_t)b.c[3][j] << 32) >> 11;
            const long i = 2 * (p0 + j) - offset;
            if (i >= 0) {
                const float v = even >= threshold ? in[i] * scale : 0.0f;
                out[i] = accumulate ? out[i] + v : v;
            }
            if (i + 1 < count) {
                const float v = odd >= threshold ? in[i + 1] * scale : 0.0f;
                out[i + 1] = accumulate ? out[i + 1] + v : v;
            }
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq"))) static void dropout_avx512(uint64_t key, uint64_t step, long offset,
                                                                       long count, const float *in, float *out,
                                                                       double rate, float scale, int accumulate) {
    dropout(key, step, offset, count, in, out, rate, scale, accumulate);
}
__attribute__((target("avx2"))) static void dropout_avx2(uint64_t key, uint64_t step, long offset, long count,
                                                         const float *in, float *out, double rate, float scale,
                                                         int accumulate) {
    dropout(key, step, offset, count, in, out, rate, scale, accumulate);
}
#endif

void bn_dropout_f32(uint64_t key, uint64_t step, long offset, long count, const float *in, float *out, double rate,
                    float scale, int accumulate) {
#if defined(__x86_64__)
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) { dropout_avx512(key, step, offset, count, in, out, rate, scale, accumulate); return; }
    if (k == BN_CPU_AVX2) { dropout_avx2(key, step, offset, count, in, out, rate, scale, accumulate); return; }
#endif
    dropout(key, step, offset, count, in, out, rate, scale, accumulate);
}
