import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// How a layer's KL term is estimated. `automatic` is the analytic KL for a Normal prior and a one-sample
/// Monte Carlo estimate for a scale mixture; `monteCarlo` forces the estimate (for a Normal prior: one centred
/// at 0), so the two can be compared.
enum KLEstimate: Sendable {
    case automatic, monteCarlo
}

/// A convolution or affine layer, deterministic or variational (Flipout or reparameterization), with its
/// activation fused: `act(conv(x, μ) + s_out ⊙ conv(s_in ⊙ x, σ ⊙ ε) + b)` for Flipout.
final class WeightLayer<S: TensorScalar>: NetworkLayer<S> {
    let map: LinearMap
    let estimator: Estimator
    let activation: ActivationKind?
    let variational: Variational?
    /// The layer's KL weight, `auto` already resolved.
    let penaltyWeight: Double
    var klEstimate: KLEstimate = .automatic

    /// Deterministic: `kernel`, `bias`. Variational: the posterior locs.
    let kernelLoc: Parameter<S>
    let biasLoc: Parameter<S>
    /// Variational only: untransformed scales ρ.
    let kernelRho: Parameter<S>?
    let biasRho: Parameter<S>?

    private let streams: NoiseStreams
    private static var purposeKernel: Int { 0 }
    private static var purposeBias: Int { 1 }
    private static var purposeSignIn: Int { 2 }
    private static var purposeSignOut: Int { 3 }

    // Scratch, sized for the plan's largest batch.
    private let preActivation: Buffer<S>?
    private let kernelEpsilon: Buffer<S>
    /// Flipout: ΔW = σ ⊙ ε. Reparameterization: W = μ + σ ⊙ ε.
    private let kernelDraw: Buffer<S>
    private let kernelDrawGradient: Buffer<S>
    private let biasEpsilon: Buffer<S>
    private let biasDraw: Buffer<S>
    private let biasGradient: Buffer<S>
    private let signIn: Buffer<S>
    private let signOut: Buffer<S>
    private let flippedInput: Buffer<S>
    private let perturbation: Buffer<S>
    private let flippedInputGradient: Buffer<S>
    /// A convolution's input-gradient scratch, planned here so that backward passes allocate nothing.
    private let inputGradientScratch: ConvolutionInputScratch<S>?
    /// A Flipout convolution with signs per channel runs fused (FlipoutFusion.swift).
    let fusion: FlipoutFusion<S>?

    /// What the last forward pass did, for backward and the KL term.
    private var lastSampled = false
    private var lastNoise = NoiseContext(seed: 0, step: 0)

    init(name: String, map: LinearMap, estimator: Estimator, activation: ActivationKind?, variational: Variational?,
         penaltyWeight: Double, kernelInitializer: Initializer, biasInitializer: Initializer, seed: UInt64,
         maxBatch: Int) {
        self.map = map
        self.estimator = variational == nil ? .deterministic : estimator
        self.activation = activation
        self.variational = self.estimator == .deterministic ? nil : variational
        self.penaltyWeight = penaltyWeight
        streams = NoiseStreams(layer: name, purposes: ["kernel_noise", "bias_noise", "sign_in", "sign_out"])
        let kernelShape = map.kernelShape
        let biasShape = [map.outChannels]
        let isVariational = self.variational != nil
        kernelLoc = Parameter(name: name + (isVariational ? ".kernel_posterior_loc" : ".kernel"), shape: kernelShape)
        biasLoc = Parameter(name: name + (isVariational ? ".bias_posterior_loc" : ".bias"), shape: biasShape)
        if isVariational {
            kernelRho = Parameter(name: name + ".kernel_posterior_untransformed_scale", shape: kernelShape)
            biasRho = Parameter(name: name + ".bias_posterior_untransformed_scale", shape: biasShape)
        } else {
            kernelRho = nil
            biasRho = nil
        }
        let kc = isVariational ? map.kernelCount : 0
        let oc = isVariational ? map.outChannels : 0
        let flip = self.estimator == .flipout
        let perElement = self.variational?.signs == .perElement
        preActivation = activation == nil ? nil : Buffer(count: maxBatch * map.outputCount)
        kernelEpsilon = Buffer(count: kc)
        kernelDraw = Buffer(count: kc)
        kernelDrawGradient = Buffer(count: kc)
        biasEpsilon = Buffer(count: oc)
        biasDraw = Buffer(count: oc)
        biasGradient = Buffer(count: map.outChannels)
        signIn = Buffer(count: flip ? maxBatch * (perElement ? map.inputCount : map.inChannels) : 0)
        signOut = Buffer(count: flip ? maxBatch * (perElement ? map.outputCount : map.outChannels) : 0)
        fusion = FlipoutFusion<S>(map: map, estimator: self.estimator, signs: self.variational?.signs, maxBatch: maxBatch)
        if case .convolution(let g) = map {
            inputGradientScratch = ConvolutionInputScratch<S>(geometry: g, maxBatch: maxBatch)
        } else {
            inputGradientScratch = nil
        }
        let twoProducts = flip && fusion == nil
        flippedInput = Buffer(count: twoProducts ? maxBatch * map.inputCount : 0)
        perturbation = Buffer(count: twoProducts ? maxBatch * map.outputCount : 0)
        flippedInputGradient = Buffer(count: twoProducts ? maxBatch * map.inputCount : 0)
        super.init(name: name, inputCount: map.inputCount, outputCount: map.outputCount)

        WeightInitializer.fill(kernelLoc.value.pointer, shape: kernelShape, initializer: kernelInitializer,
                               random: RandomStream(seed: seed, stream: stableHash(name + "/kernel_init"), step: 0))
        WeightInitializer.fill(biasLoc.value.pointer, shape: biasShape, initializer: biasInitializer,
                               random: RandomStream(seed: seed, stream: stableHash(name + "/bias_init"), step: 0))
        if let kernelRho, let biasRho, case .normalDiag(let initialScale)? = self.variational?.posterior {
            let rho = S(Softplus.rho(forScale: initialScale))
            kernelRho.value.pointer.update(repeating: rho, count: kernelRho.count)
            biasRho.value.pointer.update(repeating: rho, count: biasRho.count)
        }
    }

    override var parameters: [Parameter<S>] {
        [kernelLoc, kernelRho, biasLoc, biasRho].compactMap { $0 }
    }

    /// Draws ε for kernel and bias and forms the weights from them; the draws depend only on (seed, layer,
    /// purpose, step).
    @_specialize(where S == Float) @_specialize(where S == Double)
    private func drawWeightNoise(_ noise: NoiseContext) {
        guard let kernelRho, let biasRho else { return }
        // Also the kernel draw: Flipout's ΔW = σ ⊙ ε, reparameterization's W = μ + σ ⊙ ε.
        WeightLoops.sample(rho: kernelRho.value.pointer,
                           loc: estimator == .reparameterization ? kernelLoc.value.pointer : nil,
                           epsilon: kernelEpsilon.pointer, draw: kernelDraw.pointer, count: kernelRho.count,
                           stream: streams.stream(Self.purposeKernel, noise))
        streams.stream(Self.purposeBias, noise).fillNormal(biasEpsilon.pointer, count: biasEpsilon.count)
        PosteriorMath.sample(rho: biasRho.value.pointer, loc: biasLoc.value.pointer, epsilon: biasEpsilon.pointer,
                             sigma: nil, draw: biasDraw.pointer, count: biasRho.count)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func forward(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        let sampling = variational != nil && variational?.posteriorValue == .sample && !noise.useMean
        lastSampled = sampling
        lastNoise = noise
        let out = preActivation?.pointer ?? y
        let outCount = batch * map.outputCount
        if !sampling {
            map.forward(x, kernel: kernelLoc.value.pointer, bias: biasLoc.value.pointer, out, batch: batch)
        } else {
            drawWeightNoise(noise)
            let draw = kernelDraw.pointer
            let loc = kernelLoc.value.pointer
            if estimator == .reparameterization {
                map.forward(x, kernel: draw, bias: biasDraw.pointer, out, batch: batch)
            } else if let fusion {
                drawSigns(batch: batch, noise: noise)
                fusion.forward(x: x, mean: loc, delta: draw, bias: biasDraw.pointer, signIn: signIn.pointer,
                               signOut: signOut.pointer, y: out, batch: batch)
            } else {
                map.forward(x, kernel: loc, bias: biasDraw.pointer, out, batch: batch)
                flipoutPerturbation(x, into: out, batch: batch, noise: noise)
            }
        }
        if let activation, let pre = preActivation {
            Activations.forward(activation, x: pre.pointer, y: y, count: outCount)
        }
    }

    /// out += s_out ⊙ conv(s_in ⊙ x, ΔW).
    @_specialize(where S == Float) @_specialize(where S == Double)
    private func flipoutPerturbation(_ x: UnsafePointer<S>, into out: UnsafeMutablePointer<S>, batch: Int,
                                     noise: NoiseContext) {
        let perElement = variational?.signs == .perElement
        drawSigns(batch: batch, noise: noise)
        applySigns(signIn.pointer, to: x, into: flippedInput.pointer, batch: batch, perExample: map.inputCount,
                   channels: map.inChannels, perElement: perElement)
        map.forward(flippedInput.pointer, kernel: kernelDraw.pointer, bias: nil, perturbation.pointer, batch: batch)
        let p = perturbation.pointer, s = signOut.pointer
        let count = map.outputCount, channels = map.outChannels
        if perElement {
            for i in 0..<(batch * count) { out[i] += s[i] * p[i] }
        } else {
            for b in 0..<batch {
                let base = b * count
                let sb = s + b * channels
                var i = 0
                while i < count {
                    for c in 0..<channels { out[base + i + c] += sb[c] * p[base + i + c] }
                    i += channels
                }
            }
        }
    }

    /// s_in and s_out for the batch, keyed by the examples' indices in their data set.
    private func drawSigns(batch: Int, noise: NoiseContext) {
        let perElement = variational?.signs == .perElement
        let inPer = perElement ? map.inputCount : map.inChannels
        let outPer = perElement ? map.outputCount : map.outChannels
        streams.stream(Self.purposeSignIn, noise).fillSigns(signIn.pointer, count: batch * inPer,
                                                            offset: noise.exampleOffset * inPer)
        streams.stream(Self.purposeSignOut, noise).fillSigns(signOut.pointer, count: batch * outPer,
                                                             offset: noise.exampleOffset * outPer)
    }

    /// dst = signs ⊙ src, with one sign per (example, channel) or per element.
    @_specialize(where S == Float) @_specialize(where S == Double)
    private func applySigns(_ signs: UnsafePointer<S>, to src: UnsafePointer<S>, into dst: UnsafeMutablePointer<S>,
                            batch: Int, perExample count: Int, channels: Int, perElement: Bool) {
        if perElement {
            for i in 0..<(batch * count) { dst[i] = signs[i] * src[i] }
            return
        }
        for b in 0..<batch {
            let base = b * count
            let sb = signs + b * channels
            var i = 0
            while i < count {
                for c in 0..<channels { dst[base + i + c] = sb[c] * src[base + i + c] }
                i += channels
            }
        }
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func backward(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafeMutablePointer<S>,
                           dx: UnsafeMutablePointer<S>?, batch: Int) {
        let outCount = batch * map.outputCount
        if let activation, let pre = preActivation {
            Activations.backward(activation, x: pre.pointer, y: y, dy: dy, dx: dy, count: outCount)
        }
        let dpre = UnsafePointer(dy)
        let rows = batch * (map.outputCount / map.outChannels)
        Bias.backward(dy: dpre, dbias: biasGradient.pointer, rows: rows, channels: map.outChannels,
                                 accumulate: false)
        for c in 0..<map.outChannels { biasLoc.gradient.pointer[c] += biasGradient.pointer[c] }

        guard lastSampled, let kernelRho, let biasRho else {
            map.backwardKernel(x: x, dy: dpre, dkernel: kernelLoc.gradient.pointer, batch: batch, accumulate: true)
            if let dx {
                map.backwardInput(dy: dpre, kernel: kernelLoc.value.pointer, dx: dx, batch: batch, accumulate: false,
                                  scratch: inputGradientScratch)
            }
            return
        }
        PosteriorMath.addRhoGradient(rho: biasRho.value.pointer, dDraw: biasGradient.pointer,
                                     epsilon: biasEpsilon.pointer, gradient: biasRho.gradient.pointer,
                                     count: map.outChannels)
        let kc = map.kernelCount
        let dDraw = kernelDrawGradient.pointer
        if estimator == .reparameterization {
            map.backwardKernel(x: x, dy: dpre, dkernel: dDraw, batch: batch, accumulate: false)
            for i in 0..<kc { kernelLoc.gradient.pointer[i] += dDraw[i] }
            addRhoGradient(kernelRho, from: dDraw)
            if let dx {
                map.backwardInput(dy: dpre, kernel: kernelDraw.pointer, dx: dx, batch: batch, accumulate: false,
                                  scratch: inputGradientScratch)
            }
            return
        }
        if let fusion {
            fusion.backward(x: x, dy: dpre, mean: kernelLoc.value.pointer, delta: kernelDraw.pointer,
                            signIn: signIn.pointer, signOut: signOut.pointer, dMean: kernelLoc.gradient.pointer,
                            dDelta: dDraw, dx: dx, batch: batch)
            addRhoGradient(kernelRho, from: dDraw)
            return
        }
        // Flipout: the mean path, then the sign-flipped perturbation path.
        map.backwardKernel(x: x, dy: dpre, dkernel: kernelLoc.gradient.pointer, batch: batch, accumulate: true)
        let perElement = variational?.signs == .perElement
        applySigns(signOut.pointer, to: dpre, into: perturbation.pointer, batch: batch, perExample: map.outputCount,
                   channels: map.outChannels, perElement: perElement)
        map.backwardKernel(x: flippedInput.pointer, dy: perturbation.pointer, dkernel: dDraw, batch: batch,
                           accumulate: false)
        addRhoGradient(kernelRho, from: dDraw)
        if let dx {
            map.backwardInput(dy: dpre, kernel: kernelLoc.value.pointer, dx: dx, batch: batch, accumulate: false,
                              scratch: inputGradientScratch)
            map.backwardInput(dy: perturbation.pointer, kernel: kernelDraw.pointer, dx: flippedInputGradient.pointer,
                              batch: batch, accumulate: false, scratch: inputGradientScratch)
            let g = flippedInputGradient.pointer
            let count = map.inputCount, channels = map.inChannels
            if perElement {
                for i in 0..<(batch * count) { dx[i] += signIn.pointer[i] * g[i] }
            } else {
                for b in 0..<batch {
                    let base = b * count
                    let sb = signIn.pointer + b * channels
                    var i = 0
                    while i < count {
                        for c in 0..<channels { dx[base + i + c] += sb[c] * g[base + i + c] }
                        i += channels
                    }
                }
            }
        }
    }

    /// dρ += dW ⊙ ε ⊙ sigmoid(ρ), since W depends on ρ through σ ⊙ ε.
    @_specialize(where S == Float) @_specialize(where S == Double)
    private func addRhoGradient(_ rho: Parameter<S>, from dDraw: UnsafePointer<S>) {
        WeightLoops.addRhoGradient(rho: rho.value.pointer, dDraw: dDraw, epsilon: kernelEpsilon.pointer,
                                   gradient: rho.gradient.pointer, count: rho.count)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func divergence(gradientScale: Double, accumulateGradients: Bool) -> Double {
        guard let variational, let kernelRho, let biasRho, penaltyWeight > 0 else { return 0 }
        let weight = S(penaltyWeight * gradientScale)
        var total = 0.0
        func gradient(_ p: Parameter<S>) -> UnsafeMutablePointer<S>? { accumulateGradients ? p.gradient.pointer : nil }
        // Two calls, not a loop over an array literal: a training step allocates nothing.
        func term(_ t: WeightLoops.KLTerm<S>, _ l: Parameter<S>, _ r: Parameter<S>) -> Double {
            WeightLoops.divergence(t, loc: l.value.pointer, rho: r.value.pointer, count: l.count, weight: weight,
                                   dLoc: gradient(l), dRho: gradient(r))
        }
        switch (variational.prior, klEstimate) {
        case (.normal(let loc, let scale), .automatic):
            total = term(.normal(loc: loc, scale: scale), kernelLoc, kernelRho)
                + term(.normal(loc: loc, scale: scale), biasLoc, biasRho)
        default:
            // The one-sample estimate at the weights the forward pass used (fresh draws for a mean-valued layer).
            if !lastSampled { drawWeightNoise(lastNoise) }
            let mixture: (pi: Double, scale1: Double, scale2: Double)
            switch variational.prior {
            case .normal(_, let scale): mixture = (0.5, scale, scale)
            case .scaleMixture(let pi, let s1, let s2): mixture = (pi, s1, s2)
            }
            total = term(.mixture(pi: mixture.pi, scale1: mixture.scale1, scale2: mixture.scale2,
                                  epsilon: kernelEpsilon.pointer), kernelLoc, kernelRho)
                + term(.mixture(pi: mixture.pi, scale1: mixture.scale1, scale2: mixture.scale2,
                                epsilon: biasEpsilon.pointer), biasLoc, biasRho)
        }
        return penaltyWeight * total
    }
}
