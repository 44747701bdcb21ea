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

    /// Whether one product per example beats two over the batch. Per example the fused form saves
    /// positions × kernel multiply-adds but forms and packs its own kernel (a few passes over the kernel's
    /// memory), and its products have only `positions` rows; below about 16 positions (the late layers of a
    /// small image, where the kernel is large and the map tiny) the two batched products win.
    static func pays(_ g: ConvGeometry) -> Bool {
        g.outputPositions >= minimumPositions
    }

    /// Measured on the digits LeNet-5 with a 120-filter third convolution (4, 16 and 64 positions): fusing
    /// the 4-position layer made a training step 20% slower, fusing the 16-position one 5% faster.
    static var minimumPositions: Int { 16 }

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
