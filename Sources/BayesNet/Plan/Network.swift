import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// A plan disagrees with the spec it was built from. Validation infers every shape; the runtime's geometry
/// computes them again for its kernels, and the two must agree before anything runs.
public enum PlanError: Error, CustomStringConvertible, Sendable, Equatable {
    case geometryMismatch(layer: String, inferred: [Int], planned: [Int])
    /// A layer kind of graph networks (`Add`, `BatchNormalization`, ...), which the spec language declares and
    /// checks but this plan cannot run yet.
    case layerNotRunnable(layer: String, typeName: String)
    /// A layer that reads anything but the layer before it: the plan runs plain stacks only, so far.
    case edgeNotRunnable(layer: String, inputs: [String])

    public var description: String {
        switch self {
        case .geometryMismatch(let layer, let inferred, let planned):
            return "layer `\(layer)`: validation inferred an output of shape \(inferred), but the runtime's geometry gives \(planned)"
        case .layerNotRunnable(let layer, let typeName):
            return "layer `\(layer)`: `\(typeName)` layers cannot run yet (graph execution is not implemented; `validate`, `inspect` and `compile` accept the spec)"
        case .edgeNotRunnable(let layer, let inputs):
            return "layer `\(layer)` reads \(inputs.map { "`\($0)`" }.joined(separator: ", ")), not just the layer before it: only plain stacks of layers run yet (graph execution is not implemented; `validate`, `inspect` and `compile` accept the spec)"
        }
    }
}

extension ModelSpec {
    /// Refuses, before any data is read or folder made, a spec that the plan cannot run.
    public func checkRunnable() throws(PlanError) {
        guard let layer = firstGraphLayer else { return }
        if layer.op.isGraphOp { throw PlanError.layerNotRunnable(layer: layer.name, typeName: layer.typeName) }
        throw PlanError.edgeNotRunnable(layer: layer.name, inputs: layer.inputs)
    }
}

/// The execution plan of a spec: its layers, their parameters, and every activation and gradient buffer sized
/// once for the largest batch, so that forward and backward passes allocate nothing.
public final class Network<S: TensorScalar> {
    public let spec: ModelSpec
    public let seed: UInt64
    public let maxBatch: Int
    let layers: [NetworkLayer<S>]
    public let parameters: [Parameter<S>]
    /// activations[i] is layer i's input; activations[layers.count] the network's output.
    private let activations: [UnsafeMutablePointer<S>]
    private let gradients: [UnsafeMutablePointer<S>]
    private let owned: [Buffer<S>]
    public let inputCount: Int
    public let outputCount: Int
    /// What the outputs mean (nil without a likelihood), decided here once for every consumer.
    public let head: OutputHead?

    /// - Parameter trainingExamples: resolves `penalty_weight: auto` to 1 / N.
    public init(spec: ModelSpec, seed: UInt64, trainingExamples: Int, maxBatch: Int) throws(PlanError) {
        self.spec = spec
        self.seed = seed
        self.maxBatch = max(1, maxBatch)
        try spec.checkRunnable()
        Runtime.selectCPULevel()
        var built: [NetworkLayer<S>] = []
        for layer in spec.layers {
            built.append(try Self.makeLayer(layer, seed: seed, trainingExamples: trainingExamples, maxBatch: self.maxBatch))
        }
        layers = built
        parameters = built.flatMap(\.parameters)
        inputCount = spec.input.shape.reduce(1, *)
        outputCount = spec.outputShape.reduce(1, *)
        head = OutputHead(spec: spec)

        var owned: [Buffer<S>] = []
        var acts: [UnsafeMutablePointer<S>] = []
        var grads: [UnsafeMutablePointer<S>] = []
        let first = Buffer<S>(count: self.maxBatch * inputCount)
        let firstGrad = Buffer<S>(count: self.maxBatch * inputCount)
        owned += [first, firstGrad]
        acts.append(first.pointer)
        grads.append(firstGrad.pointer)
        for layer in built {
            if layer.isIdentity {
                acts.append(acts.last!)
                grads.append(grads.last!)
            } else {
                let a = Buffer<S>(count: self.maxBatch * layer.outputCount)
                let g = Buffer<S>(count: self.maxBatch * layer.outputCount)
                owned += [a, g]
                acts.append(a.pointer)
                grads.append(g.pointer)
            }
        }
        activations = acts
        gradients = grads
        self.owned = owned
    }

    static func makeLayer(_ layer: Layer, seed: UInt64, trainingExamples: Int, maxBatch: Int) throws(PlanError) -> NetworkLayer<S> {
        let spatial = Array(layer.inputShape.dropLast())
        switch layer.op {
        case .add, .concatenate, .batchNormalization, .dropout, .globalPool, .activation:
            throw PlanError.layerNotRunnable(layer: layer.name, typeName: layer.typeName)
        case .flatten:
            let n = layer.inputShape.reduce(1, *)
            return FlattenLayer(name: layer.name, inputCount: n, outputCount: n)
        case .pool(let p):
            let g = PoolGeometry(inputSpatial: spatial, channels: layer.inputShape.last ?? 1, window: p.poolSize,
                                 strides: p.strides, padding: PaddingMode(p.padding))
            try check(layer, planned: g.outputSpatial + [g.channels])
            return PoolLayer(name: layer.name, geometry: g, isMax: p.kind == .max)
        case .convolution(let c):
            let g = ConvGeometry(inputSpatial: spatial, inChannels: c.inputSize, outChannels: c.outputSize,
                                 filter: c.filterShape, strides: c.strides, dilations: c.dilations,
                                 padding: PaddingMode(c.padding))
            try check(layer, planned: g.outputSpatial + [g.outChannels])
            return weightLayer(WeightLayerSettings(name: layer.name, map: .convolution(g), activation: activationKind(c.activation),
                                                   kernelInitializer: c.kernelInitializer, biasInitializer: c.biasInitializer,
                                                   seed: seed, maxBatch: maxBatch),
                               estimator: c.estimator, variational: c.variational, trainingExamples: trainingExamples)
        case .affine(let a):
            try check(layer, planned: [a.outputSize])
            return weightLayer(WeightLayerSettings(name: layer.name, map: .dense(inputs: a.inputSize, outputs: a.outputSize),
                                                   activation: activationKind(a.activation),
                                                   kernelInitializer: a.kernelInitializer, biasInitializer: a.biasInitializer,
                                                   seed: seed, maxBatch: maxBatch),
                               estimator: a.estimator, variational: a.variational, trainingExamples: trainingExamples)
        }
    }

    /// The layer class of the estimator, chosen once: each reads straight through its forward and backward pass.
    static func weightLayer(_ settings: WeightLayerSettings, estimator: Estimator, variational: Variational?,
                            trainingExamples: Int) -> WeightLayer<S> {
        guard let variational else { return WeightLayer(settings) }
        let posterior = PosteriorSettings(variational, penaltyWeight: variational.penaltyWeight.resolved(trainingExamples: trainingExamples))
        switch estimator {
        case .deterministic:
            return WeightLayer(settings)
        case .reparameterization:
            return ReparameterizationLayer(settings, posterior: posterior)
        case .flipout:
            if let fusion = FlipoutFusion<S>(map: settings.map, signs: variational.signs, maxBatch: settings.maxBatch) {
                return FusedFlipoutLayer(settings, posterior: posterior, fusion: fusion)
            }
            return TwoProductFlipoutLayer(settings, posterior: posterior, perElement: variational.signs == .perElement)
        }
    }

    /// The one place where the runtime's shape arithmetic meets the validator's.
    static func check(_ layer: Layer, planned: [Int]) throws(PlanError) {
        guard planned == layer.outputShape else {
            throw PlanError.geometryMismatch(layer: layer.name, inferred: layer.outputShape, planned: planned)
        }
    }

    static func activationKind(_ a: Activation) -> ActivationKind? {
        switch a {
        case .linear: return nil
        case .relu: return .relu
        case .elu: return .elu
        case .tanh: return .tanh
        case .sigmoid: return .sigmoid
        case .softplus: return .softplus
        case .leakyRelu: return .leakyRelu(alpha: Activation.leakyReluSlope)
        }
    }

    /// Where the caller writes a batch of inputs, `[batch] + input.shape`, channels-last.
    public var input: UnsafeMutablePointer<S> { activations[0] }
    /// The last layer's output after `forward`.
    public var output: UnsafeMutablePointer<S> { activations[layers.count] }
    /// Where the caller writes d loss / d output before `backward`.
    public var outputGradient: UnsafeMutablePointer<S> { gradients[layers.count] }

    func activation(after layerIndex: Int) -> UnsafeMutablePointer<S> { activations[layerIndex + 1] }

    @_specialize(where S == Float) @_specialize(where S == Double)
    public func forward(batch: Int, noise: NoiseContext) {
        precondition(batch <= maxBatch, "batch \(batch) exceeds the plan's \(maxBatch)")
        for (i, layer) in layers.enumerated() where !layer.isIdentity {
            layer.forward(activations[i], activations[i + 1], batch: batch, noise: noise)
        }
    }

    /// Back-propagates `outputGradient`, adding into every parameter's gradient.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public func backward(batch: Int) {
        for i in stride(from: layers.count - 1, through: 0, by: -1) where !layers[i].isIdentity {
            layers[i].backward(x: activations[i], y: activations[i + 1], dy: gradients[i + 1],
                               dx: i == 0 ? nil : gradients[i], batch: batch)
        }
    }

    /// Σ penalty_weight · KL over the layers for the last forward pass; gradients scaled by `gradientScale` added.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public func divergence(gradientScale: Double = 1, accumulateGradients: Bool = true) -> Double {
        var total = 0.0
        for layer in layers { total += layer.divergence(gradientScale: gradientScale, accumulateGradients: accumulateGradients) }
        return total
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    public func zeroGradients() {
        for p in parameters { p.gradient.pointer.update(repeating: 0, count: p.count) }
    }

    public func parameter(named name: String) -> Parameter<S>? { parameters.first { $0.name == name } }

    /// Names the first layer whose output (or parameters) hold a NaN or an infinity, for the error message.
    func firstNonFiniteLayer(batch: Int) -> String? {
        for (i, layer) in layers.enumerated() {
            for p in layer.parameters {
                for j in 0..<p.count where !p.value.pointer[j].isFinite { return "\(layer.name) (parameter \(p.name))" }
            }
            let out = activations[i + 1]
            for j in 0..<(batch * layer.outputCount) where !out[j].isFinite { return layer.name }
        }
        return nil
    }
}

extension PaddingMode {
    /// The spec's padding as the runtime's geometry takes it.
    init(_ padding: Padding) {
        switch padding {
        case .same: self = .same
        case .valid: self = .valid
        }
    }
}
