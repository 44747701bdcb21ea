import Foundation
import BayesNetRuntime

/// The per-weight work of a variational layer's step (σ from ρ, the normal draws, the ρ gradient), split over
/// the runtime's threads. Every element is computed exactly as the sequential loop computes it, and the random
/// draws are keyed by element index, so the split changes no value.
enum WeightLoops {
    /// Elements per task below which splitting costs more than it saves.
    static let grain = 16_384

    /// σ = 1e-5 + softplus(ρ), ε the stream's normals, and draw = σ ⊙ ε, or μ + σ ⊙ ε when `loc` is given.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func sample<S: TensorScalar>(rho: UnsafePointer<S>, loc: UnsafePointer<S>?,
                                        sigma: UnsafeMutablePointer<S>, epsilon: UnsafeMutablePointer<S>,
                                        draw: UnsafeMutablePointer<S>, count: Int, stream: RandomStream) {
        let parts = Runtime.partitions(count, grain: grain)
        Runtime.parallelFor(parts) { part in
            let range = slice(count, part: part, of: parts)
            for i in range { sigma[i] = S(PosteriorScale.scale(Double(rho[i]))) }
            stream.fillNormal(epsilon + range.lowerBound, count: range.count, offset: range.lowerBound)
            if let loc {
                for i in range { draw[i] = loc[i] + sigma[i] * epsilon[i] }
            } else {
                for i in range { draw[i] = sigma[i] * epsilon[i] }
            }
        }
    }

    /// dρ += dW ⊙ ε ⊙ sigmoid(ρ), since W depends on ρ through σ ⊙ ε.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func addRhoGradient<S: TensorScalar>(rho: UnsafePointer<S>, dDraw: UnsafePointer<S>,
                                                epsilon: UnsafePointer<S>, gradient: UnsafeMutablePointer<S>,
                                                count: Int) {
        let parts = Runtime.partitions(count, grain: grain)
        Runtime.parallelFor(parts) { part in
            for i in slice(count, part: part, of: parts) {
                let d = Double(dDraw[i]) * Double(epsilon[i]) * PosteriorScale.derivative(Double(rho[i]))
                gradient[i] += S(d)
            }
        }
    }

    @inline(__always)
    static func slice(_ total: Int, part: Int, of parts: Int) -> Range<Int> {
        let base = total / parts, extra = total % parts
        let lo = part * base + min(part, extra)
        return lo..<(lo + base + (part < extra ? 1 : 0))
    }
}

/// A Flipout convolution layer's fused path (see `FlipoutConvolution`): one convolution per example with the
/// kernel μ + (s_in ⊗ s_out) ⊙ ΔW instead of two convolutions over the batch. Used for signs per
/// (example, channel) in Float or Double; signs per element keep the two-convolution form.
struct FlipoutFusion<S: TensorScalar> {
    let workspace: FlipoutConvolution.Workspace<S>

    /// The fused path for a layer, or nil when it does not apply.
    init?(map: LinearMap, estimator: Estimator, signs: SignSharing?, maxBatch: Int) {
        guard estimator == .flipout, signs == .perChannel, FlipoutConvolution.supports(S.self),
              case .convolution(let g) = map else { return nil }
        workspace = FlipoutConvolution.Workspace(geometry: g, maxBatch: maxBatch)
    }

    func forward(x: UnsafePointer<S>, mean: UnsafePointer<S>, delta: UnsafePointer<S>, bias: UnsafePointer<S>,
                 signIn: UnsafePointer<S>, signOut: UnsafePointer<S>, y: UnsafeMutablePointer<S>, batch: Int) {
        FlipoutConvolution.forward(x: x, mean: mean, delta: delta, bias: bias, signIn: signIn, signOut: signOut,
                                   y: y, batch: batch, workspace: workspace)
    }

    /// dμ += the mean kernel's gradient, dΔW = the perturbation's, dx = the input's (when not nil).
    func backward(x: UnsafePointer<S>, dy: UnsafePointer<S>, mean: UnsafePointer<S>, delta: UnsafePointer<S>,
                  signIn: UnsafePointer<S>, signOut: UnsafePointer<S>, dMean: UnsafeMutablePointer<S>,
                  dDelta: UnsafeMutablePointer<S>, dx: UnsafeMutablePointer<S>?, batch: Int) {
        FlipoutConvolution.backwardKernel(x: x, dy: dy, signIn: signIn, signOut: signOut, dMean: dMean,
                                          dDelta: dDelta, batch: batch, workspace: workspace)
        if let dx {
            FlipoutConvolution.backwardInput(dy: dy, mean: mean, delta: delta, signIn: signIn, signOut: signOut,
                                             dx: dx, batch: batch, workspace: workspace)
        }
    }
}
