import BayesNetRuntime
import BayesNetSpec

/// How a layer's KL term is estimated. `automatic` is the analytic KL for a Normal prior and a one-sample
/// Monte Carlo estimate for a scale mixture; `monteCarlo` forces the estimate (for a Normal prior: one centred
/// at 0), so the two can be compared.
enum KLEstimate: Sendable {
    case automatic, monteCarlo
}

/// A variational layer's posterior and prior, resolved from the IR when the plan is made.
struct PosteriorSettings {
    /// The posterior scale before training; ρ starts at softplus⁻¹(scale − 1e-5).
    var initialScale: Double
    /// `posterior_value: sample` draws weights in training and evaluation; `mean` always uses the locs.
    var samples: Bool
    var prior: Prior
    /// The layer's KL weight, `auto` already resolved.
    var penaltyWeight: Double

    init(_ v: Variational, penaltyWeight: Double) {
        switch v.posterior {
        case .normalDiag(let scale): initialScale = scale
        }
        samples = v.posteriorValue == .sample
        prior = v.prior
        self.penaltyWeight = penaltyWeight
    }
}

/// The random purposes of a layer, each a stream of its own (the raw values name the streams).
enum Purpose: String, CaseIterable {
    case kernelNoise = "kernel_noise"
    case biasNoise = "bias_noise"
    case signIn = "sign_in"
    case signOut = "sign_out"
    case dropout = "dropout"

    /// The position in `allCases`, without building that array on the hot path.
    var index: Int {
        switch self {
        case .kernelNoise: return 0
        case .biasNoise: return 1
        case .signIn: return 2
        case .signOut: return 3
        case .dropout: return 4
        }
    }
}

/// A weight layer with a factorised Normal posterior: σ = 1e-5 + softplus(ρ) per weight, the KL penalty against
/// its prior, and the weight noise ε of each step. Subclasses are the estimators: how drawn weights enter the
/// product (`sampledForward`) and how its gradient reaches μ and ΔW = σ ⊙ ε (`sampledBackward`). A pass at the
/// posterior mean (`posterior_value: mean`, or evaluation with `useMean`) is the deterministic layer's.
class VariationalLayer<S: TensorScalar>: WeightLayer<S> {
    let posterior: PosteriorSettings
    var klEstimate: KLEstimate = .automatic
    /// Untransformed scales ρ.
    let kernelRho: Parameter<S>
    let biasRho: Parameter<S>
    let streams: NoiseStreams

    /// Slot 0 is drawn by every forward pass without `NoiseContext.weightSample`; further slots exist only where
    /// `reserveWeightSamples` asked for them.
    private var weightSamples: [WeightSample<S>]
    /// The slot the last forward pass used, read by its backward pass and the KL term.
    private var active: WeightSample<S>
    var kernelEpsilon: Buffer<S> { active.kernelEpsilon }
    /// Flipout: ΔW = σ ⊙ ε. Reparameterization: W = μ + σ ⊙ ε.
    var kernelDraw: Buffer<S> { active.kernelDraw }
    /// d loss / d kernelDraw, filled by `sampledBackward`.
    let kernelDrawGradient: Buffer<S>
    var biasEpsilon: Buffer<S> { active.biasEpsilon }
    var biasDraw: Buffer<S> { active.biasDraw }

    /// What the last forward pass did, for backward and the KL term.
    private var lastSampled = false
    private var lastNoise = NoiseContext(seed: 0, step: 0)

    init(_ settings: WeightLayerSettings, posterior: PosteriorSettings) {
        self.posterior = posterior
        let map = settings.map
        kernelRho = Parameter(name: settings.name + ".kernel_posterior_untransformed_scale", shape: map.kernelShape)
        biasRho = Parameter(name: settings.name + ".bias_posterior_untransformed_scale", shape: [map.outChannels])
        streams = NoiseStreams(layer: settings.name)
        active = WeightSample(kernelCount: map.kernelCount, biasCount: map.outChannels)
        weightSamples = [active]
        kernelDrawGradient = Buffer(count: map.kernelCount)
        super.init(settings, variational: true)
        let rho = S(Softplus.rho(forScale: posterior.initialScale))
        kernelRho.value.pointer.update(repeating: rho, count: kernelRho.count)
        biasRho.value.pointer.update(repeating: rho, count: biasRho.count)
    }

    override var parameters: [Parameter<S>] { [kernelLoc, kernelRho, biasLoc, biasRho] }

    /// Whether the kernel draw is μ + σ ⊙ ε (reparameterization) rather than σ ⊙ ε (Flipout's ΔW).
    var drawIncludesLoc: Bool { false }

    /// Draws ε for kernel and bias and forms the weights from them; the draws depend only on (seed, layer,
    /// purpose, step).
    @_specialize(where S == Float) @_specialize(where S == Double)
    final func drawWeightNoise(_ noise: NoiseContext) {
        WeightLoops.sample(rho: kernelRho.value.pointer, loc: drawIncludesLoc ? kernelLoc.value.pointer : nil,
                           epsilon: kernelEpsilon.pointer, draw: kernelDraw.pointer, count: kernelRho.count,
                           stream: streams.stream(.kernelNoise, noise))
        streams.stream(.biasNoise, noise).fillNormal(biasEpsilon.pointer, count: biasEpsilon.count)
        PosteriorMath.sample(rho: biasRho.value.pointer, loc: biasLoc.value.pointer, epsilon: biasEpsilon.pointer,
                             sigma: nil, draw: biasDraw.pointer, count: biasRho.count)
    }

    override func reserveWeightSamples(_ count: Int) {
        while weightSamples.count < count {
            weightSamples.append(WeightSample(kernelCount: map.kernelCount, biasCount: map.outChannels))
        }
    }

    /// Fills slot `slot` with the draws a forward pass with `noise` would make, for the forward passes that name
    /// it in `NoiseContext.weightSample`.
    @_specialize(where S == Float) @_specialize(where S == Double)
    override func drawWeights(_ noise: NoiseContext, slot: Int) {
        guard posterior.samples && !noise.useMean else { return }
        active = weightSamples[slot]
        drawWeightNoise(noise)
    }

    final override func linearForward(_ x: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>, batch: Int,
                                      noise: NoiseContext) {
        lastSampled = posterior.samples && !noise.useMean
        lastNoise = noise
        guard lastSampled else { return super.linearForward(x, out, batch: batch, noise: noise) }
        if let slot = noise.weightSample {
            active = weightSamples[slot]
        } else {
            active = weightSamples[0]
            drawWeightNoise(noise)
        }
        sampledForward(x, out, batch: batch, noise: noise)
    }

    final override func linearBackward(x: UnsafePointer<S>, dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>?,
                                       batch: Int) {
        guard lastSampled else { return super.linearBackward(x: x, dy: dy, dx: dx, batch: batch) }
        PosteriorMath.addRhoGradient(rho: biasRho.value.pointer, dDraw: biasGradient.pointer,
                                     epsilon: biasEpsilon.pointer, gradient: biasRho.gradient.pointer,
                                     count: map.outChannels)
        sampledBackward(x: x, dy: dy, dx: dx, batch: batch)
        // dρ += dW ⊙ ε ⊙ sigmoid(ρ), since W depends on ρ through σ ⊙ ε.
        WeightLoops.addRhoGradient(rho: kernelRho.value.pointer, dDraw: kernelDrawGradient.pointer,
                                   epsilon: kernelEpsilon.pointer, gradient: kernelRho.gradient.pointer,
                                   count: kernelRho.count)
    }

    /// conv(x, ·) + b with the weights just drawn (kernelDraw, biasDraw).
    func sampledForward(_ x: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        preconditionFailure("every estimator defines its forward pass")
    }

    /// Adds the loc's gradient, sets kernelDrawGradient, and sets dx (when not nil).
    func sampledBackward(x: UnsafePointer<S>, dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>?, batch: Int) {
        preconditionFailure("every estimator defines its backward pass")
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func divergence(gradientScale: Double, accumulateGradients: Bool) -> Double {
        guard posterior.penaltyWeight > 0 else { return 0 }
        let weight = S(posterior.penaltyWeight * gradientScale)
        func gradient(_ p: Parameter<S>) -> UnsafeMutablePointer<S>? { accumulateGradients ? p.gradient.pointer : nil }
        // Two calls, not a loop over an array literal: a training step allocates nothing.
        func term(_ t: WeightLoops.KLTerm<S>, _ l: Parameter<S>, _ r: Parameter<S>) -> Double {
            WeightLoops.divergence(t, loc: l.value.pointer, rho: r.value.pointer, count: l.count, weight: weight,
                                   dLoc: gradient(l), dRho: gradient(r))
        }
        let total: Double
        switch (posterior.prior, klEstimate) {
        case (.normal(let loc, let scale), .automatic):
            total = term(.normal(loc: loc, scale: scale), kernelLoc, kernelRho)
                + term(.normal(loc: loc, scale: scale), biasLoc, biasRho)
        case (.normal(_, let scale), .monteCarlo):
            total = monteCarlo(pi: 0.5, scale1: scale, scale2: scale, term)
        case (.scaleMixture(let pi, let scale1, let scale2), _):
            total = monteCarlo(pi: pi, scale1: scale1, scale2: scale2, term)
        }
        return posterior.penaltyWeight * total
    }

    /// The one-sample estimate at the weights the forward pass used (fresh draws for a mean-valued pass).
    private func monteCarlo(pi: Double, scale1: Double, scale2: Double,
                            _ term: (WeightLoops.KLTerm<S>, Parameter<S>, Parameter<S>) -> Double) -> Double {
        if !lastSampled {
            active = weightSamples[0]
            drawWeightNoise(lastNoise)
        }
        return term(.mixture(pi: pi, scale1: scale1, scale2: scale2, epsilon: kernelEpsilon.pointer), kernelLoc, kernelRho)
            + term(.mixture(pi: pi, scale1: scale1, scale2: scale2, epsilon: biasEpsilon.pointer), biasLoc, biasRho)
    }
}

/// A layer's weight noise ε and the weights formed from it, for one (step, sample).
final class WeightSample<S: TensorScalar> {
    let kernelEpsilon: Buffer<S>
    let kernelDraw: Buffer<S>
    let biasEpsilon: Buffer<S>
    let biasDraw: Buffer<S>

    init(kernelCount: Int, biasCount: Int) {
        kernelEpsilon = Buffer(count: kernelCount)
        kernelDraw = Buffer(count: kernelCount)
        biasEpsilon = Buffer(count: biasCount)
        biasDraw = Buffer(count: biasCount)
    }
}

/// One weight sample per step, shared by the batch: W = μ + σ ⊙ ε.
final class ReparameterizationLayer<S: TensorScalar>: VariationalLayer<S> {
    override var drawIncludesLoc: Bool { true }

    override func sampledForward(_ x: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>, batch: Int,
                                 noise: NoiseContext) {
        map.forward(x, kernel: kernelDraw.pointer, bias: biasDraw.pointer, out, batch: batch)
    }

    override func sampledBackward(x: UnsafePointer<S>, dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>?,
                                  batch: Int) {
        let dDraw = kernelDrawGradient.pointer
        map.backwardKernel(x: x, dy: dy, dkernel: dDraw, batch: batch, accumulate: false)
        for i in 0..<map.kernelCount { kernelLoc.gradient.pointer[i] += dDraw[i] }
        if let dx {
            map.backwardInput(dy: dy, kernel: kernelDraw.pointer, dx: dx, batch: batch, accumulate: false,
                              scratch: inputGradientScratch)
        }
    }
}
