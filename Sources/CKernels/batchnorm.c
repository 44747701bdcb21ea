// Batch normalization's passes over single-precision channels-last rows, vectorised across channels. Each
// channel's arithmetic is the Swift loop's, in double precision and in the same order (rows in sequence), with
// contraction off, so every kernel family and the Swift loop give the same bits.
#include "ckernels.h"

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define INLINE static inline __attribute__((always_inline))
// One vector per step over the channels: a usual count (16, 32, 64) is a few vectors, which an unrolled loop
// (32 lanes a step) would leave to its scalar remainder.
#define CHANNELS _Pragma("clang loop interleave_count(1)")

// Four rows a step, added pairwise: four independent sums in flight per channel instead of one chain through
// memory. Remaining rows one at a time.
INLINE void moments(const float *x, long r0, long r1, long c, double *restrict sum, double *restrict m2) {
    long r = r0;
    for (; r + 4 <= r1; r += 4) {
        const float *x0 = x + r * c, *x1 = x0 + c, *x2 = x1 + c, *x3 = x2 + c;
        CHANNELS for (long ch = 0; ch < c; ch++)
            sum[ch] += ((double)x0[ch] + (double)x1[ch]) + ((double)x2[ch] + (double)x3[ch]);
    }
    for (; r < r1; r++) {
        const float *xr = x + r * c;
        CHANNELS for (long ch = 0; ch < c; ch++) sum[ch] += (double)xr[ch];
    }
    const double inv = 1.0 / (double)(r1 - r0);
    for (r = r0; r + 4 <= r1; r += 4) {
        const float *x0 = x + r * c, *x1 = x0 + c, *x2 = x1 + c, *x3 = x2 + c;
        CHANNELS for (long ch = 0; ch < c; ch++) {
            const double m = sum[ch] * inv;
            const double d0 = (double)x0[ch] - m, d1 = (double)x1[ch] - m;
            const double d2 = (double)x2[ch] - m, d3 = (double)x3[ch] - m;
            m2[ch] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
        }
    }
    for (; r < r1; r++) {
        const float *xr = x + r * c;
        CHANNELS for (long ch = 0; ch < c; ch++) {
            const double d = (double)xr[ch] - sum[ch] * inv;
            m2[ch] += d * d;
        }
    }
}

INLINE void sums(const float *x, const float *dy, const double *center, long r0, long r1, long c,
                 double *restrict sumDy, double *restrict sumDyX) {
    long r = r0;
    for (; r + 4 <= r1; r += 4) {
        const float *x0 = x + r * c, *x1 = x0 + c, *x2 = x1 + c, *x3 = x2 + c;
        const float *g0 = dy + r * c, *g1 = g0 + c, *g2 = g1 + c, *g3 = g2 + c;
        CHANNELS for (long ch = 0; ch < c; ch++) {
            const double m = center[ch];
            const double a0 = (double)g0[ch], a1 = (double)g1[ch], a2 = (double)g2[ch], a3 = (double)g3[ch];
            sumDy[ch] += (a0 + a1) + (a2 + a3);
            sumDyX[ch] += (a0 * ((double)x0[ch] - m) + a1 * ((double)x1[ch] - m))
                          + (a2 * ((double)x2[ch] - m) + a3 * ((double)x3[ch] - m));
        }
    }
    for (; r < r1; r++) {
        const float *xr = x + r * c, *dr = dy + r * c;
        CHANNELS for (long ch = 0; ch < c; ch++) {
            const double g = (double)dr[ch];
            sumDy[ch] += g;
            sumDyX[ch] += g * ((double)xr[ch] - center[ch]);
        }
    }
}

INLINE void affine(const float *x, float *y, const double *a, const double *b, long r0, long r1, long c) {
    for (long r = r0; r < r1; r++) {
        const float *xr = x + r * c;
        float *yr = y + r * c;
        CHANNELS for (long ch = 0; ch < c; ch++) yr[ch] = (float)((double)xr[ch] * a[ch] + b[ch]);
    }
}

INLINE void backward(const float *x, const float *dy, float *dx, const double *a, const double *k, const double *b,
                     long r0, long r1, long c, int accumulate) {
    for (long r = r0; r < r1; r++) {
        const float *xr = x + r * c, *dr = dy + r * c;
        float *out = dx + r * c;
        if (accumulate) {
            CHANNELS for (long ch = 0; ch < c; ch++)
                out[ch] = (float)((double)out[ch] + (a[ch] * (double)dr[ch] + k[ch] * (double)xr[ch] + b[ch]));
        } else {
            CHANNELS for (long ch = 0; ch < c; ch++)
                out[ch] = (float)(a[ch] * (double)dr[ch] + k[ch] * (double)xr[ch] + b[ch]);
        }
    }
}

#if defined(__x86_64__)
#define FAMILY(isa, suffix)                                                                                    \
    __attribute__((target(isa))) static void moments_##suffix(const float *x, long r0, long r1, long c,       \
                                                                 double *sum, double *m2) {                     \
        moments(x, r0, r1, c, sum, m2);                                                                           \
    }                                                                                                             \
    __attribute__((target(isa))) static void sums_##suffix(const float *x, const float *dy,                  \
                                                              const double *center, long r0, long r1, long c,    \
                                                              double *sumDy, double *sumDyX) {                   \
        sums(x, dy, center, r0, r1, c, sumDy, sumDyX);                                                            \
    }                                                                                                             \
    __attribute__((target(isa))) static void affine_##suffix(const float *x, float *y, const double *a,      \
                                                                const double *b, long r0, long r1, long c) {     \
        affine(x, y, a, b, r0, r1, c);                                                                            \
    }                                                                                                             \
    __attribute__((target(isa))) static void backward_##suffix(const float *x, const float *dy, float *dx,   \
                                                                  const double *a, const double *k,              \
                                                                  const double *b, long r0, long r1, long c,     \
                                                                  int accumulate) {                              \
        backward(x, dy, dx, a, k, b, r0, r1, c, accumulate);                                                      \
    }
FAMILY("avx512f", avx512)
FAMILY("avx2", avx2)
#endif

void bn_batchnorm_moments_f32(const float *x, long r0, long r1, long c, double *sum, double *m2) {
#if defined(__x86_64__)
    int level = bn_cpu_level();
    if (level == BN_CPU_AVX512) { moments_avx512(x, r0, r1, c, sum, m2); return; }
    if (level == BN_CPU_AVX2) { moments_avx2(x, r0, r1, c, sum, m2); return; }
#endif
    moments(x, r0, r1, c, sum, m2);
}

void bn_batchnorm_sums_f32(const float *x, const float *dy, const double *center, long r0, long r1, long c,
                           double *sumDy, double *sumDyX) {
#if defined(__x86_64__)
    int level = bn_cpu_level();
    if (level == BN_CPU_AVX512) { sums_avx512(x, dy, center, r0, r1, c, sumDy, sumDyX); return; }
    if (level == BN_CPU_AVX2) { sums_avx2(x, dy, center, r0, r1, c, sumDy, sumDyX); return; }
#endif
    sums(x, dy, center, r0, r1, c, sumDy, sumDyX);
}

void bn_batchnorm_affine_f32(const float *x, float *y, const double *a, const double *b, long r0, long r1, long c) {
#if defined(__x86_64__)
    int level = bn_cpu_level();
    if (level == BN_CPU_AVX512) { affine_avx512(x, y, a, b, r0, r1, c); return; }
    if (level == BN_CPU_AVX2) { affine_avx2(x, y, a, b, r0, r1, c); return; }
#endif
    affine(x, y, a, b, r0, r1, c);
}

void bn_batchnorm_backward_f32(const float *x, const float *dy, float *dx, const double *a, const double *k,
                               const double *b, long r0, long r1, long c, int accumulate) {
#if defined(__x86_64__)
    int level = bn_cpu_level();
    if (level == BN_CPU_AVX512) { backward_avx512(x, dy, dx, a, k, b, r0, r1, c, accumulate); return; }
    if (level == BN_CPU_AVX2) { backward_avx2(x, dy, dx, a, k, b, r0, r1, c, accumulate); return; }
#endif
    backward(x, dy, dx, a, k, b, r0, r1, c, accumulate);
}
