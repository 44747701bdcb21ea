// The Gaussian negative log-likelihood of a regression batch and its gradient, for single-precision outputs.
// Each term and gradient is the Swift loop's double-precision arithmetic; the sum is kept in 16 double lanes
// (element i in lane i mod 16) added in a fixed tree, as the KL sums are, so that a caller cutting the
// elements into fixed blocks gets the same total with any thread count. Contraction is off so that every
// kernel family rounds alike.
#include "ckernels.h"

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define NLL_LANES 16

static inline __attribute__((always_inline)) double gaussian_nll(const float *out, const float *target, long n,
                                                                 double variance, double constant,
                                                                 const double *scale, long batch, float *grad) {
    double lanes[NLL_LANES] = { 0 };
    long i = 0;
    for (; i + NLL_LANES <= n; i += NLL_LANES) {
        for (int l = 0; l < NLL_LANES; l++) {
            const double r = (double)out[i + l] - (double)target[i + l];
            lanes[l] += 0.5 * r * r / variance + constant;
            if (scale) grad[i + l] = (float)(*scale * r / variance / (double)batch);
        }
    }
    for (int l = 0; i < n; i++, l++) {
        const double r = (double)out[i] - (double)target[i];
        lanes[l] += 0.5 * r * r / variance + constant;
        if (scale) grad[i] = (float)(*scale * r / variance / (double)batch);
    }
    for (int width = NLL_LANES / 2; width > 0; width /= 2)
        for (int l = 0; l < width; l++) lanes[l] = lanes[l] + lanes[l + width];
    return lanes[0];
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static double gaussian_nll_avx512(const float *out, const float *target, long n,
                                                                     double variance, double constant,
                                                                     const double *scale, long batch, float *grad) {
    return gaussian_nll(out, target, n, variance, constant, scale, batch, grad);
}
__attribute__((target("avx2"))) static double gaussian_nll_avx2(const float *out, const float *target, long n,
                                                                double variance, double constant,
                                                                const double *scale, long batch, float *grad) {
    return gaussian_nll(out, target, n, variance, constant, scale, batch, grad);
}
#endif

double bn_gaussian_nll_f32(const float *out, const float *target, long n, double variance, double constant,
                           const double *scale, long batch, float *grad) {
#if defined(__x86_64__)
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) return gaussian_nll_avx512(out, target, n, variance, constant, scale, batch, grad);
    if (k == BN_CPU_AVX2) return gaussian_nll_avx2(out, target, n, variance, constant, scale, batch, grad);
#endif
    return gaussian_nll(out, target, n, variance, constant, scale, batch, grad);
}
