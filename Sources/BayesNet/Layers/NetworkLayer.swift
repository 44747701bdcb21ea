import BayesNetFormats
import BayesNetRuntime

/// One step of the execution plan. Buffers are per example times the plan's largest batch; the network owns the
/// activations between layers, a layer owns only its private scratch.
class NetworkLayer<S: TensorScalar> {
    let name: String
    /// Values per example.
    let inputCount: Int
    let outputCount: Int

    init(name: String, inputCount: Int, outputCount: Int) {
        self.name = name
        self.inputCount = inputCount
        self.outputCount = outputCount
    }

    var parameters: [Parameter<S>] { [] }

    /// Tensors the layer updates itself rather than the optimizer (batch normalization's moving averages): saved
    /// in the checkpoint and restored with the parameters, never trained.
    var state: [Parameter<S>] { [] }

    /// Whether the output is the input itself (Flatten): the plan then shares the buffers.
    var isIdentity: Bool { false }

    func forward(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {}

    /// Adds parameter gradients; `dy` may be overwritten; writes `dx` when it is not nil.
    func backward(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafeMutablePointer<S>, dx: UnsafeMutablePointer<S>?,
                  batch: Int) {}

    /// Makes room for `count` weight samples drawn ahead (`drawWeights`); only variational layers hold any.
    func reserveWeightSamples(_ count: Int) {}

    /// Draws the weights a forward pass with `noise` would use into slot `slot`, for forward passes that name the
    /// slot; a layer without per-step draws ignores it.
    func drawWeights(_ noise: NoiseContext, slot: Int) {}

    /// The penalty-weighted KL of the last forward pass; adds its gradient times `gradientScale`.
    func divergence(gradientScale: Double, accumulateGradients: Bool) -> Double { 0 }

    /// Multiply-adds per example of the products this layer runs in a forward pass, and in a backward pass with
    /// or without the input gradient: the work actually done, which the nominal count `inspect` shows is not
    /// for a fused Flipout layer (one product where the definition has two).
    func multiplyAdds(backward: Bool, inputGradient: Bool) -> Int { 0 }
}

/// Flatten: channels-last row-major data is already flat.
final class FlattenLayer<S: TensorScalar>: NetworkLayer<S> {
    override var isIdentity: Bool { true }
}

final class PoolLayer<S: TensorScalar>: NetworkLayer<S> {
    let geometry: PoolGeometry
    let isMax: Bool

    init(name: String, geometry: PoolGeometry, isMax: Bool) {
        self.geometry = geometry
        self.isMax = isMax
        super.init(name: name, inputCount: geometry.inputCount, outputCount: geometry.outputCount)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func forward(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        if isMax {
            Pooling.maxForward(x: x, y: y, batch: batch, geometry: geometry)
        } else {
            Pooling.averageForward(x: x, y: y, batch: batch, geometry: geometry)
        }
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func backward(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafeMutablePointer<S>,
                           dx: UnsafeMutablePointer<S>?, batch: Int) {
        guard let dx else { return }
        if isMax {
            Pooling.maxBackward(x: x, y: y, dy: dy, dx: dx, batch: batch, geometry: geometry)
        } else {
            Pooling.averageBackward(dy: dy, dx: dx, batch: batch, geometry: geometry)
        }
    }
}

/// The linear part of a weight layer: a convolution of rank 1-3 or a dense product.
enum LinearMap: Sendable {
    case convolution(ConvGeometry)
    case dense(inputs: Int, outputs: Int)

    var inputCount: Int {
        switch self {
        case .convolution(let g): return g.inputCount
        case .dense(let i, _): return i
        }
    }
    var outputCount: Int {
        switch self {
        case .convolution(let g): return g.outputCount
        case .dense(_, let o): return o
        }
    }
    var inChannels: Int {
        switch self {
        case .convolution(let g): return g.inChannels
        case .dense(let i, _): return i
        }
    }
    var outChannels: Int {
        switch self {
        case .convolution(let g): return g.outChannels
        case .dense(_, let o): return o
        }
    }
    /// Computed without building `kernelShape`, so the hot path allocates nothing.
    var kernelCount: Int {
        switch self {
        case .convolution(let g): return g.kernelCount
        case .dense(let i, let o): return i * o
        }
    }
    /// Multiply-adds per example of one product of this map.
    var multiplyAdds: Int {
        switch self {
        case .convolution(let g): return g.macs
        case .dense(let i, let o): return i * o
        }
    }
    var kernelShape: [Int] {
        switch self {
        case .convolution(let g): return g.filter + [g.inChannels, g.outChannels]
        case .dense(let i, let o): return [i, o]
        }
    }

    func forward<S: TensorScalar>(_ x: UnsafePointer<S>, kernel: UnsafePointer<S>, bias: UnsafePointer<S>?,
                                  _ y: UnsafeMutablePointer<S>, batch: Int) {
        switch self {
        case .convolution(let g):
            Convolution.forward(x: x, kernel: kernel, bias: bias, y: y, batch: batch, geometry: g)
        case .dense(let i, let o):
            Dense.forward(x: x, kernel: kernel, bias: bias, y: y, batch: batch, inputs: i, outputs: o)
        }
    }

    /// `scratch` is the convolution's planned input-gradient scratch (nil for a dense map).
    func backwardInput<S: TensorScalar>(dy: UnsafePointer<S>, kernel: UnsafePointer<S>, dx: UnsafeMutablePointer<S>,
                                        batch: Int, accumulate: Bool, scratch: ConvolutionInputScratch<S>?) {
        switch self {
        case .convolution(let g):
            Convolution.backwardInput(dy: dy, kernel: kernel, dx: dx, batch: batch, geometry: g, accumulate: accumulate,
                                      scratch: scratch)
        case .dense(let i, let o):
            Dense.backwardInput(dy: dy, kernel: kernel, dx: dx, batch: batch, inputs: i, outputs: o,
                                accumulate: accumulate)
        }
    }

    func backwardKernel<S: TensorScalar>(x: UnsafePointer<S>, dy: UnsafePointer<S>, dkernel: UnsafeMutablePointer<S>,
                                         batch: Int, accumulate: Bool) {
        switch self {
        case .convolution(let g):
            Convolution.backwardKernel(x: x, dy: dy, dkernel: dkernel, batch: batch, geometry: g,
                                       accumulate: accumulate)
        case .dense(let i, let o):
            Dense.backwardKernel(x: x, dy: dy, dkernel: dkernel, batch: batch, inputs: i, outputs: o,
                                 accumulate: accumulate)
        }
    }
}
