// Max and average pooling, single precision, channels-last, for the AVX-512 level: each output position's
// channels in masked vectors of 16. The same operations in the same order as the Swift loops of
// `Pooling` (the maximum as `v > m ? v : m`, which is what vmaxps computes; the backward pass adds
// take · dy with take 0 or 1 to every position of the window, as they do), so the results keep their bits.
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

static inline __mmask16 channel_mask(long c) {
    return c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << c) - 1);
}

/// The window of output position (oz, oy, ox), clipped to the input: [lo, hi) per dimension.
static inline void window_bounds(const bn_pool_geom *g, long oz, long oy, long ox, long lo[3], long hi[3]) {
    const long o[3] = { oz, oy, ox };
    for (int d = 0; d < 3; d++) {
        const long s = o[d] * g->stride[d] - g->pad[d];
        lo[d] = s > 0 ? s : 0;
        hi[d] = s + g->window[d] < g->in[d] ? s + g->window[d] : g->in[d];
    }
}

__attribute__((target("avx512f")))
static void pool_avx512(int pass, const float *x, const float *dy, float *out, long e0, long e1,
                        const bn_pool_geom *g) {
    const long C = g->channels;
    const long inCount = g->in[0] * g->in[1] * g->in[2] * C;
    const long outPositions = g->out[0] * g->out[1] * g->out[2];
    if (pass == BN_POOL_MAX_BACKWARD || pass == BN_POOL_AVERAGE_BACKWARD)
        for (long i = e0 * inCount; i < e1 * inCount; i++) out[i] = 0.0f;
    for (long e = e0; e < e1; e++) {
        const float *xe = x ? x + e * inCount : 0;
        float *oe = out + (pass == BN_POOL_MAX_FORWARD || pass == BN_POOL_AVERAGE_FORWARD ? e * outPositions * C
                                                                                       : e * inCount);
        long op = 0;
        for (long oz = 0; oz < g->out[0]; oz++)
            for (long oy = 0; oy < g->out[1]; oy++)
                for (long ox = 0; ox < g->out[2]; ox++, op++) {
                    long lo[3], hi[3];
                    window_bounds(g, oz, oy, ox, lo, hi);
                    const int empty = lo[0] >= hi[0] || lo[1] >= hi[1] || lo[2] >= hi[2];
                    const long size = empty ? 0 : (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
                    const float inv = 1.0f / (float)(size > 1 ? size : 1);
                    for (long c0 = 0; c0 < C; c0 += 16) {
                        const __mmask16 m = channel_mask(C - c0);
                        const float *d = dy ? dy + (e * outPositions + op) * C + c0 : 0;
                        __m512 best = _mm512_set1_ps(-__builtin_inff());
                        __m512 sum = _mm512_setzero_ps();
                        if (pass == BN_POOL_MAX_FORWARD || pass == BN_POOL_MAX_BACKWARD) {
                            for (long iz = lo[0]; iz < hi[0]; iz++)
                                for (long iy = lo[1]; iy < hi[1]; iy++)
                                    for (long ix = lo[2]; ix < hi[2]; ix++) {
                                        const __m512 v = _mm512_maskz_loadu_ps(m, xe + ((iz * g->in[1] + iy) * g->in[2] + ix) * C + c0);
                                        best = _mm512_max_ps(v, best);
                                    }
                        }
                        switch (pass) {
                        case BN_POOL_MAX_FORWARD:
                            _mm512_mask_storeu_ps(oe + op * C + c0, m, best);
                            break;
                        case BN_POOL_MAX_BACKWARD: {
                            const __m512 dv = _mm512_maskz_loadu_ps(m, d);
                            __mmask16 remaining = m;
                            const __m512 one = _mm512_set1_ps(1.0f);
                            for (long iz = lo[0]; iz < hi[0]; iz++)
                                for (long iy = lo[1]; iy < hi[1]; iy++)
                                    for (long ix = lo[2]; ix < hi[2]; ix++) {
                                        const long at = ((iz * g->in[1] + iy) * g->in[2] + ix) * C + c0;
                                        const __m512 v = _mm512_maskz_loadu_ps(m, xe + at);
                                        const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_EQ_OQ) & remaining;
                                        const __m512 t = _mm512_maskz_mov_ps(take, one);
                                        const __m512 o = _mm512_maskz_loadu_ps(m, oe + at);
                                        _mm512_mask_storeu_ps(oe + at, m, _mm512_add_ps(o, _mm512_mul_ps(t, dv)));
                                        remaining &= (__mmask16)~take;
                                    }
                            break;
                        }
                        case BN_POOL_AVERAGE_FORWARD:
                            for (long iz = lo[0]; iz < hi[0]; iz++)
                                for (long iy = lo[1]; iy < hi[1]; iy++)
                                    for (long ix = lo[2]; ix < hi[2]; ix++)
                                        sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(m, xe + ((iz * g->in[1] + iy) * g->in[2] + ix) * C + c0));
                            _mm512_mask_storeu_ps(oe + op * C + c0, m, _mm512_mul_ps(sum, _mm512_set1_ps(inv)));
                            break;
                        case BN_POOL_AVERAGE_BACKWARD: {
                            const __m512 g0 = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, d), _mm512_set1_ps(inv));
                            for (long iz = lo[0]; iz < hi[0]; iz++)
                                for (long iy = lo[1]; iy < hi[1]; iy++)
                                    for (long ix = lo[2]; ix < hi[2]; ix++) {
                                        float *o = oe + ((iz * g->in[1] + iy) * g->in[2] + ix) * C + c0;
                                        _mm512_mask_storeu_ps(o, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, o), g0));
                                    }
                            break;
                        }
                        }
                    }
                }
    }
}
#endif

int bn_pool_f32(int pass, const float *x, const float *dy, float *out, long e0, long e1, const bn_pool_geom *g) {
#if defined(__x86_64__)
    if (bn_cpu_level() != BN_CPU_AVX512) return 0;
    pool_avx512(pass, x, dy, out, e0, e1, g);
    return 1;
#else
    (void)pass; (void)x; (void)dy; (void)out; (void)e0; (void)e1; (void)g;
    return 0;
#endif
}
