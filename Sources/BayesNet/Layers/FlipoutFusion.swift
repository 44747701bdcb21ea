import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// A Flipout convolution layer's fused path (see `FlipoutConvolution`): one convolution per example with the
/// kernel μ + (s_in ⊗ s_out) ⊙ ΔW instead of two convolutions over the batch. Used for signs per
/// (example, channel) in Float or Double; signs per element keep the two-convolution form.
struct FlipoutFusion<S: TensorScalar> {
    let workspace: FlipoutConvolution.Workspace<S>

    /// The fused path for a layer, or nil when it does not apply.
    init?(map: LinearMap, signs: SignSharing, maxBatch: Int) {
        guard signs == .perChannel, FlipoutConvolution.supports(S.self),
              case .convolution(let g) = map, Self.pays(g) else { return nil }
        workspace = FlipoutConvolution.Workspace(geometry: g, maxBatch: maxBatch)
    }

    /// Whether one product per example beats two over the batch: the runtime's cost model
    /// (`FlipoutConvolution.pays`), for the kernels this plan runs on.
    static func pays(_ g: ConvGeometry) -> Bool {
        FlipoutConvolution.pays(g, S.self)
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
