#ifndef BAYESNET_FLIPOUT_H
#define BAYESNET_FLIPOUT_H

/// One example's Flipout kernel, w[r][o] = mean[r][o] + (rowSign[r % rowPeriod] * colSign[o]) * delta[r][o]
/// for rows r < rows of `cols` columns: with rows = taps·in, rowPeriod = in, the row signs s_in and the
/// column signs s_out it is W_b = μ + (s_in ⊗ s_out) ⊙ ΔW; on the flipped transposes (rows = taps·out,
/// rowPeriod = out) the roles of the two sign vectors swap. The sign product is exact, so each element is
/// rounded once, as the Swift loop does.
void bn_flipout_kernel_f32(const float *mean, const float *delta, const float *rowSign, long rowPeriod,
                           const float *colSign, long rows, long cols, float *w);

/// Adds one example's kernel gradient g into the mean's and the perturbation's gradients, for rows
/// [row0, row1): dMean[r][o] += g[r][o]; dDelta[r][o] += (sIn[r % in] * sOut[o]) * g[r][o].
void bn_flipout_accumulate_f32(const float *g, const float *sIn, long in, const float *sOut, long cols,
                               long row0, long row1, float *dMean, float *dDelta);

#endif
