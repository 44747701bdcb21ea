#ifndef BAYESNET_CKERNELS_H
#define BAYESNET_CKERNELS_H
/// Returns 1 when the CPU and OS support AVX2 and FMA.
int bn_cpu_has_avx2_fma(void);
#endif
