#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The typed intermediate representation of a spec: defaults applied, aliases resolved,
/// shapes inferred. Produced only by `SpecLoader`, so a value of this type has passed validation.
public struct ModelSpec: Sendable, Equatable {
    /// The format version (`bayesnet: 1`).
    public var version: Int
    public var name: String
    /// `nil` when the spec does not fix one; the interpreter then draws and prints one.
    public var seed: UInt64?
    public var dtype: DType
    public var input: InputSpec
    public var layers: [Layer]
    /// `nil` for a plain network that can be inspected and used for prediction but not trained.
    public var likelihood: Likelihood?
    public var data: DataSpec
    public var train: TrainSpec
    public var evaluate: EvaluateSpec
    /// The file the spec was read from (or the name given for an in-memory string) and its text.
    public var source: SpecSource
    /// Where each top-level key was written, by its canonical name (`seed`, `input`, `train`, ...).
    public var locations: [String: SourceLocation]

    public init(
        version: Int, name: String, seed: UInt64?, dtype: DType, input: InputSpec, layers: [Layer],
        likelihood: Likelihood?, data: DataSpec, train: TrainSpec, evaluate: EvaluateSpec,
        source: SpecSource, locations: [String: SourceLocation]
    ) {
        self.version = version
        self.name = name
        self.seed = seed
        self.dtype = dtype
        self.input = input
        self.layers = layers
        self.likelihood = likelihood
        self.data = data
        self.train = train
        self.evaluate = evaluate
        self.source = source
        self.locations = locations
    }

    /// A data file path and where its scalar was written, so a copy of the spec can rewrite it.
    public struct PathSpan: Sendable, Equatable {
        public var path: String
        public var start: SourceLocation
        public var end: SourceLocation
    }

    /// Every data file path of `data:`, in the order written.
    public var dataPaths: [PathSpan] = []
    /// Where each entry of `data:` was written, by its key (`train`, `test`), for diagnostics about its files.
    public var dataLocations: [String: SourceLocation] = [:]

    /// The network's output shape for one example (the last layer's, or the input's when there are no layers).
    /// Layers are kept in a topological order that ends with the output layer.
    public var outputShape: [Int] { layers.last?.outputShape ?? input.shape }

    /// The first layer that makes the network more than a plain stack (which the TFP export writes as a
    /// `tf_keras.Sequential`, and anything else with the functional API): one of the graph ops, or one that reads
    /// anything but the layer before it. Nil for a stack.
    public var firstGraphLayer: Layer? {
        for (i, layer) in layers.enumerated() {
            if layer.op.isGraphOp { return layer }
            let previous = i == 0 ? Layer.networkInput : layers[i - 1].name
            if !layer.inputs.isEmpty && layer.inputs != [previous] { return layer }
        }
        return nil
    }

    /// Whether every layer reads the one before it, so that `inspect` need not show the edges.
    public var isChain: Bool {
        for (i, layer) in layers.enumerated() {
            let previous = i == 0 ? Layer.networkInput : layers[i - 1].name
            if !layer.inputs.isEmpty && layer.inputs != [previous] { return false }
        }
        return true
    }
}

public struct SpecSource: Sendable, Equatable {
    /// The path as given (used in diagnostics), or a name such as `<string>`.
    public var path: String
    public var text: String
    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}

public enum DType: String, Sendable, Equatable, Codable, CaseIterable {
    case float32, float64
}

public struct InputSpec: Sendable, Equatable {
    /// One example's shape, always channels-last here (spatial dims then channels),
    /// whatever layout the data is stored in.
    public var shape: [Int]
    /// How input arrays are laid out on disk / in `predict` input; the runtime always works channels-last.
    public var layout: Layout
    public init(shape: [Int], layout: Layout = .channelsLast) {
        self.shape = shape
        self.layout = layout
    }
}

public enum Layout: String, Sendable, Equatable, Codable, CaseIterable {
    case channelsLast = "channels_last"
    case channelsFirst = "channels_first"
}

public enum Likelihood: Sendable, Equatable {
    /// Softmax cross-entropy on logits; one logit per class.
    case categorical
    /// Gaussian with a fixed scale; the network's output is the mean.
    case normal(scale: Double)
    /// Sigmoid cross-entropy on one logit per example; labels are 0 or 1.
    case bernoulli
}

extension ModelSpec {
    /// The number of classes the labels index: the logits of a categorical model, 2 for a Bernoulli one;
    /// nil for regression (targets, not labels) and for a model without a likelihood.
    public var labelClasses: Int? {
        switch likelihood {
        case .categorical?: return outputShape.reduce(1, *)
        case .bernoulli?: return 2
        case .normal?, nil: return nil
        }
    }
}

public struct DataSpec: Sendable, Equatable {
    public var train: DataSource?
    /// Data held out to measure each epoch and to stop early: measured, never trained on.
    public var validation: ValidationSource?
    public var test: DataSource?
    public init(train: DataSource? = nil, validation: ValidationSource? = nil, test: DataSource? = nil) {
        self.train = train
        self.validation = validation
        self.test = test
    }
}

public enum ValidationSource: Sendable, Equatable {
    /// The last `fraction` of the training examples, in their stored order (Keras's `validation_split`).
    case fraction(Double)
    /// Data of its own.
    case source(DataSource)
}

extension ValidationSource {
    /// How many of `total` training examples are trained on when the last `fraction` is held out.
    public static func trainedExamples(of total: Int, holdingOut fraction: Double) -> Int {
        Int(Double(total) * (1 - fraction))
    }
}

public enum DataSource: Sendable, Equatable {
    /// A dataset shipped inside the package (`digits`), with its split (`train` / `test`).
    case builtin(name: String, split: String)
    /// Files on disk. Paths are as written; relative ones are relative to the spec file's folder
    /// (see `ModelSpec.resolve(path:)`). `y` may be absent for unlabeled prediction input.
    case files(format: DataFormat, x: String, y: String?, scale: Double?)
}

public enum DataFormat: String, Sendable, Equatable, Codable, CaseIterable {
    case idx, npy, csv
}

public struct TrainSpec: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: Optimizer
    /// Monte Carlo samples of the weights per training step.
    public var samples: Int
    /// How the optimizer's learning rate changes over training.
    public var schedule: LearningRateSchedule
    /// The KL term's weight rises linearly from 0 to 1 over this many epochs (0: full weight from the start).
    public var klWarmupEpochs: Int
    /// Stop when the validation NLL has not improved for a while; nil: train every epoch.
    public var earlyStopping: EarlyStopping?
    /// Examples per gradient block: each minibatch's gradient is summed block by block in Double, so that it
    /// does not depend on how many processes share the batch. nil: one float sum over the batch (faster).
    public var gradientBlockSize: Int?
    public init(epochs: Int = 10, batchSize: Int = 32, optimizer: Optimizer = .adam(), samples: Int = 1,
                schedule: LearningRateSchedule = LearningRateSchedule(), klWarmupEpochs: Int = 0,
                earlyStopping: EarlyStopping? = nil, gradientBlockSize: Int? = nil) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.samples = samples
        self.schedule = schedule
        self.klWarmupEpochs = klWarmupEpochs
        self.earlyStopping = earlyStopping
        self.gradientBlockSize = gradientBlockSize
    }
}

/// The learning rate over training, as a multiple of the optimizer's: a linear warm-up from 0 over
/// `warmupEpochs`, then `kind`'s curve over the remaining epochs. Evaluated per step at fractional epochs.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case constant
        /// Half a cosine from 1 down to `finalFraction`.
        case cosine(finalFraction: Double)
        /// Multiplied by `factor` every `everyEpochs` epochs.
        case step(everyEpochs: Int, factor: Double)
        /// Multiplied by `factor` per epoch, continuously.
        case exponential(factor: Double)
    }
    public var kind: Kind
    public var warmupEpochs: Int
    public init(kind: Kind = .constant, warmupEpochs: Int = 0) {
        self.kind = kind
        self.warmupEpochs = warmupEpochs
    }

    /// The multiple of the learning rate at `epoch` (fractional: steps done / steps per epoch) of `epochs`.
    public func factor(epoch: Double, of epochs: Int) -> Double {
        let warm = Double(warmupEpochs)
        if epoch < warm { return (epoch + 1e-12) / warm }
        let t = epoch - warm
        switch kind {
        case .constant: return 1
        case .cosine(let final):
            let span = max(Double(epochs) - warm, 1e-12)
            return final + (1 - final) * 0.5 * (1 + cos(Double.pi * min(t / span, 1)))
        case .step(let every, let factor): return pow(factor, (t / Double(every)).rounded(.down))
        case .exponential(let factor): return pow(factor, t)
        }
    }
}

/// Keras's EarlyStopping on the validation NLL, with the best weights restored for the final evaluation.
public struct EarlyStopping: Sendable, Equatable {
    /// Epochs without an improvement of at least `minDelta` before training stops.
    public var patience: Int
    public var minDelta: Double
    public init(patience: Int = 5, minDelta: Double = 0) {
        self.patience = patience
        self.minDelta = minDelta
    }
}

public enum Optimizer: Sendable, Equatable {
    case adam(learningRate: Double = Optimizer.adamDefaults.learningRate, beta1: Double = Optimizer.adamDefaults.beta1,
              beta2: Double = Optimizer.adamDefaults.beta2, epsilon: Double = Optimizer.adamDefaults.epsilon)
    case sgd(learningRate: Double = Optimizer.sgdDefaults.learningRate, momentum: Double = Optimizer.sgdDefaults.momentum)

    /// Keras's defaults; the spec language (and its schema) takes these where a setting is absent.
    public static let adamDefaults = (learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7)
    public static let sgdDefaults = (learningRate: 0.01, momentum: 0.0)
}

public struct EvaluateSpec: Sendable, Equatable {
    /// Posterior samples averaged for the predictive distribution.
    public var samples: Int
    public var batchSize: Int
    /// Keeps `Dropout` layers on in evaluation, so the predictive averages over dropout masks (Gal & Ghahramani, 2016).
    public var mcDropout: Bool
    public init(samples: Int = 50, batchSize: Int = 256, mcDropout: Bool = false) {
        self.samples = samples
        self.batchSize = batchSize
        self.mcDropout = mcDropout
    }
}
