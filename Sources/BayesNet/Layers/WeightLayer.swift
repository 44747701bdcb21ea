import BayesNetRuntime
import BayesNetSpec

/// What every weight layer is built from, resolved from the IR when the plan is made.
struct WeightLayerSettings {
    var name: String
    var map: LinearMap
    var activation: ActivationKind?
    var kernelInitializer: Initializer
    var biasInitializer: Initializer
    var seed: UInt64
    var maxBatch: Int
}

/// A convolution or affine layer with its activation fused: `act(conv(x, W) + b)`. Used as is for deterministic
/// layers; the variational estimators (VariationalLayer.swift) replace how W and b are drawn and differentiated.
class WeightLayer<S: TensorScalar>: NetworkLayer<S> {
    let map: LinearMap
    let activation: ActivationKind?
    /// Deterministic: `kernel`, `bias`. Variational: the posterior locs.
    let kernelLoc: Parameter<S>
    let biasLoc: Parameter<S>

    // Scratch, sized for the plan's largest batch.
    private let preActivation: Buffer<S>?
    let biasGradient: Buffer<S>
    /// A convolution's input-gradient scratch, planned here so that backward passes allocate nothing.
    let inputGradientScratch: ConvolutionInputScratch<S>?

    init(_ settings: WeightLayerSettings, variational: Bool = false) {
        map = settings.map
        activation = settings.activation
        let name = settings.name
        kernelLoc = Parameter(name: name + (variational ? ".kernel_posterior_loc" : ".kernel"), shape: map.kernelShape)
        biasLoc = Parameter(name: name + (variational ? ".bias_posterior_loc" : ".bias"), shape: [map.outChannels])
        preActivation = activation == nil ? nil : Buffer(count: settings.maxBatch * map.outputCount)
        biasGradient = Buffer(count: map.outChannels)
        if case .convolution(let g) = map {
            inputGradientScratch = ConvolutionInputScratch<S>(geometry: g, maxBatch: settings.maxBatch)
        } else {
            inputGradientScratch = nil
        }
        super.init(name: name, inputCount: map.inputCount, outputCount: map.outputCount)
        WeightInitializer.fill(kernelLoc.value.pointer, shape: map.kernelShape, initializer: settings.kernelInitializer,
                               random: RandomStream(seed: settings.seed, stream: stableHash(name + "/kernel_init"), step: 0))
        WeightInitializer.fill(biasLoc.value.pointer, shape: [map.outChannels], initializer: settings.biasInitializer,
                               random: RandomStream(seed: settings.seed, stream: stableHash(name + "/bias_init"), step: 0))
    }

    override var parameters: [Parameter<S>] { [kernelLoc, biasLoc] }

    /// How many products of the map make one of its passes (two for Flipout's mean and perturbation).
    var productsPerPass: Int { 1 }

    override func multiplyAdds(backward: Bool, inputGradient: Bool) -> Int {
        map.multiplyAdds * productsPerPass * (backward ? (inputGradient ? 2 : 1) : 1)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func forward(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        let out = preActivation?.pointer ?? y
        linearForward(x, out, batch: batch, noise: noise)
        if let activation, let pre = preActivation {
            Activations.forward(activation, x: pre.pointer, y: y, count: batch * map.outputCount)
        }
    }

    /// conv(x, W) + b before the activation; here with W and b the locs.
    func linearForward(_ x: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        map.forward(x, kernel: kernelLoc.value.pointer, bias: biasLoc.value.pointer, out, batch: batch)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func backward(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafeMutablePointer<S>,
                           dx: UnsafeMutablePointer<S>?, batch: Int) {
        if let activation, let pre = preActivation {
            Activations.backward(activation, x: pre.pointer, y: y, dy: dy, dx: dy, count: batch * map.outputCount)
        }
        let dpre = UnsafePointer(dy)
        Bias.backward(dy: dpre, dbias: biasGradient.pointer, rows: batch * (map.outputCount / map.outChannels),
                      channels: map.outChannels, accumulate: false)
        for c in 0..<map.outChannels { biasLoc.gradient.pointer[c] += biasGradient.pointer[c] }
        linearBackward(x: x, dy: dpre, dx: dx, batch: batch)
    }

    /// The kernel's gradient and the input's, given d loss / d pre-activation; here through the locs.
    func linearBackward(x: UnsafePointer<S>, dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>?, batch: Int) {
        map.backwardKernel(x: x, dy: dy, dkernel: kernelLoc.gradient.pointer, batch: batch, accumulate: true)
        if let dx {
            map.backwardInput(dy: dy, kernel: kernelLoc.value.pointer, dx: dx, batch: batch, accumulate: false,
                              scratch: inputGradientScratch)
        }
    }
}
