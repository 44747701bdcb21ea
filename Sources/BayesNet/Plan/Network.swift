import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// A plan disagrees with the spec it was built from. Validation infers every shape; the runtime's geometry
/// computes them again for its kernels, and the two must agree before anything runs.
public enum PlanError: Error, CustomStringConvertible, Sendable, Equatable {
    case geometryMismatch(layer: String, inferred: [Int], planned: [Int])

    public var description: String {
        switch self {
        case .geometryMismatch(let layer, let inferred, let planned):
            return "layer `\(layer)`: validation inferred an output of shape \(inferred), but the runtime's geometry gives \(planned)"
        }
    }
}

/// The execution plan of a spec: its layers in the spec's topological order, their parameters, and every
/// activation and gradient buffer sized once for the largest batch, so that forward and backward passes allocate
/// nothing.
///
/// Each layer's output is a slot (slot 0 is the network's input); a layer reads the slots of its `inputs`. A
/// Flatten, or a linear Activation, shares its input's slot. Activations are kept until the backward pass reads
/// them; gradient buffers are shared between slots whose gradients are never live at once (a stack needs two).
/// Where an output fans out, the first reader in backward order writes its gradient and the others add to it.
public final class Network<S: TensorScalar> {
    public let spec: ModelSpec
    public let seed: UInt64
    public let maxBatch: Int
    let layers: [NetworkLayer<S>]
    public let parameters: [Parameter<S>]
    /// Tensors the layers update themselves (batch normalization's moving averages), checkpointed with the
    /// parameters.
    public let state: [Parameter<S>]
    /// The slot each layer writes, and the slots it reads.
    private let outputSlot: [Int]
    private let inputSlots: [[Int]]
    /// Each layer's single input gradient: whether it is added to another reader's (through `fanOutScratch`).
    private let accumulatesInput: [Bool]
    /// Layers that write their inputs' gradients themselves (`Add`, `Concatenate`).
    private let readsSeveral: [Bool]
    /// Layers whose output nothing reads: its gradient is zero.
    private let outputUnread: [Bool]
    private let finalSlot: Int
    private let activations: [UnsafeMutablePointer<S>]
    /// nil for the network's input, whose gradient nobody needs.
    private let gradients: [UnsafeMutablePointer<S>?]
    private let fanOutScratch: UnsafeMutablePointer<S>?
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
        Runtime.selectCPULevel()
        var built: [NetworkLayer<S>] = []
        for layer in spec.layers {
            built.append(try Self.makeLayer(layer, seed: seed, trainingExamples: trainingExamples, maxBatch: self.maxBatch,
                                            mcDropout: spec.evaluate.mcDropout))
        }
        layers = built
        parameters = built.flatMap(\.parameters)
        state = built.flatMap(\.state)
        inputCount = spec.input.shape.reduce(1, *)
        outputCount = spec.outputShape.reduce(1, *)
        head = OutputHead(spec: spec)

        // Slots: the input, then each layer's output; an identity layer's output is its input's slot.
        var slotOfName: [String: Int] = [Layer.networkInput: 0]
        var slotCount = [inputCount]
        var outSlots: [Int] = [], inSlots: [[Int]] = []
        for (i, layer) in spec.layers.enumerated() {
            let names = layer.inputs.isEmpty ? [i == 0 ? Layer.networkInput : spec.layers[i - 1].name] : layer.inputs
            let reads = names.map { slotOfName[$0]! }
            inSlots.append(reads)
            let slot: Int
            if built[i].isIdentity {
                slot = reads[0]
            } else {
                slot = slotCount.count
                slotCount.append(built[i].outputCount)
            }
            outSlots.append(slot)
            slotOfName[layer.name] = slot
        }
        outputSlot = outSlots
        inputSlots = inSlots
        finalSlot = outSlots.last ?? 0

        // Backward time: layer i runs at L − 1 − i; the caller writes the output's gradient before, at −1.
        let count = built.count
        var firstWrite = [Int?](repeating: nil, count: slotCount.count)
        var producerTime = [Int?](repeating: nil, count: slotCount.count)
        firstWrite[finalSlot] = -1
        var accumulates = [Bool](repeating: false, count: count), mergeAccumulates: [Int: [Bool]] = [:]
        var fanOut = 0
        for i in stride(from: count - 1, through: 0, by: -1) where !built[i].isIdentity {
            let t = count - 1 - i
            producerTime[outSlots[i]] = t
            var flags: [Bool] = []
            for s in inSlots[i] {
                flags.append(firstWrite[s] != nil)
                if firstWrite[s] == nil { firstWrite[s] = t } else if s != 0 { fanOut = max(fanOut, slotCount[s]) }
            }
            mergeAccumulates[i] = flags
            accumulates[i] = flags[0]
        }
        accumulatesInput = accumulates
        outputUnread = outSlots.map { $0 != 0 && firstWrite[$0] == nil }

        var owned: [Buffer<S>] = []
        var acts: [UnsafeMutablePointer<S>] = []
        for n in slotCount {
            let a = Buffer<S>(count: self.maxBatch * n)
            owned.append(a)
            acts.append(a.pointer)
        }
        // Gradient buffers by liveness: a slot's gradient lives from its first write to its producer's backward.
        var grads = [UnsafeMutablePointer<S>?](repeating: nil, count: slotCount.count)
        var intervals: [(slot: Int, start: Int, end: Int)] = []
        for s in 1..<slotCount.count {
            let end = producerTime[s] ?? -1
            intervals.append((s, firstWrite[s] ?? end, end))
        }
        if finalSlot == 0 { intervals.append((0, -1, -1)) }
        intervals.sort { ($0.start, $0.slot) < ($1.start, $1.slot) }
        var pool: [(size: Int, freeAfter: Int, slots: [Int])] = []
        for iv in intervals {
            let size = self.maxBatch * slotCount[iv.slot]
            // A free buffer already large enough (the smallest such), else the largest free one, grown.
            let free = pool.indices.filter { pool[$0].freeAfter < iv.start }
            let k = free.filter { pool[$0].size >= size }.min { pool[$0].size < pool[$1].size }
                ?? free.max { pool[$0].size < pool[$1].size }
            if let k {
                pool[k].size = max(pool[k].size, size)
                pool[k].freeAfter = iv.end
                pool[k].slots.append(iv.slot)
            } else {
                pool.append((size, iv.end, [iv.slot]))
            }
        }
        for entry in pool {
            let g = Buffer<S>(count: entry.size)
            owned.append(g)
            for s in entry.slots { grads[s] = g.pointer }
        }
        if fanOut > 0 {
            let f = Buffer<S>(count: self.maxBatch * fanOut)
            owned.append(f)
            fanOutScratch = f.pointer
        } else {
            fanOutScratch = nil
        }
        activations = acts
        gradients = grads
        self.owned = owned
        readsSeveral = built.map { $0 is MergeLayer<S> }
        for (i, layer) in built.enumerated() {
            guard let merge = layer as? MergeLayer<S> else { continue }
            merge.bind(inputs: inSlots[i].map { UnsafePointer(acts[$0]) }, gradients: inSlots[i].map { grads[$0] },
                       accumulate: mergeAccumulates[i]!)
        }
    }

    static func makeLayer(_ layer: Layer, seed: UInt64, trainingExamples: Int, maxBatch: Int,
                          mcDropout: Bool) throws(PlanError) -> NetworkLayer<S> {
        let spatial = Array(layer.inputShape.dropLast())
        let count = layer.inputShape.reduce(1, *)
        switch layer.op {
        case .add:
            return AddLayer(name: layer.name, inputCount: count, outputCount: count, arity: layer.inputShapes.count)
        case .concatenate(let axis):
            return ConcatenateLayer(name: layer.name, inputShapes: layer.inputShapes, axis: axis,
                                    outputCount: layer.outputShape.reduce(1, *))
        case .batchNormalization(let op):
            return BatchNormalizationLayer(name: layer.name, inputShape: layer.inputShape, op: op, maxBatch: maxBatch)
        case .dropout(let rate):
            return DropoutLayer(name: layer.name, count: count, rate: rate, mcDropout: mcDropout)
        case .globalPool(let op):
            try check(layer, planned: [layer.inputShape.last ?? 1])
            return GlobalPoolLayer(name: layer.name, inputShape: layer.inputShape, isMax: op.kind == .max)
        case .activation(let a):
            guard let kind = activationKind(a) else { return FlattenLayer(name: layer.name, inputCount: count, outputCount: count) }
            return ActivationLayer(name: layer.name, count: count, kind: kind)
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
    public var output: UnsafeMutablePointer<S> { activations[finalSlot] }
    /// Where the caller writes d loss / d output before `backward`.
    public var outputGradient: UnsafeMutablePointer<S> { gradients[finalSlot]! }

    func activation(after layerIndex: Int) -> UnsafeMutablePointer<S> { activations[outputSlot[layerIndex]] }

    @_specialize(where S == Float) @_specialize(where S == Double)
    public func forward(batch: Int, noise: NoiseContext) {
        precondition(batch <= maxBatch, "batch \(batch) exceeds the plan's \(maxBatch)")
        for (i, layer) in layers.enumerated() where !layer.isIdentity {
            layer.forward(activations[inputSlots[i][0]], activations[outputSlot[i]], batch: batch, noise: noise)
        }
    }

    /// Gives every variational layer `count` slots of weights drawn ahead (slot 0 always exists).
    public func reserveWeightSamples(_ count: Int) {
        for layer in layers { layer.reserveWeightSamples(count) }
    }

    /// Draws every layer's per-step weights for `noise` into slot `slot`; forward passes with
    /// `noise.weightSample == slot` then reuse them, whatever their batch and example offset.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public func drawWeights(_ noise: NoiseContext, slot: Int) {
        for layer in layers { layer.drawWeights(noise, slot: slot) }
    }

    /// Back-propagates `outputGradient`, adding into every parameter's gradient.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public func backward(batch: Int) {
        for i in stride(from: layers.count - 1, through: 0, by: -1) where !layers[i].isIdentity {
            let layer = layers[i], source = inputSlots[i][0], out = outputSlot[i]
            // Zeroed here, not before the pass: the buffer may hold another slot's gradient until now.
            if outputUnread[i] { gradients[out]!.update(repeating: 0, count: batch * layer.outputCount) }
            let target = readsSeveral[i] ? nil : gradients[source]
            if let target, accumulatesInput[i], let scratch = fanOutScratch {
                layer.backward(x: activations[source], y: activations[out], dy: gradients[out]!, dx: scratch, batch: batch)
                Add.backward(dy: scratch, dx: target, count: batch * layer.inputCount, accumulate: true)
            } else {
                layer.backward(x: activations[source], y: activations[out], dy: gradients[out]!, dx: target, batch: batch)
            }
        }
    }

    /// Multiply-adds per example of the products a forward pass runs, or a training step's forward and backward
    /// passes together: the work done, a fused Flipout layer counting its one product.
    public func multiplyAddsPerExample(training: Bool) -> Int {
        var total = 0
        for (i, layer) in layers.enumerated() where !layer.isIdentity {
            total += layer.multiplyAdds(backward: false, inputGradient: false)
            if training {
                let inputGradient = !readsSeveral[i] && gradients[inputSlots[i][0]] != nil
                total += layer.multiplyAdds(backward: true, inputGradient: inputGradient)
            }
        }
        return total
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

    public func parameter(named name: String) -> Parameter<S>? { checkpointTensors.first { $0.name == name } }

    /// Every tensor a checkpoint holds: the parameters, then the state.
    public var checkpointTensors: [Parameter<S>] { parameters + state }

    /// Names the first layer whose output (or parameters) hold a NaN or an infinity, for the error message.
    func firstNonFiniteLayer(batch: Int) -> String? {
        for (i, layer) in layers.enumerated() {
            for p in layer.parameters {
                for j in 0..<p.count where !p.value.pointer[j].isFinite { return "\(layer.name) (parameter \(p.name))" }
            }
            let out = activations[outputSlot[i]]
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
