// Posterior kernels, included once per instruction set by posterior.c with VW (lanes: 8, or a multiple of 16), VSUFFIX
// and VTARGET defined.

#include "vecmath_impl.h"

#define VD VCAT(vd, VSUFFIX)
typedef double VD __attribute__((vector_size(VW * 8), aligned(8)));

VTARGET static inline VF FN(load)(const float *p) {
    VF v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

VTARGET static inline void FN(store)(float *p, VF v) {
    __builtin_memcpy(p, &v, sizeof v);
}

/// The first m < VW elements of p, zeros after them.
VTARGET static inline VF FN(load_part)(const float *p, long m) {
    VF v = FN(splat)(0.0f);
    for (long j = 0; j < m; j++) v[j] = p[j];
    return v;
}

VTARGET static inline void FN(store_part)(float *p, VF v, long m) {
    for (long j = 0; j < m; j++) p[j] = v[j];
}

VTARGET static inline VF FN(load_n)(const float *p, long m) {
    return m >= VW ? FN(load)(p) : FN(load_part)(p, m);
}

VTARGET static inline void FN(store_n)(float *p, VF v, long m) {
    if (m >= VW) FN(store)(p, v); else FN(store_part)(p, v, m);
}

/// σ = 1e-5 + (max(ρ, 0) + log1p(e)) with e = e^−|ρ|: log1p keeps full relative precision where softplus is
/// tiny (ρ ≪ 0), which a plain log(1 + e) would lose. Its 1/(1 + e) is vslope's, computed once where both
/// are inlined together.
VTARGET static inline VF FN(vscale)(VF rho, VF e) {
    VF zero = FN(splat)(0.0f), w = FN(splat)(1.0f) + e;
    VF l = FN(vlog1p01_recip)(e, w, FN(splat)(1.0f) / w);
    return FN(splat)(1e-5f) + (FN(sel)(rho > zero, rho, zero) + l);
}

/// sigmoid(ρ) = dσ/dρ from the same e = e^−|ρ|.
VTARGET static inline VF FN(vslope)(VF rho, VF e) {
    VF s = FN(splat)(1.0f) / (FN(splat)(1.0f) + e);
    return FN(sel)(rho >= FN(splat)(0.0f), s, e * s);
}

VTARGET static void FN(sample)(const float *rho, const float *loc, const float *eps, float *sigma, float *draw,
                               long n) {
    for (long i = 0; i < n; i += VW) {
        long m = n - i;
        VF r = FN(load_n)(rho + i, m), e = FN(load_n)(eps + i, m);
        VF s = FN(vscale)(r, FN(vexp)(-FN(vabs)(r)));
        VF d = s * e;
        if (loc) d = FN(load_n)(loc + i, m) + d;
        if (sigma) FN(store_n)(sigma + i, s, m);
        FN(store_n)(draw + i, d, m);
    }
}

VTARGET static void FN(rho_gradient)(const float *rho, const float *dDraw, const float *eps, float *grad, long n) {
    for (long i = 0; i < n; i += VW) {
        long m = n - i;
        VF r = FN(load_n)(rho + i, m);
        VF slope = FN(vslope)(r, FN(vexp)(-FN(vabs)(r)));
        VF g = FN(load_n)(grad + i, m) + (FN(load_n)(dDraw + i, m) * FN(load_n)(eps + i, m)) * slope;
        FN(store_n)(grad + i, g, m);
    }
}

/// One vector of KL terms and the gradients to add (already times the weight).
VTARGET static inline VF FN(kl_terms)(const kl_consts *c, VF loc, VF rho, VF eps, VF weight, VF *gLoc, VF *gRho) {
    VF one = FN(splat)(1.0f), half = FN(splat)(0.5f);
    VF e = FN(vexp)(-FN(vabs)(rho));
    VF sigma = FN(vscale)(rho, e), slope = FN(vslope)(rho, e);
    VF logSigma = FN(vlog)(sigma);
    if (c->mode == KL_ANALYTIC) {
        VF prec = FN(splat)(c->p1);
        VF diff = loc - FN(splat)(c->b);
        VF term = FN(splat)(c->a) - logSigma + half * (sigma * sigma + diff * diff) * prec - half;
        *gLoc = weight * diff * prec;
        VF dSigma = -one / sigma + sigma * prec;
        *gRho = weight * dSigma * slope;
        return term;
    }
    VF x = loc + sigma * eps;
    // log q(x) up to the constant −½ log 2π, which cancels against the prior's.
    VF logQ = -logSigma - half * eps * eps;
    VF halfSquare = half * x * x;
    VF logP, dLogP;
    if (c->mode == KL_MIXTURE) {
        VF p1 = FN(splat)(c->p1), p2 = FN(splat)(c->p2);
        VF a1 = FN(splat)(c->a) - halfSquare * p1, a2 = FN(splat)(c->b) - halfSquare * p2;
        VF d = a1 - a2;
        VF ed = FN(vexp)(-FN(vabs)(d));
        // log-sum-exp as max + log1p(e^−|a1 − a2|), responsibilities sigmoid(±(a1 − a2)): finite in either
        // tail. Each responsibility is formed directly rather than one as 1 minus the other, which would round
        // a small one to 0 and drop its component's precision, however large, from the gradient.
        VF wd = one + ed, s = one / wd, small = ed * s;
        logP = FN(sel)(a1 > a2, a1, a2) + FN(vlog1p01_recip)(ed, wd, s);
        VI first = d >= FN(splat)(0.0f);
        VF r1 = FN(sel)(first, s, small), r2 = FN(sel)(first, small, s);
        dLogP = -x * (r1 * p1 + r2 * p2);
    } else {
        VF p = FN(splat)(c->p1);
        logP = FN(splat)(c->a) - halfSquare * p;
        dLogP = -x * p;
    }
    *gLoc = weight * -dLogP;
    // Along w = loc + σ·ε: d log q / d loc = 0 and d log q / dσ = −1/σ.
    VF dSigma = -one / sigma - dLogP * eps;
    *gRho = weight * dSigma * slope;
    return logQ - logP;
}

VTARGET static double FN(kl)(const kl_consts *c, const float *loc, const float *rho, const float *eps, long n,
                             float weight, float *dLoc, float *dRho) {
    // Element i of the range goes to lane i mod KL_LANES, lanes filled in the order of i. Masked lanes of the
    // last vector add +0, which changes no lane (a lane never holds −0).
#if VW >= KL_LANES
    VD16 acc = { 0 };
#else
    enum { PER = KL_LANES / VW };
    VD acc[PER];
    for (int j = 0; j < PER; j++) acc[j] = (VD){ 0 };
#endif
    VI lane;
    for (int j = 0; j < VW; j++) lane[j] = j;
    VF w = FN(splat)(weight);
    for (long i = 0; i < n; i += VW) {
        long m = n - i;
        VF l = FN(load_n)(loc + i, m), r = FN(load_n)(rho + i, m);
        VF e = eps ? FN(load_n)(eps + i, m) : FN(splat)(0.0f);
        VF gLoc, gRho;
        VF term = FN(kl_terms)(c, l, r, e, w, &gLoc, &gRho);
        if (m < VW) term = FN(sel)(lane < FN(splat_i)((int)m), term, FN(splat)(0.0f));
#if VW >= KL_LANES
        for (int k = 0; k < VW / KL_LANES; k++) {
            VF16 part;
            __builtin_memcpy(&part, (const float *)&term + k * KL_LANES, sizeof part);
            acc += __builtin_convertvector(part, VD16);
        }
#else
        acc[(i / VW) % PER] += __builtin_convertvector(term, VD);
#endif
        if (dLoc) FN(store_n)(dLoc + i, FN(load_n)(dLoc + i, m) + gLoc, m);
        if (dRho) FN(store_n)(dRho + i, FN(load_n)(dRho + i, m) + gRho, m);
    }
    double lanes[KL_LANES];
    __builtin_memcpy(lanes, &acc, sizeof lanes);
    return kl_reduce(lanes);
}

#undef VD
#undef VF
#undef VI
#undef FN
#undef VCAT
#undef VCAT2
