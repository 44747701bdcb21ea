// Per-example kernels of the fused Flipout convolution. Plain loops over contiguous rows, compiled for each
// vector width and picked at run time like the GEMM kernels; no fused multiply-adds, so the results are the
// Swift loops' bit for bit.
#include "bn_flipout.h"
#include "ckernels.h"

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

static inline __attribute__((always_inline)) void kernel_rows(const float *restrict mean,
                                                              const float *restrict delta,
                                                              const float *restrict rowSign, long rowPeriod,
                                                              const float *restrict colSign, long rows, long cols,
                                                              float *restrict w) {
    // The row's sign index wraps by a compare, not a division per row (a 400-row kernel spent longer in `%`
    // than in its multiply-adds).
    for (long r = 0, ri = 0; r < rows; r++, ri = ri + 1 == rowPeriod ? 0 : ri + 1) {
        const float s = rowSign[ri];
        const float *m = mean + r * cols, *d = delta + r * cols;
        float *o = w + r * cols;
        // One vector at a time with a masked tail: unrolled by four, a 120-column row left 56 columns to a
        // scalar loop.
#pragma clang loop interleave_count(1) vectorize_predicate(enable)
        for (long c = 0; c < cols; c++) o[c] = m[c] + (s * colSign[c]) * d[c];
    }
}

static inline __attribute__((always_inline)) void accumulate_rows(const float *restrict g,
                                                                  const float *restrict sIn, long in,
                                                                  const float *restrict sOut, long cols, long row0,
                                                                  long row1, float *restrict dMean,
                                                                  float *restrict dDelta) {
    for (long r = row0, ri = row0 % in; r < row1; r++, ri = ri + 1 == in ? 0 : ri + 1) {
        const float s = sIn[ri];
        const float *gr = g + r * cols;
        float *dm = dMean + r * cols, *dd = dDelta + r * cols;
#pragma clang loop interleave_count(1) vectorize_predicate(enable)
        for (long c = 0; c < cols; c++) {
            dm[c] += gr[c];
            dd[c] += (s * sOut[c]) * gr[c];
        }
    }
}

#define VARIANT(suffix, target)                                                                                  \
    target static void flipout_kernel_##suffix(const float *mean, const float *delta, const float *rowSign,     \
                                       long rowPeriod, const float *colSign, long rows, long cols, float *w) {   \
        kernel_rows(mean, delta, rowSign, rowPeriod, colSign, rows, cols, w);                                    \
    }                                                                                                            \
    target static void flipout_accumulate_##suffix(const float *g, const float *sIn, long in, const float *sOut, \
                                           long cols, long row0, long row1, float *dMean, float *dDelta) {       \
        accumulate_rows(g, sIn, in, sOut, cols, row0, row1, dMean, dDelta);                                      \
    }

VARIANT(portable, )
#if defined(__x86_64__)
VARIANT(avx2, __attribute__((target("avx2"))))
VARIANT(avx512, __attribute__((target("avx512f"))))
#endif

void bn_flipout_kernel_f32(const float *mean, const float *delta, const float *rowSign, long rowPeriod,
                           const float *colSign, long rows, long cols, float *w) {
#if defined(__x86_64__)
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) { flipout_kernel_avx512(mean, delta, rowSign, rowPeriod, colSign, rows, cols, w); return; }
    if (k == BN_CPU_AVX2) { flipout_kernel_avx2(mean, delta, rowSign, rowPeriod, colSign, rows, cols, w); return; }
#endif
    flipout_kernel_portable(mean, delta, rowSign, rowPeriod, colSign, rows, cols, w);
}

void bn_flipout_accumulate_f32(const float *g, const float *sIn, long in, const float *sOut, long cols,
                               long row0, long row1, float *dMean, float *dDelta) {
#if defined(__x86_64__)
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) { flipout_accumulate_avx512(g, sIn, in, sOut, cols, row0, row1, dMean, dDelta); return; }
    if (k == BN_CPU_AVX2) { flipout_accumulate_avx2(g, sIn, in, sOut, cols, row0, row1, dMean, dDelta); return; }
#endif
    flipout_accumulate_portable(g, sIn, in, sOut, cols, row0, row1, dMean, dDelta);
}
