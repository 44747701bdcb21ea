// Vectorised activation functions, included once per instruction set by activations.c with
// VW (lanes), VSUFFIX (name suffix) and VTARGET (function attributes) defined. Written with the
// compiler's generic vector extensions so one text serves SSE2, AVX2 and AVX-512.

#define VCAT2(a, b) a##_##b
#define VCAT(a, b) VCAT2(a, b)
#define VF VCAT(vf, VSUFFIX)
#define VI VCAT(vi, VSUFFIX)
#define FN(name) VCAT(name, VSUFFIX)

typedef float VF __attribute__((vector_size(VW * 4), aligned(4)));
typedef int VI __attribute__((vector_size(VW * 4), aligned(4)));

VTARGET static inline VF FN(splat)(float v) {
    VF r;
    for (int i = 0; i < VW; i++) r[i] = v;
    return r;
}

VTARGET static inline VI FN(splat_i)(int v) {
    VI r;
    for (int i = 0; i < VW; i++) r[i] = v;
    return r;
}

VTARGET static inline VF FN(sel)(VI mask, VF a, VF b) {
    return (VF)(((VI)a & mask) | ((VI)b & ~mask));
}

VTARGET static inline VF FN(vabs)(VF x) {
    return (VF)((VI)x & FN(splat_i)(0x7fffffff));
}

/// e^x, Cephes' polynomial: about 1 ulp; 0 below -87 (where floats run out), clamped at e^88 above.
VTARGET static inline VF FN(vexp)(VF x) {
    VF lo = FN(splat)(-87.0f), hi = FN(splat)(88.0f);
    VI underflow = x < lo;
    x = FN(sel)(underflow, lo, x);
    x = FN(sel)(x > hi, hi, x);
    // Round x·log2(e) to nearest by adding and subtracting 1.5·2^23.
    VF magic = FN(splat)(12582912.0f);
    VF n = (x * FN(splat)(1.44269504088896341f) + magic) - magic;
    VF r = x - n * FN(splat)(0.693359375f) - n * FN(splat)(-2.12194440e-4f);
    VF p = FN(splat)(1.9875691500e-4f);
    p = p * r + FN(splat)(1.3981999507e-3f);
    p = p * r + FN(splat)(8.3334519073e-3f);
    p = p * r + FN(splat)(4.1665795894e-2f);
    p = p * r + FN(splat)(1.6666665459e-1f);
    p = p * r + FN(splat)(5.0000001201e-1f);
    p = p * (r * r) + r + FN(splat)(1.0f);
    VI e = (__builtin_convertvector(n, VI) + 127) << 23;
    return FN(sel)(underflow, FN(splat)(0.0f), p * (VF)e);
}

/// log(w) for w in [1, 2], Cephes' logf polynomial.
VTARGET static inline VF FN(vlog12)(VF w) {
    VI big = w > FN(splat)(1.41421356237309505f);
    VF m = FN(sel)(big, w * FN(splat)(0.5f), w);
    VF e = FN(sel)(big, FN(splat)(1.0f), FN(splat)(0.0f));
    VF t = m - FN(splat)(1.0f);
    VF z = t * t;
    VF y = FN(splat)(7.0376836292e-2f);
    y = y * t + FN(splat)(-1.1514610310e-1f);
    y = y * t + FN(splat)(1.1676998740e-1f);
    y = y * t + FN(splat)(-1.2420140846e-1f);
    y = y * t + FN(splat)(1.4249322787e-1f);
    y = y * t + FN(splat)(-1.6668057665e-1f);
    y = y * t + FN(splat)(2.0000714765e-1f);
    y = y * t + FN(splat)(-2.4999993993e-1f);
    y = y * t + FN(splat)(3.3333331174e-1f);
    y = y * t * z;
    y = y + e * FN(splat)(-2.12194440e-4f);
    y = y - FN(splat)(0.5f) * z;
    return t + y + e * FN(splat)(0.693359375f);
}

/// log(1 + u) for u in [0, 1], exact for tiny u by Goldberg's correction log(w)·u/(w-1), w = 1 + u.
VTARGET static inline VF FN(vlog1p01)(VF u) {
    VF w = FN(splat)(1.0f) + u;
    VF d = w - FN(splat)(1.0f);
    VI same = d == FN(splat)(0.0f);
    VF safe = FN(sel)(same, FN(splat)(1.0f), d);
    return FN(sel)(same, u, FN(vlog12)(w) * (u / safe));
}

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
