// Activation functions, included once per instruction set by activations.c with VW (lanes), VSUFFIX
// (name suffix) and VTARGET (function attributes) defined. The elementary functions come from
// vecmath_impl.h, shared with the posterior kernels.

#include "vecmath_impl.h"

VTARGET static inline VF FN(vsigmoid)(VF x) {
    VF e = FN(vexp)(-FN(vabs)(x));
    VF s = FN(splat)(1.0f) / (FN(splat)(1.0f) + e);
    return FN(sel)(x >= FN(splat)(0.0f), s, e * s);
}

VTARGET static inline VF FN(vsoftplus)(VF x) {
    VF zero = FN(splat)(0.0f);
    VF pos = FN(sel)(x > zero, x, zero);
    return pos + FN(vlog1p01)(FN(vexp)(-FN(vabs)(x)));
}

/// tanh: odd Taylor series below 0.2, (1 - e^-2|x|) / (1 + e^-2|x|) above.
VTARGET static inline VF FN(vtanh)(VF x) {
    VF a = FN(vabs)(x);
    VF z = x * x;
    VF small = FN(splat)(62.0f / 2835.0f);
    small = small * z + FN(splat)(-17.0f / 315.0f);
    small = small * z + FN(splat)(2.0f / 15.0f);
    small = small * z + FN(splat)(-1.0f / 3.0f);
    small = x + x * z * small;
    VF e = FN(vexp)(FN(splat)(-2.0f) * a);
    VF large = (FN(splat)(1.0f) - e) / (FN(splat)(1.0f) + e);
    VI negative = x < FN(splat)(0.0f);
    large = FN(sel)(negative, -large, large);
    return FN(sel)(a < FN(splat)(0.2f), small, large);
}

/// x for x > 0, e^x - 1 otherwise (Taylor series near 0, where e^x - 1 would cancel).
VTARGET static inline VF FN(velu)(VF x) {
    VF z = FN(splat)(1.0f / 5040.0f);
    z = z * x + FN(splat)(1.0f / 720.0f);
    z = z * x + FN(splat)(1.0f / 120.0f);
    z = z * x + FN(splat)(1.0f / 24.0f);
    z = z * x + FN(splat)(1.0f / 6.0f);
    z = z * x + FN(splat)(0.5f);
    z = z * x * x + x;
    VF em1 = FN(vexp)(x) - FN(splat)(1.0f);
    VF neg = FN(sel)(x > FN(splat)(-0.25f), z, em1);
    return FN(sel)(x > FN(splat)(0.0f), x, neg);
}

VTARGET static inline VF FN(apply)(int kind, VF v) {
    switch (kind) {
    case BN_ACT_ELU: return FN(velu)(v);
    case BN_ACT_TANH: return FN(vtanh)(v);
    case BN_ACT_SIGMOID: return FN(vsigmoid)(v);
    default: return FN(vsoftplus)(v);
    }
}

VTARGET static void FN(act_forward)(int kind, const float *x, float *y, long n) {
    long i = 0;
    for (; i + VW <= n; i += VW) {
        VF v;
        __builtin_memcpy(&v, x + i, sizeof v);
        VF r = FN(apply)(kind, v);
        __builtin_memcpy(y + i, &r, sizeof r);
    }
    if (i < n) {
        VF v = FN(splat)(0.0f);
        for (long j = 0; j < n - i; j++) v[j] = x[i + j];
        VF r = FN(apply)(kind, v);
        for (long j = 0; j < n - i; j++) y[i + j] = r[j];
    }
}

/// dx = dy · sigmoid(x), the derivative of softplus.
VTARGET static void FN(softplus_backward)(const float *x, const float *dy, float *dx, long n) {
    long i = 0;
    for (; i + VW <= n; i += VW) {
        VF v, d;
        __builtin_memcpy(&v, x + i, sizeof v);
        __builtin_memcpy(&d, dy + i, sizeof d);
        VF r = d * FN(vsigmoid)(v);
        __builtin_memcpy(dx + i, &r, sizeof r);
    }
    if (i < n) {
        VF v = FN(splat)(0.0f), d = FN(splat)(0.0f);
        for (long j = 0; j < n - i; j++) { v[j] = x[i + j]; d[j] = dy[i + j]; }
        VF r = d * FN(vsigmoid)(v);
        for (long j = 0; j < n - i; j++) dx[i + j] = r[j];
    }
}

#undef VF
#undef VI
#undef FN
#undef VCAT
#undef VCAT2
