import BayesNetRuntime
import BayesNetSpec

/// Flipout (Wen et al., 2018): one ΔW = σ ⊙ ε per step, decorrelated across the batch by random signs,
/// `conv(x, μ) + s_out ⊙ conv(s_in ⊙ x, ΔW) + b`. The signs are drawn per (example, channel) or per element and
/// keyed by the examples' indices in their data set, so a batch split anywhere draws the same signs.
class FlipoutLayer<S: TensorScalar>: VariationalLayer<S> {
    /// Signs per element (`tfp.experimental.nn`) rather than per (example, channel) (`tfp.layers`).
    let perElement: Bool
    let signIn: Buffer<S>
    let signOut: Buffer<S>

    init(_ settings: WeightLayerSettings, posterior: PosteriorSettings, perElement: Bool) {
        self.perElement = perElement
        let map = settings.map
        signIn = Buffer(count: settings.maxBatch * (perElement ? map.inputCount : map.inChannels))
        signOut = Buffer(count: settings.maxBatch * (perElement ? map.outputCount : map.outChannels))
        super.init(settings, posterior: posterior)
    }

    /// s_in and s_out for the batch.
    final func drawSigns(batch: Int, noise: NoiseContext) {
        let inPer = perElement ? map.inputCount : map.inChannels
        let outPer = perElement ? map.outputCount : map.outChannels
        streams.stream(.signIn, noise).fillSigns(signIn.pointer, count: batch * inPer, offset: noise.exampleOffset * inPer)
        streams.stream(.signOut, noise).fillSigns(signOut.pointer, count: batch * outPer,
                                                  offset: noise.exampleOffset * outPer)
    }

    /// dst = signs ⊙ src, or dst += signs ⊙ src, with one sign per (example, channel) or per element.
    @_specialize(where S == Float) @_specialize(where S == Double)
    final func applySigns(_ signs: UnsafePointer<S>, to src: UnsafePointer<S>, into dst: UnsafeMutablePointer<S>,
                          batch: Int, perExample count: Int, channels: Int, accumulate: Bool) {
        if perElement {
            if accumulate {
                for i in 0..<(batch * count) { dst[i] += signs[i] * src[i] }
            } else {
                for i in 0..<(batch * count) { dst[i] = signs[i] * src[i] }
            }
            return
        }
        for b in 0..<batch {
            let base = b * count
            let sb = signs + b * channels
            var i = 0
            while i < count {
                if accumulate {
                    for c in 0..<channels { dst[base + i + c] += sb[c] * src[base + i + c] }
                } else {
                    for c in 0..<channels { dst[base + i + c] = sb[c] * src[base + i + c] }
                }
                i += channels
            }
        }
    }
}

/// Flipout as two products over the batch: the mean's and the sign-flipped perturbation's. Used for signs per
/// element and where the fused form does not pay (FlipoutFusion.pays).
final class TwoProductFlipoutLayer<S: TensorScalar>: FlipoutLayer<S> {
    private let flippedInput: Buffer<S>
    private let perturbation: Buffer<S>
    private let flippedInputGradient: Buffer<S>

    override init(_ settings: WeightLayerSettings, posterior: PosteriorSettings, perElement: Bool) {
        let map = settings.map
        flippedInput = Buffer(count: settings.maxBatch * map.inputCount)
        perturbation = Buffer(count: settings.maxBatch * map.outputCount)
        flippedInputGradient = Buffer(count: settings.maxBatch * map.inputCount)
        super.init(settings, posterior: posterior, perElement: perElement)
    }

    override var productsPerPass: Int { 2 }

    override func sampledForward(_ x: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>, batch: Int,
                                 noise: NoiseContext) {
        map.forward(x, kernel: kernelLoc.value.pointer, bias: biasDraw.pointer, out, batch: batch)
        drawSigns(batch: batch, noise: noise)
        applySigns(signIn.pointer, to: x, into: flippedInput.pointer, batch: batch, perExample: map.inputCount,
                   channels: map.inChannels, accumulate: false)
        map.forward(flippedInput.pointer, kernel: kernelDraw.pointer, bias: nil, perturbation.pointer, batch: batch)
        applySigns(signOut.pointer, to: perturbation.pointer, into: out, batch: batch, perExample: map.outputCount,
                   channels: map.outChannels, accumulate: true)
    }

    override func sampledBackward(x: UnsafePointer<S>, dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>?,
                                  batch: Int) {
        map.backwardKernel(x: x, dy: dy, dkernel: kernelLoc.gradient.pointer, batch: batch, accumulate: true)
        applySigns(signOut.pointer, to: dy, into: perturbation.pointer, batch: batch, perExample: map.outputCount,
                   channels: map.outChannels, accumulate: false)
        map.backwardKernel(x: flippedInput.pointer, dy: perturbation.pointer, dkernel: kernelDrawGradient.pointer,
                           batch: batch, accumulate: false)
        guard let dx else { return }
        map.backwardInput(dy: dy, kernel: kernelLoc.value.pointer, dx: dx, batch: batch, accumulate: false,
                          scratch: inputGradientScratch)
        map.backwardInput(dy: perturbation.pointer, kernel: kernelDraw.pointer, dx: flippedInputGradient.pointer,
                          batch: batch, accumulate: false, scratch: inputGradientScratch)
        applySigns(signIn.pointer, to: flippedInputGradient.pointer, into: dx, batch: batch,
                   perExample: map.inputCount, channels: map.inChannels, accumulate: true)
    }
}

/// Flipout convolution in one product per example (FlipoutFusion.swift): signs per (example, channel) only.
final class FusedFlipoutLayer<S: TensorScalar>: FlipoutLayer<S> {
    let fusion: FlipoutFusion<S>

    init(_ settings: WeightLayerSettings, posterior: PosteriorSettings, fusion: FlipoutFusion<S>) {
        self.fusion = fusion
        super.init(settings, posterior: posterior, perElement: false)
    }

    override func sampledForward(_ x: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>, batch: Int,
                                 noise: NoiseContext) {
        drawSigns(batch: batch, noise: noise)
        fusion.forward(x: x, mean: kernelLoc.value.pointer, delta: kernelDraw.pointer, bias: biasDraw.pointer,
                       signIn: signIn.pointer, signOut: signOut.pointer, y: out, batch: batch)
    }

    override func sampledBackward(x: UnsafePointer<S>, dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>?,
                                  batch: Int) {
        fusion.backward(x: x, dy: dy, mean: kernelLoc.value.pointer, delta: kernelDraw.pointer,
                        signIn: signIn.pointer, signOut: signOut.pointer, dMean: kernelLoc.gradient.pointer,
                        dDelta: kernelDrawGradient.pointer, dx: dx, batch: batch)
    }
}
