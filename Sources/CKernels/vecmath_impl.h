// Elementary functions on float vectors, written with the compiler's generic vector extensions so one text
// serves every vector width. Included by each kernel family's implementation header with VW (lanes),
// VSUFFIX (name suffix) and VTARGET (function attributes) defined; the includer undefines VF, VI, FN, VCAT
// and VCAT2 when done. Whether a*b + c fuses into one rounding is the including file's choice
// (FP_CONTRACT), so a file that must give the same bits on every width turns contraction off.

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

/// log(m) + e·ln 2 for m in [√½, √2], Cephes' logf polynomial; ln 2 is split in two parts so that e·ln 2
/// adds no rounding error of its own.
VTARGET static inline VF FN(vlog_reduced)(VF m, VF e) {
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

/// log(w) for w in [1, 2].
VTARGET static inline VF FN(vlog12)(VF w) {
    VI big = w > FN(splat)(1.41421356237309505f);
    VF m = FN(sel)(big, w * FN(splat)(0.5f), w);
    VF e = FN(sel)(big, FN(splat)(1.0f), FN(splat)(0.0f));
    return FN(vlog_reduced)(m, e);
}

/// log(x) for normal x > 0 (about 1 ulp); +∞ and NaN pass through. Zero and subnormals are not handled.
VTARGET static inline VF FN(vlog)(VF x) {
    VI bits = (VI)x;
    VI k = (bits >> 23) - FN(splat_i)(127);
    VF m = (VF)((bits & FN(splat_i)(0x007fffff)) | FN(splat_i)(0x3f800000));
    VI big = m > FN(splat)(1.41421356237309505f);
    m = FN(sel)(big, m * FN(splat)(0.5f), m);
    k = k - big;
    VF r = FN(vlog_reduced)(m, __builtin_convertvector(k, VF));
    return FN(sel)(x < FN(splat)(__builtin_inff()), r, x);
}

/// log(1 + u) for u in [0, 1], exact for tiny u by Goldberg's correction log(w)·u/(w-1), w = 1 + u.
VTARGET static inline VF FN(vlog1p01)(VF u) {
    VF w = FN(splat)(1.0f) + u;
    VF d = w - FN(splat)(1.0f);
    VI same = d == FN(splat)(0.0f);
    VF safe = FN(sel)(same, FN(splat)(1.0f), d);
    return FN(sel)(same, u, FN(vlog12)(w) * (u / safe));
}

/// log(1 + u) for u in [0, 1] given w = 1 + u (rounded) and its reciprocal r = 1/w, which callers computing
/// sigmoid(±x) from u = e^−|x| already have: log(w) plus the first-order correction (u − (w − 1))·r for the
/// rounding of w (u − (w − 1) is exact). As accurate as vlog1p01 without its division; for u below half an
/// ulp of 1, w = 1 and the result is u exactly.
VTARGET static inline VF FN(vlog1p01_recip)(VF u, VF w, VF r) {
    return FN(vlog12)(w) + (u - (w - FN(splat)(1.0f))) * r;
}
