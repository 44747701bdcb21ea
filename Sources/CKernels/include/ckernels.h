#ifndef BAYESNET_CKERNELS_H
#define BAYESNET_CKERNELS_H

/// Returns 1 when the CPU and OS support AVX2 and FMA.
int bn_cpu_has_avx2_fma(void);
/// Returns 1 when the CPU and OS support AVX-512F.
int bn_cpu_has_avx512f(void);
/// Cores this process may run on (affinity mask), at least 1.
int bn_cpu_active_cores(void);

/// Atomic access to a counter shared between threads (the thread pool's job generation).
static inline unsigned long long bn_atomic_load(const unsigned long long *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void bn_atomic_store(unsigned long long *p, unsigned long long v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
/// A hint to the core that the thread is spinning (x86 `pause`).
static inline void bn_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Instruction-set levels. One choice serves every kernel family: the GEMM of both precisions, activations,
/// posterior math, normal draws and the Flipout kernels. AVX-512 is preferred where present: on the Zen 5 this
/// was written on it measures twice AVX2.
enum {
    BN_CPU_PORTABLE = 0,
    BN_CPU_AVX2 = 1,
    BN_CPU_AVX512 = 2
};
/// Chooses the level once (a plan calls it when it is built) and returns it: the widest the CPU supports,
/// capped by the environment variable BAYESNET_KERNEL (portable, avx2 or avx512) if set. Later calls return
/// the same level, unless `bn_cpu_set_level` changed it.
int bn_cpu_select_level(void);
/// The level in use: what `bn_cpu_select_level` chose (choosing it on first use, for callers without a plan).
int bn_cpu_level(void);
/// Overrides the level (benchmarks, tests); returns 0 when the CPU cannot run it.
int bn_cpu_set_level(int level);

/// Whether single-precision convolutions with at most 8 input channels, and the fused Flipout layer's
/// per-example products (bn_conv_plane_forward, bn_flipout_conv_kernel_gradient), read their patches in place
/// (AVX-512) instead of packing them; on by default. Switched off only to compare the two (tests,
/// benchmarks).
int bn_few_channels_kernels(void);
void bn_set_few_channels_kernels(int enabled);

/// Runs `iterations` steps of twelve independent vector FMAs with the given kernel family's vector width and
/// returns the floating-point operations done (0 when the CPU lacks it): the per-core ceiling.
double bn_fma_peak_loop(int kernel, long iterations);

/// Spatial geometry of a convolution in rank-3 form (depth, height, width), channels-last.
typedef struct {
    long in[3], out[3], filter[3], stride[3], dilation[3], pad[3];
    long inChannels;
} bn_conv_geom;

/// Where the rows of op(A) come from.
enum {
    /// A plain row-major matrix: op(A)[i][p] = a[i*lda + p], or a[p*lda + i] when transposed.
    BN_A_MATRIX = 0,
    /// The implicit im2col matrix of `x`: row i = (example, output position), column p = (tap, channel).
    BN_A_IM2COL = 1,
    /// Its transpose, restricted to im2col rows [row0, row0 + k): op(A)[i][p] = im2col[row0 + p][i].
    BN_A_IM2COL_T = 2
};

typedef struct {
    int kind;
    int trans;
    const float *a;
    long lda;
    const bn_conv_geom *geom;
    long row0;
} bn_a_source;

/// Rows [m0, m1) of C = alpha * op(A) * op(B) + beta * C, single-threaded. op(B) is k x n.
/// With beta == 0, C is not read.
void bn_sgemm_rows(const bn_a_source *A, long m0, long m1, long n, long k, float alpha,
                   const float *b, long ldb, int transB, float beta, float *c, long ldc);

/// The double-precision counterparts: the same blocking, packing and kernel families.
typedef struct {
    int kind;
    int trans;
    const double *a;
    long lda;
    const bn_conv_geom *geom;
    long row0;
} bn_a_source_f64;

void bn_dgemm_rows(const bn_a_source_f64 *A, long m0, long m1, long n, long k, double alpha,
                   const double *b, long ldb, int transB, double beta, double *c, long ldc);
void bn_col2im_add_f64(const bn_conv_geom *g, const double *src, long ld, long row0, long rows, double *dx);
void bn_im2col_segment_f64(const bn_conv_geom *g, const double *x, long row, long col0, long count,
                           double *dst, long stride);

/// Writes im2col[row][col0 ..< col0+count] to dst[0], dst[stride], ...
void bn_im2col_segment(const bn_conv_geom *g, const float *x, long row, long col0, long count,
                       float *dst, long stride);

/// Activations with transcendental parts (single precision, vectorised for the selected kernel family).
enum {
    BN_ACT_ELU = 2,
    BN_ACT_TANH = 3,
    BN_ACT_SIGMOID = 4,
    BN_ACT_SOFTPLUS = 5
};
/// y = f(x) elementwise; y may equal x.
void bn_activation_forward_f32(int kind, const float *x, float *y, long n);
/// dx = dy * sigmoid(x); dx may equal dy.
void bn_softplus_backward_f32(const float *x, const float *dy, float *dx, long n);

/// Adds rows [row0, row0+rows) of an im2col-shaped matrix (leading dimension ld) back onto the input
/// positions they were gathered from (the adjoint of im2col).
void bn_col2im_add(const bn_conv_geom *g, const float *src, long ld, long row0, long rows, float *dx);

/// Whether the convolutions read from padded planes below run here (AVX-512 and the in-place kernels on).
int bn_plane_conv_available(void);

/// Rows [m0, m1) of C = im2col(x) · B, plus `bias` (n values, or NULL) on every row; B is k x n with row
/// stride ldb, k = taps · inChannels. The patches are read from a zero-padded copy of each example; the
/// result has the bits of bn_sgemm_rows for the same product (onto rows holding the bias, beta 1).
/// Single-threaded. Returns 0, computing nothing, where it does not apply (see bn_plane_conv_available).
int bn_conv_plane_forward(const bn_conv_geom *g, const float *x, long m0, long m1, long n, const float *b,
                          long ldb, const float *bias, float *c, long ldc);

/// The fused Flipout convolution's kernel gradient for kernel rows [r0, r1): with G_b = patches_bᵀ · dy_b
/// (the bits of bn_sgemm_rows), dMean += Σ_b G_b and dDelta += Σ_b (s_in[b] ⊗ s_out[b]) ⊙ G_b, the examples
/// added in order, each tile added while in registers. sIn is batch x inChannels, sOut and dy rows batch x n.
/// Single-threaded. Returns 0, computing nothing, where it does not apply (bn_flipout_conv_gradient_applies
/// says beforehand, from the geometry and the output channels).
int bn_flipout_conv_gradient_applies(const bn_conv_geom *g, long n);
int bn_flipout_conv_kernel_gradient(const bn_conv_geom *g, const float *x, const float *dy, long batch, long r0,
                                    long r1, long n, const float *sIn, const float *sOut, float *dMean,
                                    float *dDelta);

/// A pooling window geometry in rank-3 form, channels-last.
typedef struct {
    long in[3], out[3], window[3], stride[3], pad[3];
    long channels;
} bn_pool_geom;

enum {
    BN_POOL_MAX_FORWARD = 0,
    BN_POOL_MAX_BACKWARD = 1,
    BN_POOL_AVERAGE_FORWARD = 2,
    BN_POOL_AVERAGE_BACKWARD = 3
};

/// One pass of `Pooling` over examples [e0, e1) with its bits, at the AVX-512 level: forward passes write y
/// (`out`) from x; backward passes overwrite dx (`out`) from dy (and x, for the maximum). Returns 0,
/// computing nothing, at other levels.
int bn_pool_f32(int pass, const float *x, const float *dy, float *out, long e0, long e1, const bn_pool_geom *g);

/// One Adam step over [0, n) at the AVX-512 level with the bits of `Optimizers.adamStep`:
/// m += (g − m)·c1, v += (g² − v)·c2, p −= m·alpha / (√v + eps). Returns 0, doing nothing, at other levels.
int bn_adam_step_f32(float *p, const float *g, float *m, float *v, long n, float alpha, float c1, float c2,
                     float eps);
/// One step of SGD with momentum likewise: vel = mu·vel − lr·g, p += vel.
int bn_sgd_step_f32(float *p, const float *g, float *vel, long n, float lr, float mu);

/// Σ over [0, n) of 0.5·r²/variance + constant with r = out − target (in double), the sum kept in 16 lanes
/// added in a fixed tree; with `scale`, grad[i] = scale·r/variance/batch. Single-threaded.
double bn_gaussian_nll_f32(const float *out, const float *target, long n, double variance, double constant,
                           const double *scale, long batch, float *grad);

/// Batch normalization's passes over rows [r0, r1) of c channels, with the bits of `BatchNormalization`'s
/// loops (double precision per channel, rows in order): the block moments sum += x, then m2 += (x − sum/n)²;
/// the gradient sums sumDy += dy, sumDyX += dy·(x − center); y = x·a + b; dx (+)= a·dy + k·x + b.
void bn_batchnorm_moments_f32(const float *x, long r0, long r1, long c, double *sum, double *m2);
void bn_batchnorm_sums_f32(const float *x, const float *dy, const double *center, long r0, long r1, long c,
                           double *sumDy, double *sumDyX);
void bn_batchnorm_affine_f32(const float *x, float *y, const double *a, const double *b, long r0, long r1, long c);
void bn_batchnorm_backward_f32(const float *x, const float *dy, float *dx, const double *a, const double *k,
                               const double *b, long r0, long r1, long c, int accumulate);
#endif
