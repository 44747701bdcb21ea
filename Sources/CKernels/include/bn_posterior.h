#ifndef BAYESNET_POSTERIOR_H
#define BAYESNET_POSTERIOR_H

// Per-weight math of a factorised Normal posterior q = Π N(loc_i, σ_i²), σ_i = 1e-5 + softplus(ρ_i), in single
// precision, vectorised for the selected kernel family. Every family computes each element with the same
// operations in the same order and no fused multiply-adds, so all of them give the same bits. Each call is
// single-threaded over [0, n); elements are independent, so a caller may split a range anywhere.

/// σ[i] = 1e-5 + softplus(ρ[i]) and draw[i] = loc[i] + σ[i]·ε[i], or σ[i]·ε[i] when loc is NULL; σ is
/// stored only when sigma is not NULL. draw may equal loc or eps; sigma may equal rho.
void bn_posterior_sample_f32(const float *rho, const float *loc, const float *eps, float *sigma, float *draw,
                             long n);

/// grad[i] += (dDraw[i]·ε[i])·sigmoid(ρ[i]): the draw's gradient carried back to ρ through σ.
void bn_posterior_rho_gradient_f32(const float *rho, const float *dDraw, const float *eps, float *grad, long n);

/// Analytic KL(N(loc_i, σ_i²) ‖ N(priorLoc, priorScale²)) summed over [0, n); adds weight × its gradients into
/// dLoc and dRho when they are not NULL.
///
/// The sum is kept in 16 double lanes, element i (counted from the range's start) in lane i mod 16, and the
/// lanes are added in a fixed tree: it depends on the range's elements alone, not on the kernel family or the
/// memory alignment, so callers that cut the weights at fixed block boundaries and add the blocks' sums in
/// order get the same total with any thread count.
double bn_kl_normal_f32(const float *loc, const float *rho, long n, double priorLoc, double priorScale,
                        float weight, float *dLoc, float *dRho);

/// One-sample Monte Carlo KL, log q(w) − log p(w) at w = loc + σ·ε, against the scale mixture
/// p(w) = pi·N(w; 0, scale1²) + (1 − pi)·N(w; 0, scale2²) (pi = 1 or 0: one component), summed over [0, n)
/// as bn_kl_normal_f32 sums; adds weight × its pathwise gradients into dLoc and dRho when they are not NULL.
double bn_kl_mixture_f32(const float *loc, const float *rho, const float *eps, long n, double pi, double scale1,
                         double scale2, float weight, float *dLoc, float *dRho);

#endif
