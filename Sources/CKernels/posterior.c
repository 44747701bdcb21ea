// Per-weight posterior math (σ from ρ, draws, ρ gradients, KL terms) vectorised for each kernel family and
// picked at run time. The C library's expf / logf / log1pf are scalar calls of tens of cycles each, and a
// variational layer makes several per weight per step. Contraction is off so that every family rounds each
// operation alike and gives the same bits.
#include <math.h>
#include <stddef.h>
#include "bn_posterior.h"
#include "ckernels.h"

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

enum { KL_ANALYTIC = 0, KL_MIXTURE = 1, KL_SINGLE = 2 };
/// Lanes of the KL sum, the same for every vector width (a macro: the kernels test it in #if).
#define KL_LANES 16

/// Per-call constants. Analytic: a = log priorScale, b = priorLoc, p1 = 1 / priorScale². Mixture: a, b the
/// components' log weights (log pi − log scale1, log(1 − pi) − log scale2), p1, p2 their precisions. A single
/// component: a and p1.
typedef struct {
    int mode;
    float a, b, p1, p2;
} kl_consts;

typedef float VF16 __attribute__((vector_size(KL_LANES * 4), aligned(4)));
typedef double VD16 __attribute__((vector_size(KL_LANES * 8), aligned(8)));

static double kl_reduce(const double *lanes) {
    double s[KL_LANES];
    for (int j = 0; j < KL_LANES; j++) s[j] = lanes[j];
    for (int width = KL_LANES / 2; width > 0; width /= 2)
        for (int j = 0; j < width; j++) s[j] = s[j] + s[j + width];
    return s[0];
}

// Each family works on four (SSE, AVX2) or two (AVX-512) of its registers at once: an element's chain of
// exponentials and logarithms is long and serial, and independent lanes in flight hide its latency (one and a
// half to two times the throughput of one register at a time). Vectors wider than a register cross no function boundary here (all
// the functions are static and inlined into the kernels), so clang's note that they would pass differently
// from the platform ABI does not apply.
#pragma clang diagnostic ignored "-Wpsabi"
#define VW 16
#define VSUFFIX portable
#define VTARGET
#include "posterior_impl.h"
#undef VW
#undef VSUFFIX
#undef VTARGET

#if defined(__x86_64__)
#define BN_POSTERIOR_X86 1
#define VW 32
#define VSUFFIX avx2
#define VTARGET __attribute__((target("avx2,fma")))
#include "posterior_impl.h"
#undef VW
#undef VSUFFIX
#undef VTARGET

#define VW 32
#define VSUFFIX avx512
#define VTARGET __attribute__((target("avx512f,fma")))
#include "posterior_impl.h"
#undef VW
#undef VSUFFIX
#undef VTARGET
#endif

void bn_posterior_sample_f32(const float *rho, const float *loc, const float *eps, float *sigma, float *draw,
                             long n) {
#ifdef BN_POSTERIOR_X86
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) { sample_avx512(rho, loc, eps, sigma, draw, n); return; }
    if (k == BN_CPU_AVX2) { sample_avx2(rho, loc, eps, sigma, draw, n); return; }
#endif
    sample_portable(rho, loc, eps, sigma, draw, n);
}

void bn_posterior_rho_gradient_f32(const float *rho, const float *dDraw, const float *eps, float *grad, long n) {
#ifdef BN_POSTERIOR_X86
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) { rho_gradient_avx512(rho, dDraw, eps, grad, n); return; }
    if (k == BN_CPU_AVX2) { rho_gradient_avx2(rho, dDraw, eps, grad, n); return; }
#endif
    rho_gradient_portable(rho, dDraw, eps, grad, n);
}

static double kl_dispatch(const kl_consts *c, const float *loc, const float *rho, const float *eps, long n,
                          float weight, float *dLoc, float *dRho) {
    if (n <= 0) return 0;
#ifdef BN_POSTERIOR_X86
    int k = bn_cpu_level();
    if (k == BN_CPU_AVX512) return kl_avx512(c, loc, rho, eps, n, weight, dLoc, dRho);
    if (k == BN_CPU_AVX2) return kl_avx2(c, loc, rho, eps, n, weight, dLoc, dRho);
#endif
    return kl_portable(c, loc, rho, eps, n, weight, dLoc, dRho);
}

double bn_kl_normal_f32(const float *loc, const float *rho, long n, double priorLoc, double priorScale,
                        float weight, float *dLoc, float *dRho) {
    kl_consts c = { KL_ANALYTIC, (float)log(priorScale), (float)priorLoc, (float)(1 / (priorScale * priorScale)), 0 };
    return kl_dispatch(&c, loc, rho, NULL, n, weight, dLoc, dRho);
}

double bn_kl_mixture_f32(const float *loc, const float *rho, const float *eps, long n, double pi, double scale1,
                         double scale2, float weight, float *dLoc, float *dRho) {
    // A component of weight 0 drops out instead of producing log(0).
    int use1 = pi > 0, use2 = pi < 1;
    float logW1 = use1 ? (float)(log(pi) - log(scale1)) : 0, logW2 = use2 ? (float)(log1p(-pi) - log(scale2)) : 0;
    float prec1 = (float)(1 / (scale1 * scale1)), prec2 = (float)(1 / (scale2 * scale2));
    kl_consts c = use1 && use2 ? (kl_consts){ KL_MIXTURE, logW1, logW2, prec1, prec2 }
                : use1 ? (kl_consts){ KL_SINGLE, logW1, 0, prec1, 0 }
                       : (kl_consts){ KL_SINGLE, logW2, 0, prec2, 0 };
    return kl_dispatch(&c, loc, rho, eps, n, weight, dLoc, dRho);
}
