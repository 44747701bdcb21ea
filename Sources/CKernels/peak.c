// A register-only loop of independent FMAs: the throughput ceiling the GEMM kernels are compared with.
#include "ckernels.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static double fma_loop_avx2(long iterations) {
    __m256 acc[12];
    __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iterations; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
    }
    __m256 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] == 12345.0f ? 0.0 : (double)iterations * 12 * 8 * 2;
}

__attribute__((target("avx512f,fma")))
static double fma_loop_avx512(long iterations) {
    __m512 acc[12];
    __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iterations; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
    }
    __m512 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, acc[i]);
    float out[16];
    _mm512_storeu_ps(out, s);
    return out[0] == 12345.0f ? 0.0 : (double)iterations * 12 * 16 * 2;
}
#endif

double bn_fma_peak_loop(int kernel, long iterations) {
#if defined(__x86_64__) || defined(__i386__)
    if (kernel == BN_CPU_AVX512 && bn_cpu_has_avx512f()) return fma_loop_avx512(iterations);
    if (kernel == BN_CPU_AVX2 && bn_cpu_has_avx2_fma()) return fma_loop_avx2(iterations);
#endif
    (void)kernel;
    (void)iterations;
    return 0.0;
}
