// Normal draws for the weight noise of variational layers. The Swift generator computes each value through
// tuples and optional returns; this loop runs the Philox blocks for many pairs at once (which the compiler
// vectorises) and then the polar transform pair by pair, in exactly the Swift code's order of operations.
#include "bn_random.h"
#include <math.h>

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
#include "ckernels.h"
__attribute__((target("avx512f,avx512dq"))) static void fill_normal_avx512(uint64_t key, uint64_t fallbackKey,
                                                                           uint64_t step, long offset, long count,
                                                                           float *out) {
    fill_normal(key, fallbackKey, step, offset, count, out);
}
__attribute__((target("avx2"))) static void fill_normal_avx2(uint64_t key, uint64_t fallbackKey, uint64_t step,
                                                             long offset, long count, float *out) {
    fill_normal(key, fallbackKey, step, offset, count, out);
}
#endif

void bn_fill_normal_f32(uint64_t key, uint64_t fallbackKey, uint64_t step, long offset, long count, float *out) {
#if defined(__x86_64__)
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) { fill_normal_avx512(key, fallbackKey, step, offset, count, out); return; }
    if (k == BN_CPU_AVX2) { fill_normal_avx2(key, fallbackKey, step, offset, count, out); return; }
#endif
    fill_normal(key, fallbackKey, step, offset, count, out);
}
