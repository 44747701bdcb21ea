/// One layer of the network, with the shapes inferred for one example (channels-last, no batch dimension).
public struct Layer: Sendable, Equatable {
    /// Unique within the spec: the `name:` given, else `<type in snake case>_<index>` (e.g. `conv_0`).
    /// Checkpoint tensor names and RNG streams are keyed by it.
    public var name: String
    public var op: LayerOp
    /// The type as written (`Conv2DFlipout`), for messages and `inspect`.
    public var typeName: String
    public var inputShape: [Int]
    public var outputShape: [Int]
    /// Where the layer's list item was written.
    public var location: SourceLocation
    /// Where each argument's value was written (after defaults and anchors: the value's own place),
    /// by canonical argument name (`filter_shape`, `strides`, ...).
    public var argumentLocations: [String: SourceLocation]
    /// The layer's own `seed:` when the spec gives one; otherwise its random streams derive from the model seed.
    public var seed: UInt64?
    /// The names of the layers this one reads, in order; `Layer.networkInput` is the network's input.
    /// Empty means the previous layer (or the network's input for the first), as in a plain stack.
    public var inputs: [String]
    /// One shape per entry of `inputs` (`inputShape` is the first); several only for `Add` and `Concatenate`.
    public var inputShapes: [[Int]]

    /// The name by which `inputs:` refers to the network's input; no layer may take it.
    public static let networkInput = "input"

    public init(
        name: String, op: LayerOp, typeName: String, inputShape: [Int], outputShape: [Int],
        location: SourceLocation, argumentLocations: [String: SourceLocation] = [:], seed: UInt64? = nil,
        inputs: [String] = [], inputShapes: [[Int]]? = nil
    ) {
        self.name = name
        self.op = op
        self.typeName = typeName
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.location = location
        self.argumentLocations = argumentLocations
        self.seed = seed
        self.inputs = inputs
        self.inputShapes = inputShapes ?? [inputShape]
    }
}

public enum LayerOp: Sendable, Equatable {
    case convolution(ConvolutionOp)
    case affine(AffineOp)
    case pool(PoolOp)
    case flatten
    /// Element-wise sum of inputs of one shape (Keras `Add`).
    case add
    /// Inputs joined along `axis`, an index into one example's shape (channels-last, no batch dimension).
    case concatenate(axis: Int)
    case batchNormalization(BatchNormalizationOp)
    /// Zeroes each value with probability `rate` in training (scaling the rest by 1 / (1 - rate)); off in
    /// evaluation unless `evaluate.mc_dropout` is set.
    case dropout(rate: Double)
    /// Reduces every spatial dimension, keeping the channels: `[..., C]` to `[C]`.
    case globalPool(GlobalPoolOp)
    /// An activation as a layer of its own.
    case activation(Activation)

    /// Ops that only a graph-capable plan runs (everything beyond a plain stack's layers).
    public var isGraphOp: Bool {
        switch self {
        case .convolution, .affine, .pool, .flatten: return false
        case .add, .concatenate, .batchNormalization, .dropout, .globalPool, .activation: return true
        }
    }
}

/// Keras `BatchNormalization` over the channels (the last axis): batch statistics in training, the moving
/// averages in evaluation.
public struct BatchNormalizationOp: Sendable, Equatable {
    /// Channels normalized (the input's last dimension).
    public var channels: Int
    public var momentum: Double
    public var epsilon: Double
    /// Whether a learned offset `beta` is added.
    public var center: Bool
    /// Whether a learned factor `gamma` multiplies.
    public var scale: Bool

    /// Keras's defaults, which the spec language takes where a setting is absent.
    public static let defaults = (momentum: 0.99, epsilon: 1e-3, center: true, scale: true)

    public init(channels: Int, momentum: Double = defaults.momentum, epsilon: Double = defaults.epsilon,
                center: Bool = defaults.center, scale: Bool = defaults.scale) {
        self.channels = channels
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
    }
}

/// Keras `GlobalAveragePooling{1,2,3}D` / `GlobalMaxPooling{1,2,3}D`.
public struct GlobalPoolOp: Sendable, Equatable {
    public var kind: PoolOp.Kind
    /// Spatial dimensions of the input, 1 to 3.
    public var rank: Int

    public init(kind: PoolOp.Kind, rank: Int) {
        self.kind = kind
        self.rank = rank
    }
}

/// How a layer's weights are treated.
public enum Estimator: String, Sendable, Equatable, Codable {
    /// Posterior mean plus one sign-flipped perturbation per call (Wen et al., 2018).
    case flipout
    /// One joint weight sample per call, shared by the batch.
    case reparameterization
    /// Plain point-estimate weights.
    case deterministic
}

/// `tfp.experimental.nn.ConvolutionVariationalFlipout` and its siblings. All per-dimension lists have `rank` entries.
public struct ConvolutionOp: Sendable, Equatable {
    public var rank: Int
    public var inputSize: Int
    public var outputSize: Int
    public var filterShape: [Int]
    public var strides: [Int]
    public var dilations: [Int]
    public var padding: Padding
    public var estimator: Estimator
    public var activation: Activation
    public var kernelInitializer: Initializer
    public var biasInitializer: Initializer
    /// Present for `flipout` and `reparameterization`, absent for `deterministic`.
    public var variational: Variational?

    public init(
        rank: Int, inputSize: Int, outputSize: Int, filterShape: [Int], strides: [Int], dilations: [Int],
        padding: Padding, estimator: Estimator, activation: Activation, kernelInitializer: Initializer,
        biasInitializer: Initializer, variational: Variational?
    ) {
        self.rank = rank
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.filterShape = filterShape
        self.strides = strides
        self.dilations = dilations
        self.padding = padding
        self.estimator = estimator
        self.activation = activation
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
        self.variational = variational
    }

    /// Kernel shape, TensorFlow layout: `filter_shape + [in, out]`.
    public var kernelShape: [Int] { filterShape + [inputSize, outputSize] }
}

/// `tfp.experimental.nn.AffineVariationalFlipout` and its siblings (Keras `Dense*`).
public struct AffineOp: Sendable, Equatable {
    public var inputSize: Int
    public var outputSize: Int
    public var estimator: Estimator
    public var activation: Activation
    public var kernelInitializer: Initializer
    public var biasInitializer: Initializer
    public var variational: Variational?

    public init(
        inputSize: Int, outputSize: Int, estimator: Estimator, activation: Activation,
        kernelInitializer: Initializer, biasInitializer: Initializer, variational: Variational?
    ) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.estimator = estimator
        self.activation = activation
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
        self.variational = variational
    }

    /// Kernel shape `[in, out]`.
    public var kernelShape: [Int] { [inputSize, outputSize] }
}

public struct PoolOp: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, Codable { case max, average }
    public var kind: Kind
    /// Inferred from the input: spatial dimensions of the input.
    public var rank: Int
    public var poolSize: [Int]
    public var strides: [Int]
    public var padding: Padding

    public init(kind: Kind, rank: Int, poolSize: [Int], strides: [Int], padding: Padding) {
        self.kind = kind
        self.rank = rank
        self.poolSize = poolSize
        self.strides = strides
        self.padding = padding
    }
}

public enum Padding: String, Sendable, Equatable, Codable, CaseIterable {
    case same = "SAME"
    case valid = "VALID"
}

public enum Activation: String, Sendable, Equatable, Codable, CaseIterable {
    case linear, relu, elu, tanh, sigmoid, softplus
    case leakyRelu = "leaky_relu"

    /// `leaky_relu`'s slope below zero: tf.nn.leaky_relu's default, which Keras's `activation="leaky_relu"` uses.
    public static let leakyReluSlope = 0.2
}

public enum Initializer: Sendable, Equatable {
    case glorotUniform, glorotNormal, heUniform, heNormal, zeros
    case randomNormal(stddev: Double)
}

/// Settings of a variational layer (posterior, prior, KL weight, how outputs are drawn).
public struct Variational: Sendable, Equatable {
    public var posterior: Posterior
    public var prior: Prior
    public var posteriorValue: PosteriorValue
    public var penaltyWeight: PenaltyWeight
    /// Flipout only: how the random signs are shared.
    public var signs: SignSharing

    public init(
        posterior: Posterior = .normalDiag(initialScale: Posterior.defaultInitialScale), prior: Prior = .spikeAndSlab,
        posteriorValue: PosteriorValue = .sample, penaltyWeight: PenaltyWeight = .auto,
        signs: SignSharing = .perChannel
    ) {
        self.posterior = posterior
        self.prior = prior
        self.posteriorValue = posteriorValue
        self.penaltyWeight = penaltyWeight
        self.signs = signs
    }
}

public enum Posterior: Sendable, Equatable {
    /// Independent normals: loc, and scale = 1e-5 + softplus(rho), rho set so that the scale starts at `initialScale`.
    case normalDiag(initialScale: Double)

    /// The initial scale when a spec gives none: small, so a new network starts close to its deterministic twin.
    public static let defaultInitialScale = 1e-3
}

public enum Prior: Sendable, Equatable {
    case normal(loc: Double, scale: Double)
    /// `pi`·N(0, scale1²) + (1 − pi)·N(0, scale2²) per weight.
    case scaleMixture(pi: Double, scale1: Double, scale2: Double)

    /// TFP's `make_kernel_bias_prior_spike_and_slab`: 0.5·N(0, 1) + 0.5·N(0, 2000²); also the defaults of a
    /// `scale_mixture` prior.
    public static let spikeAndSlabParts = (pi: 0.5, scale1: 1.0, scale2: 2000.0)
    public static let spikeAndSlab = Prior.scaleMixture(pi: spikeAndSlabParts.pi, scale1: spikeAndSlabParts.scale1,
                                                        scale2: spikeAndSlabParts.scale2)
}

public enum PosteriorValue: String, Sendable, Equatable, Codable, CaseIterable {
    case sample, mean
}

public enum PenaltyWeight: Sendable, Equatable {
    /// 1 / number of training examples, resolved once the data is known.
    case auto
    case value(Double)

    /// The weight to use given the number of training examples.
    public func resolved(trainingExamples: Int) -> Double {
        switch self {
        case .auto: return trainingExamples > 0 ? 1 / Double(trainingExamples) : 0
        case .value(let w): return w
        }
    }
}

/// Flipout's random signs: one per (example, channel) as in the paper and `tfp.layers`, or one per
/// element as `tfp.experimental.nn` draws them.
public enum SignSharing: String, Sendable, Equatable, Codable, CaseIterable {
    case perChannel = "per_channel"
    case perElement = "per_element"
}
