// The optimizers' per-weight updates at the AVX-512 level, sixteen weights at a time, with the operations of
// the Swift loops in `Optimizers` in their order (no fused multiply-adds; the square root is correctly rounded
// in both), so the same bits. Other levels keep the Swift loops.
#include "ckernels.h"

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

static inline __mmask16 tail_mask(long n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

__attribute__((target("avx512f")))
static void adam_avx512(float *p, const float *g, float *m, float *v, long n, float alpha, float c1, float c2,
                        float eps) {
    const __m512 va = _mm512_set1_ps(alpha), v1 = _mm512_set1_ps(c1), v2 = _mm512_set1_ps(c2);
    const __m512 ve = _mm512_set1_ps(eps);
    for (long i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        const __m512 gi = _mm512_maskz_loadu_ps(k, g + i);
        const __m512 mo = _mm512_maskz_loadu_ps(k, m + i), vo = _mm512_maskz_loadu_ps(k, v + i);
        const __m512 mi = _mm512_add_ps(mo, _mm512_mul_ps(_mm512_sub_ps(gi, mo), v1));
        const __m512 vi = _mm512_add_ps(vo, _mm512_mul_ps(_mm512_sub_ps(_mm512_mul_ps(gi, gi), vo), v2));
        _mm512_mask_storeu_ps(m + i, k, mi);
        _mm512_mask_storeu_ps(v + i, k, vi);
        const __m512 step = _mm512_div_ps(_mm512_mul_ps(mi, va), _mm512_add_ps(_mm512_sqrt_ps(vi), ve));
        _mm512_mask_storeu_ps(p + i, k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, p + i), step));
    }
}

__attribute__((target("avx512f")))
static void sgd_avx512(float *p, const float *g, float *vel, long n, float lr, float mu) {
    const __m512 vl = _mm512_set1_ps(lr), vm = _mm512_set1_ps(mu);
    for (long i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(n - i);
        const __m512 v = _mm512_sub_ps(_mm512_mul_ps(vm, _mm512_maskz_loadu_ps(k, vel + i)),
                                       _mm512_mul_ps(vl, _mm512_maskz_loadu_ps(k, g + i)));
        _mm512_mask_storeu_ps(vel + i, k, v);
        _mm512_mask_storeu_ps(p + i, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, p + i), v));
    }
}
#endif

int bn_adam_step_f32(float *p, const float *g, float *m, float *v, long n, float alpha, float c1, float c2,
                     float eps) {
#if defined(__x86_64__)
    if (bn_cpu_level() != BN_CPU_AVX512) return 0;
    adam_avx512(p, g, m, v, n, alpha, c1, c2, eps);
    return 1;
#else
    (void)p; (void)g; (void)m; (void)v; (void)n; (void)alpha; (void)c1; (void)c2; (void)eps;
    return 0;
#endif
}

int bn_sgd_step_f32(float *p, const float *g, float *vel, long n, float lr, float mu) {
#if defined(__x86_64__)
    if (bn_cpu_level() != BN_CPU_AVX512) return 0;
    sgd_avx512(p, g, vel, n, lr, mu);
    return 1;
#else
    (void)p; (void)g; (void)vel; (void)n; (void)lr; (void)mu;
    return 0;
#endif
}
