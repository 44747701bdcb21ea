/// What a key's value may be. The lowering reads each key by these rules and `bayesnet schema` states the
/// same rules as JSON Schema, so the spec language's vocabulary is written down once, here and in `LayerCatalog`.
enum ValueKind: Sendable {
    /// The format version, exactly 1.
    case version
    /// An integer of at least `minimum`.
    case integer(minimum: Int)
    /// An integer from 0 to 2^64 - 1.
    case seed
    /// A finite number in `range`, written as a YAML number or a fraction such as `1/255`.
    case number(NumberRange)
    /// Any scalar, read as text (names, paths).
    case text
    /// One word of a fixed list.
    case choice([String], caseInsensitive: Bool)
    /// An integer of at least 1, or a list of them with one entry for all dimensions or one per dimension.
    case sizes
    /// A convolution's number of spatial dimensions, 1 to 3 (fixed by aliases such as `Conv2DFlipout`).
    case rank
    /// One example's shape: 1 to 4 sizes.
    case shape
    /// `auto` or a non-negative number.
    case penaltyWeight
    /// A mapping with these keys.
    case mapping([ArgumentName])
    /// A word, or a one-key mapping `word: {arguments}`.
    case named([NamedOption])
    /// Bundled data (`builtin`, `split`) or files (`format`, `x`, `y`, `scale`); held-out data may instead be
    /// `{fraction: f}` of the training data.
    case dataSource(heldOut: Bool)
    /// `true` or `false` (YAML 1.2 core schema).
    case boolean
    /// An axis as Keras counts it, the batch being axis 0: 1 to 4, or -4 to -1 from the end.
    case axis
    /// A layer name, or a list of them: one for most layers, at least two for `merge` layers (`Add`, `Concatenate`).
    case inputs(merge: Bool)
    /// The list of layers (`LayerCatalog`), where an item may also instantiate a block.
    case layers
    /// Block definitions by name (`SpecCatalog.block`).
    case blocks
    /// A block's parameters: names with their defaults (`null`: the instance must give it).
    case blockParameters
    /// A block's layers, whose argument values may be `$parameter` references.
    case blockLayers
    /// Arguments per layer type (`LayerCatalog`, without `name`).
    case defaults
}

enum NumberRange: Sendable {
    case any
    case positive
    case nonNegative
    /// From 0 to 1, both included.
    case probability
    /// From 0, included, to 1, excluded (decay rates, momentum).
    case unitInterval
    /// Above 0 and below 1 (fractions of data, decay factors).
    case openUnitInterval
}

/// One word of a `.named` value, with the arguments its mapping form takes (nil: it takes none).
struct NamedOption: Sendable {
    var name: String
    var arguments: [ArgumentName]?
    var doc: String

    init(_ name: String, arguments: [ArgumentName]? = nil, doc: String) {
        self.name = name
        self.arguments = arguments
        self.doc = doc
    }
}

extension [ArgumentName] {
    /// The default of number key `key`, which the lowering starts from: the catalog states each default once.
    func defaultNumber(_ key: String) -> Double {
        guard case .number(let text)? = first(where: { $0.canonical == key })?.defaultValue, let v = Double(text) else {
            preconditionFailure("the catalog gives `\(key)` no number default")
        }
        return v
    }
}

/// The spec language's keys outside the layers.
enum SpecCatalog {
    /// Top-level keys with this prefix are ignored, so they can hold anchors that layers repeat.
    static let freeKeyPrefix = "x-"

    static let topLevel = [
        ArgumentName("bayesnet", value: .version, required: true, doc: "The format version; only 1 exists."),
        ArgumentName("name", value: .text,
                     doc: "The model's name, used for its run folder: no `/`, `\\`, control characters, `.` or `..`. Default: the file name without `.yaml`."),
        ArgumentName("seed", value: .seed, doc: "Seed of every random stream; when absent a seed is drawn and printed."),
        ArgumentName("dtype", value: .choice(DType.allCases.map(\.rawValue), caseInsensitive: false), default: .string(DType.float32.rawValue),
                     doc: "Scalar type of all layers."),
        ArgumentName("input", value: .mapping(input), required: true, doc: "One example's shape and layout, e.g. `{shape: [8, 8, 1]}`."),
        ArgumentName("defaults", value: .defaults,
                     doc: "Arguments for every layer of a type, whichever alias it is written with (like functools.partial)."),
        ArgumentName("blocks", value: .blocks,
                     doc: "Named groups of layers with parameters, defined once and instantiated in `layers` as `- block_name: {name: ..., parameter: value}`."),
        ArgumentName("layers", value: .layers, required: true, doc: "The network: a non-empty list of layers, each `- Type` or `- Type: {arguments}`."),
        ArgumentName("likelihood", value: .named(likelihoods),
                     doc: "How the network's output explains the labels. Without it the network can be inspected and used for prediction, not trained."),
        ArgumentName("data", value: .mapping(data), doc: "Training and test data."),
        ArgumentName("train", value: .mapping(train), doc: "Training settings."),
        ArgumentName("evaluate", value: .mapping(evaluate), doc: "Evaluation settings."),
    ]

    /// One block definition.
    static let block = [
        ArgumentName("parameters", value: .blockParameters,
                     doc: "The block's parameters and their defaults (`null`: every instance must give it); a layer argument `$name` takes the instance's value."),
        ArgumentName("layers", value: .blockLayers, required: true,
                     doc: "The block's layers; `inputs: input` reads the instance's input, and the last layer is the instance's output."),
    ]

    static let input = [
        ArgumentName("shape", value: .shape, required: true,
                     doc: "One example's dimensions: up to 3 spatial dimensions, then channels (`[8, 8, 1]`, `[128, 2]`, `[4]`)."),
        ArgumentName("layout", value: .choice(Layout.allCases.map(\.rawValue), caseInsensitive: false), default: .string(Layout.channelsLast.rawValue),
                     doc: "Where the data (and `shape`) put channels; the network always runs channels-last."),
    ]

    static let data = [
        ArgumentName("train", value: .dataSource(heldOut: false), doc: "The training data."),
        ArgumentName("validation", value: .dataSource(heldOut: true),
                     doc: "Data measured after every epoch (validation_accuracy, validation_nll) and watched by early stopping; never trained on. `{fraction: 0.1}` holds out the last tenth of the training data."),
        ArgumentName("test", value: .dataSource(heldOut: false), doc: "The test data, evaluated after training."),
    ]

    /// A bundled dataset; no other data key goes with these.
    static let builtinData = [
        ArgumentName("builtin", value: .choice(BuiltinDataset.all.map(\.name), caseInsensitive: false), required: true,
                     doc: "A dataset bundled with bayesnet: `digits` (8x8 handwritten digits) or `mnist` (28x28 MNIST), 10 classes each."),
        ArgumentName("split", value: .choice(["train", "test"], caseInsensitive: false), doc: "Which part of it; default: the key (`train` or `test`)."),
    ]

    /// A share of the training data held out for validation.
    static let heldOutData = [
        ArgumentName("fraction", value: .number(.openUnitInterval), required: true,
                     doc: "The share of the training examples held out (the last ones, in stored order), above 0 and below 1."),
    ]

    /// Data in files; relative paths are relative to the spec's folder.
    static let fileData = [
        ArgumentName("format", value: .choice(DataFormat.allCases.map(\.rawValue), caseInsensitive: false), required: true, doc: "The files' format."),
        ArgumentName("x", value: .text, required: true, doc: "Path of the inputs."),
        ArgumentName("y", value: .text, doc: "Path of the labels or targets; may be left out for unlabelled input."),
        ArgumentName("scale", value: .number(.positive), doc: "Multiplies every input value, e.g. `1/255` for bytes."),
    ]

    static let train = [
        ArgumentName("epochs", value: .integer(minimum: 1), default: .int(TrainSpec().epochs), doc: "Passes over the training data."),
        ArgumentName("batch_size", value: .integer(minimum: 1), default: .int(TrainSpec().batchSize), doc: "Examples per training step."),
        ArgumentName("samples", value: .integer(minimum: 1), default: .int(TrainSpec().samples), doc: "Weight samples per training step."),
        ArgumentName("optimizer", value: .named(optimizers), default: .string("adam"), doc: "The optimizer and its settings."),
        ArgumentName("schedule", value: .named(schedules), default: .string("constant"),
                     doc: "How the learning rate changes over training, after an optional linear warm-up."),
        ArgumentName("kl_warmup_epochs", value: .integer(minimum: 0), default: .int(TrainSpec().klWarmupEpochs),
                     doc: "KL annealing: the KL term's weight rises linearly from 0 to 1 over this many epochs."),
        ArgumentName("gradient_block_size", value: .integer(minimum: 1),
                     doc: "Sum each minibatch's gradient over blocks of this many examples, in double precision: the run is then the same on any number of MPI ranks (ranks take whole blocks). Unset: one sum over the batch, faster."),
        ArgumentName("early_stopping", value: .mapping(earlyStopping),
                     doc: "Stop when the validation NLL stops improving, and evaluate the best epoch's weights; needs `data.validation`."),
    ]

    static let earlyStopping = [
        ArgumentName("patience", value: .integer(minimum: 1), default: .int(EarlyStopping().patience),
                     doc: "Epochs without improvement before training stops."),
        ArgumentName("min_delta", value: .number(.nonNegative), default: .double(EarlyStopping().minDelta),
                     doc: "The least fall of the validation NLL that counts as an improvement."),
    ]

    /// Every schedule takes a warm-up.
    static let warmup = ArgumentName("warmup_epochs", value: .integer(minimum: 0), default: .int(LearningRateSchedule().warmupEpochs),
                                     doc: "Epochs over which the learning rate rises linearly from 0.")

    static let schedules = [
        NamedOption("constant", arguments: [warmup], doc: "The optimizer's learning rate throughout."),
        NamedOption("cosine", arguments: [
            warmup,
            ArgumentName("final_fraction", value: .number(.probability), default: .double(0),
                         doc: "The learning rate at the last epoch, as a share of the optimizer's."),
        ], doc: "Half a cosine from the learning rate down to `final_fraction` of it at the last epoch."),
        NamedOption("step", arguments: [
            warmup,
            ArgumentName("every_epochs", value: .integer(minimum: 1), default: .int(10), doc: "Epochs between reductions."),
            ArgumentName("factor", value: .number(.openUnitInterval), default: .double(0.1), doc: "Multiplies the learning rate at each reduction."),
        ], doc: "The learning rate times `factor` every `every_epochs` epochs."),
        NamedOption("exponential", arguments: [
            warmup,
            ArgumentName("factor", value: .number(.openUnitInterval), default: .double(0.9), doc: "Multiplies the learning rate per epoch."),
        ], doc: "The learning rate times `factor` per epoch, applied smoothly at every step."),
    ]

    static let evaluate = [
        ArgumentName("samples", value: .integer(minimum: 1), default: .int(EvaluateSpec().samples),
                     doc: "Posterior samples averaged for the predictive distribution."),
        ArgumentName("batch_size", value: .integer(minimum: 1), default: .int(EvaluateSpec().batchSize), doc: "Examples per evaluation pass."),
        ArgumentName("mc_dropout", value: .boolean, default: .bool(EvaluateSpec().mcDropout),
                     doc: "Keep `Dropout` layers on in evaluation, so the predictive distribution averages over dropout masks (MC dropout)."),
    ]

    static let optimizers = [
        NamedOption("adam", arguments: [
            ArgumentName("learning_rate", value: .number(.positive), default: .double(Optimizer.adamDefaults.learningRate), doc: "Step size."),
            ArgumentName("beta_1", value: .number(.unitInterval), default: .double(Optimizer.adamDefaults.beta1), doc: "Decay of the first-moment estimate."),
            ArgumentName("beta_2", value: .number(.unitInterval), default: .double(Optimizer.adamDefaults.beta2), doc: "Decay of the second-moment estimate."),
            ArgumentName("epsilon", value: .number(.positive), default: .double(Optimizer.adamDefaults.epsilon), doc: "Added to the denominator, as Keras."),
        ], doc: "Adam, as Keras."),
        NamedOption("sgd", arguments: [
            ArgumentName("learning_rate", value: .number(.positive), default: .double(Optimizer.sgdDefaults.learningRate), doc: "Step size."),
            ArgumentName("momentum", value: .number(.unitInterval), default: .double(Optimizer.sgdDefaults.momentum), doc: "Momentum, as Keras."),
        ], doc: "Stochastic gradient descent, as Keras."),
    ]

    static let likelihoods = [
        NamedOption("categorical", doc: "Softmax cross-entropy on the network's output, one logit per class; it applies the softmax."),
        NamedOption("bernoulli", doc: "Sigmoid cross-entropy on the network's single output, for labels 0 and 1; it applies the sigmoid."),
        NamedOption("normal", arguments: [
            ArgumentName("scale", value: .number(.positive), default: .double(1), doc: "The fixed standard deviation around the network's output."),
        ], doc: "Gaussian around the network's output, for regression."),
    ]

    static let initializers = [
        NamedOption("glorot_uniform", doc: "Uniform with limit sqrt(6 / (fan_in + fan_out))."),
        NamedOption("glorot_normal", doc: "Truncated normal with scale sqrt(2 / (fan_in + fan_out))."),
        NamedOption("he_uniform", doc: "Uniform with limit sqrt(6 / fan_in)."),
        NamedOption("he_normal", doc: "Truncated normal with scale sqrt(2 / fan_in)."),
        NamedOption("zeros", doc: "All zeros."),
        NamedOption("random_normal", arguments: [
            ArgumentName("stddev", value: .number(.positive), default: .double(0.05), doc: "Standard deviation."),
        ], doc: "Normal around 0."),
    ]

    static let posteriors = [
        NamedOption("normal_diag", arguments: [
            ArgumentName("initial_scale", value: .number(.positive), default: .double(Posterior.defaultInitialScale),
                         doc: "The posterior scale at the start; scale = 1e-5 + softplus(rho)."),
        ], doc: "Independent normals over kernel and bias (TFP's make_kernel_bias_posterior_mvn_diag)."),
    ]

    static let priors = [
        NamedOption("spike_and_slab", doc: "TFP's default: 0.5 N(0, 1) + 0.5 N(0, 2000²) per weight."),
        NamedOption("normal", arguments: [
            ArgumentName("loc", value: .number(.any), default: .double(0), doc: "Mean."),
            ArgumentName("scale", value: .number(.positive), default: .double(1), doc: "Standard deviation."),
        ], doc: "Independent normals."),
        NamedOption("scale_mixture", arguments: [
            ArgumentName("pi", value: .number(.probability), default: .double(Prior.spikeAndSlabParts.pi), doc: "Weight of the first component."),
            ArgumentName("scale1", value: .number(.positive), default: .double(Prior.spikeAndSlabParts.scale1), doc: "Scale of the first component."),
            ArgumentName("scale2", value: .number(.positive), default: .double(Prior.spikeAndSlabParts.scale2), doc: "Scale of the second component."),
        ], doc: "pi N(0, scale1²) + (1 - pi) N(0, scale2²) per weight."),
    ]

    /// Keras and PyTorch words for keys that the spec language spells otherwise, too far apart for a typo.
    static let synonyms = [
        "lr": "learning_rate", "in_channels": "input_size", "in_features": "input_size",
        "out_channels": "output_size", "out_features": "output_size", "num_epochs": "epochs", "n_epochs": "epochs",
    ]

    /// Help for an unknown key that is a word from Keras or PyTorch; `spellings` are the keys of the mapping it is in.
    static func foreignHelp(_ word: String, among spellings: [String]) -> String? {
        switch word {
        case "loss", "criterion":
            let why = "the loss is the negative ELBO of the likelihood: `categorical` gives softmax cross-entropy, `normal` squared error"
            return spellings.contains("likelihood") ? "did you mean `likelihood`? The \(why.dropFirst(4))" : "write `likelihood` at the top level; \(why)"
        case "input_shape", "input_dim", "batch_input_shape":
            if spellings.contains("shape") { return "did you mean `shape`?" }
            return "the network's input shape is `input.shape` at the top level, e.g. `input: {shape: [28, 28, 1]}`"
        default:
            guard let key = synonyms[word], spellings.contains(key) else { return nil }
            return "did you mean `\(key)`?"
        }
    }

    /// The arguments of option `name` (empty when it takes none or is unknown).
    static func arguments(of name: String, in options: [NamedOption]) -> [ArgumentName] {
        options.first { $0.name == name }?.arguments ?? []
    }

    /// The words a `.choice` key takes.
    static func words(_ key: String, in keys: [ArgumentName]) -> [String] {
        guard case .choice(let words, _)? = keys.first(where: { $0.canonical == key })?.value else { return [] }
        return words
    }

    /// The option names, for messages and suggestions.
    static func names(_ options: [NamedOption]) -> [String] { options.map(\.name) }
}
