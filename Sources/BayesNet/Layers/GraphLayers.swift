import BayesNetFormats
import BayesNetRuntime
import BayesNetSpec

/// A layer that reads several inputs (`Add`, `Concatenate`). The network binds the inputs' activation and
/// gradient buffers once, when it plans them, so a pass hands the kernels planned pointer lists.
class MergeLayer<S: TensorScalar>: NetworkLayer<S> {
    /// The inputs' activations, in `inputs:` order.
    private(set) var inputPointers: UnsafeMutableBufferPointer<UnsafePointer<S>>
    /// Where each input's gradient goes (nil for the network's input, which needs none).
    private(set) var inputGradients: [UnsafeMutablePointer<S>?] = []
    /// Whether each input's gradient is added to what another reader of it already wrote.
    private(set) var accumulate: [Bool] = []

    init(name: String, inputCount: Int, outputCount: Int, arity: Int) {
        inputPointers = .allocate(capacity: arity)
        super.init(name: name, inputCount: inputCount, outputCount: outputCount)
    }

    deinit { inputPointers.deallocate() }

    func bind(inputs: [UnsafePointer<S>], gradients: [UnsafeMutablePointer<S>?], accumulate: [Bool]) {
        precondition(inputs.count == inputPointers.count && gradients.count == inputs.count && accumulate.count == inputs.count)
        for (j, p) in inputs.enumerated() { inputPointers[j] = p }
        inputGradients = gradients
        self.accumulate = accumulate
    }
}

/// Keras `Add`: the gradient of every input is dy.
final class AddLayer<S: TensorScalar>: MergeLayer<S> {
    @_specialize(where S == Float) @_specialize(where S == Double)
    override func forward(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        Add.forward(inputs: UnsafeBufferPointer(inputPointers), y: y, count: batch * outputCount)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func backward(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafeMutablePointer<S>,
                           dx: UnsafeMutablePointer<S>?, batch: Int) {
        for (j, g) in inputGradients.enumerated() {
            guard let g else { continue }
            Add.backward(dy: dy, dx: g, count: batch * outputCount, accumulate: accumulate[j])
        }
    }
}

/// Keras `Concatenate` along one axis of an example: each input is a matrix [outer, width] around the axis.
final class ConcatenateLayer<S: TensorScalar>: MergeLayer<S> {
    /// Rows per example: the product of the sizes before the axis.
    let outerPerExample: Int
    private let widths: UnsafeMutableBufferPointer<Int>
    private let offsets: [Int]
    private let total: Int

    init(name: String, inputShapes: [[Int]], axis: Int, outputCount: Int) {
        outerPerExample = inputShapes[0][..<axis].reduce(1, *)
        widths = .allocate(capacity: inputShapes.count)
        var offsets: [Int] = [], total = 0
        for (j, shape) in inputShapes.enumerated() {
            let w = shape[axis...].reduce(1, *)
            widths[j] = w
            offsets.append(total)
            total += w
        }
        self.offsets = offsets
        self.total = total
        super.init(name: name, inputCount: inputShapes[0].reduce(1, *), outputCount: outputCount,
                   arity: inputShapes.count)
    }

    deinit { widths.deallocate() }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func forward(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        Concatenate.forward(inputs: UnsafeBufferPointer(inputPointers), widths: UnsafeBufferPointer(widths), y: y,
                            outer: batch * outerPerExample)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func backward(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafeMutablePointer<S>,
                           dx: UnsafeMutablePointer<S>?, batch: Int) {
        for (j, g) in inputGradients.enumerated() {
            guard let g else { continue }
            Concatenate.backward(dy: dy, dx: g, outer: batch * outerPerExample, offset: offsets[j], width: widths[j],
                                 total: total, accumulate: accumulate[j])
        }
    }
}

/// Keras `GlobalAveragePooling` / `GlobalMaxPooling` of rank 1-3: every spatial position reduced per channel.
final class GlobalPoolLayer<S: TensorScalar>: NetworkLayer<S> {
    let isMax: Bool
    let positions: Int
    let channels: Int

    init(name: String, inputShape: [Int], isMax: Bool) {
        self.isMax = isMax
        channels = inputShape.last ?? 1
        positions = inputShape.dropLast().reduce(1, *)
        super.init(name: name, inputCount: positions * channels, outputCount: channels)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func forward(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        if isMax {
            GlobalPooling.maxForward(x: x, y: y, batch: batch, positions: positions, channels: channels)
        } else {
            GlobalPooling.averageForward(x: x, y: y, batch: batch, positions: positions, channels: channels)
        }
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func backward(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafeMutablePointer<S>,
                           dx: UnsafeMutablePointer<S>?, batch: Int) {
        guard let dx else { return }
        if isMax {
            GlobalPooling.maxBackward(x: x, dy: dy, dx: dx, batch: batch, positions: positions, channels: channels,
                                      accumulate: false)
        } else {
            GlobalPooling.averageBackward(dy: dy, dx: dx, batch: batch, positions: positions, channels: channels,
                                          accumulate: false)
        }
    }
}

/// An activation as a layer of its own (`Activation: linear` is planned as an identity and never built).
final class ActivationLayer<S: TensorScalar>: NetworkLayer<S> {
    let kind: ActivationKind

    init(name: String, count: Int, kind: ActivationKind) {
        self.kind = kind
        super.init(name: name, inputCount: count, outputCount: count)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func forward(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        Activations.forward(kind, x: x, y: y, count: batch * outputCount)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func backward(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafeMutablePointer<S>,
                           dx: UnsafeMutablePointer<S>?, batch: Int) {
        guard let dx else { return }
        Activations.backward(kind, x: x, y: y, dy: dy, dx: dx, count: batch * outputCount)
    }
}

/// Inverted dropout. On in training; in evaluation only with `evaluate.mc_dropout` (and not at the posterior
/// mean), where each posterior sample draws its own masks from the evaluation stream, keyed like every other
/// noise by seed, layer, step and global example index.
final class DropoutLayer<S: TensorScalar>: NetworkLayer<S> {
    let rate: Double
    let mcDropout: Bool
    let streams: NoiseStreams
    /// The forward pass's draw, which the backward pass replays.
    private var lastNoise = NoiseContext(seed: 0, step: 0)
    private var lastActive = false

    init(name: String, count: Int, rate: Double, mcDropout: Bool) {
        self.rate = rate
        self.mcDropout = mcDropout
        streams = NoiseStreams(layer: name)
        super.init(name: name, inputCount: count, outputCount: count)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func forward(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        lastNoise = noise
        lastActive = rate > 0 && (!noise.evaluation || (mcDropout && !noise.useMean))
        if lastActive {
            Dropout.forward(x: x, y: y, count: batch * outputCount, perExample: outputCount,
                            firstExample: noise.exampleOffset, rate: rate, stream: streams.stream(.dropout, noise))
        } else {
            y.update(from: x, count: batch * outputCount)
        }
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func backward(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafeMutablePointer<S>,
                           dx: UnsafeMutablePointer<S>?, batch: Int) {
        guard let dx else { return }
        if lastActive {
            Dropout.backward(dy: dy, dx: dx, count: batch * outputCount, perExample: outputCount,
                             firstExample: lastNoise.exampleOffset, rate: rate,
                             stream: streams.stream(.dropout, lastNoise), accumulate: false)
        } else {
            dx.update(from: dy, count: batch * outputCount)
        }
    }
}

/// Keras `BatchNormalization` over the channels: batch statistics in training (which also move the moving
/// averages), the moving averages in evaluation. γ and β are trainable parameters without a KL term; the moving
/// averages are state, kept in the checkpoint beside them.
final class BatchNormalizationLayer<S: TensorScalar>: NetworkLayer<S> {
    let channels: Int
    let positions: Int
    let momentum: Double
    let epsilon: Double
    /// tf.keras's fused layer (2-d and 3-d maps in float32) feeds the unbiased batch variance to the moving
    /// average; its unfused layer (dense and 1-d, and every float64 layer: the fused kernel has no float64) the
    /// biased one.
    let unbiasedVariance: Bool
    let gamma: Parameter<S>?
    let beta: Parameter<S>?
    let movingMean: Parameter<S>
    let movingVariance: Parameter<S>
    /// The forward pass's batch mean and biased variance, which the backward pass reads.
    private let statistics: Buffer<Double>
    private let scratch: Buffer<Double>
    private var lastTraining = false

    init(name: String, inputShape: [Int], op: BatchNormalizationOp, maxBatch: Int) {
        channels = inputShape.last ?? 1
        positions = inputShape.dropLast().reduce(1, *)
        momentum = op.momentum
        epsilon = op.epsilon
        unbiasedVariance = inputShape.count >= 3 && S.self == Float.self
        gamma = op.scale ? Parameter(name: name + ".gamma", shape: [channels]) : nil
        beta = op.center ? Parameter(name: name + ".beta", shape: [channels]) : nil
        movingMean = Parameter(name: name + ".moving_mean", shape: [channels])
        movingVariance = Parameter(name: name + ".moving_variance", shape: [channels])
        statistics = Buffer(count: 2 * channels)
        scratch = Buffer(count: BatchNormalization.scratchCount(rows: maxBatch * positions, channels: channels))
        super.init(name: name, inputCount: positions * channels, outputCount: positions * channels)
        // Keras's initial values: γ = 1, β = 0, moving mean 0, moving variance 1.
        if let gamma { gamma.value.pointer.update(repeating: 1, count: channels) }
        movingVariance.value.pointer.update(repeating: 1, count: channels)
    }

    override var parameters: [Parameter<S>] { [gamma, beta].compactMap { $0 } }
    override var state: [Parameter<S>] { [movingMean, movingVariance] }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func forward(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, batch: Int, noise: NoiseContext) {
        lastTraining = !noise.evaluation
        let rows = batch * positions
        guard rows > 0 else { return }
        let g = gamma.map { UnsafePointer($0.value.pointer) }, b = beta.map { UnsafePointer($0.value.pointer) }
        if lastTraining {
            BatchNormalization.trainingForward(x: x, y: y, gamma: g, beta: b, statistics: statistics.pointer, rows: rows,
                                               channels: channels, epsilon: epsilon, scratch: scratch.pointer)
            BatchNormalization.updateMovingStatistics(statistics: statistics.pointer, movingMean: movingMean.value.pointer,
                                                      movingVariance: movingVariance.value.pointer, rows: rows,
                                                      channels: channels, momentum: momentum,
                                                      unbiasedVariance: unbiasedVariance)
        } else {
            BatchNormalization.inferenceForward(x: x, y: y, gamma: g, beta: b, movingMean: movingMean.value.pointer,
                                                movingVariance: movingVariance.value.pointer, rows: rows,
                                                channels: channels, epsilon: epsilon, scratch: scratch.pointer)
        }
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    override func backward(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafeMutablePointer<S>,
                           dx: UnsafeMutablePointer<S>?, batch: Int) {
        let rows = batch * positions
        guard rows > 0 else { return }
        // Without an input gradient to write, dy takes it (in place is allowed, and dy may be overwritten).
        let out = dx ?? dy
        let g = gamma.map { UnsafePointer($0.value.pointer) }
        if lastTraining {
            BatchNormalization.trainingBackward(x: x, dy: dy, dx: out, gamma: g, statistics: statistics.pointer,
                                                dgamma: gamma?.gradient.pointer, dbeta: beta?.gradient.pointer,
                                                rows: rows, channels: channels, epsilon: epsilon, accumulate: false,
                                                accumulateParameters: true, scratch: scratch.pointer)
        } else {
            BatchNormalization.inferenceBackward(x: x, dy: dy, dx: out, gamma: g, movingMean: movingMean.value.pointer,
                                                 movingVariance: movingVariance.value.pointer,
                                                 dgamma: gamma?.gradient.pointer, dbeta: beta?.gradient.pointer,
                                                 rows: rows, channels: channels, epsilon: epsilon, accumulate: false,
                                                 accumulateParameters: true, scratch: scratch.pointer)
        }
    }
}
