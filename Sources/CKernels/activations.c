// Activation functions with transcendental parts, vectorised for single precision. The C library's
// expf / tanhf / log1pf are scalar calls costing tens of cycles each, which would make a layer's
// activation slower than its convolution.
#include "ckernels.h"

#define VW 4
#define VSUFFIX sse
#define VTARGET
#include "activations_impl.h"
#undef VW
#undef VSUFFIX
#undef VTARGET

#if defined(__x86_64__) || defined(__i386__)
#define BN_ACT_X86 1
#define VW 8
#define VSUFFIX avx2
#define VTARGET __attribute__((target("avx2,fma")))
#include "activations_impl.h"
#undef VW
#undef VSUFFIX
#undef VTARGET

#define VW 16
#define VSUFFIX avx512
#define VTARGET __attribute__((target("avx512f,fma")))
#include "activations_impl.h"
#undef VW
#undef VSUFFIX
#undef VTARGET
#endif

void bn_activation_forward_f32(int kind, const float *x, float *y, long n) {
#ifdef BN_ACT_X86
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) { act_forward_avx512(kind, x, y, n); return; }
    if (k == BN_CPU_AVX2) { act_forward_avx2(kind, x, y, n); return; }
#endif
    act_forward_sse(kind, x, y, n);
}

void bn_softplus_backward_f32(const float *x, const float *dy, float *dx, long n) {
#ifdef BN_ACT_X86
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) { softplus_backward_avx512(x, dy, dx, n); return; }
    if (k == BN_CPU_AVX2) { softplus_backward_avx2(x, dy, dx, n); return; }
#endif
    softplus_backward_sse(x, dy, dx, n);
}
