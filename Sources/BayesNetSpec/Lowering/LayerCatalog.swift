/// The layer types the spec language knows, their Keras aliases, and the arguments each takes.
enum LayerFamily: Equatable {
    case convolution(Estimator)
    case affine(Estimator)
    case pool(PoolOp.Kind)
    case flatten
    case add
    case concatenate
    case batchNormalization
    case dropout
    case globalPool(PoolOp.Kind)
    case activation

    /// Layers that read several inputs (`inputs:` lists at least two).
    var merges: Bool { self == .add || self == .concatenate }
}

struct LayerType {
    /// The TFP name every alias resolves to (`ConvolutionVariationalFlipout`).
    var canonical: String
    var family: LayerFamily
    /// Set by aliases such as `Conv2DFlipout` (convolution rank) or `MaxPool2D` (pooling rank).
    var fixedRank: Int?
}

enum LayerCatalog {
    static let canonicalNames = [
        "ConvolutionVariationalFlipout", "ConvolutionVariationalReparameterization", "Convolution",
        "AffineVariationalFlipout", "AffineVariationalReparameterization", "Affine", "MaxPool", "AvgPool", "Flatten",
        "Add", "Concatenate", "BatchNormalization", "Dropout", "GlobalAveragePooling", "GlobalMaxPooling", "Activation",
    ]

    static let types: [String: LayerType] = {
        var t: [String: LayerType] = [:]
        func add(_ name: String, _ canonical: String, _ family: LayerFamily, _ rank: Int? = nil) {
            t[name] = LayerType(canonical: canonical, family: family, fixedRank: rank)
        }
        let cf = "ConvolutionVariationalFlipout", cr = "ConvolutionVariationalReparameterization", cd = "Convolution"
        add(cf, cf, .convolution(.flipout))
        add(cr, cr, .convolution(.reparameterization))
        add(cd, cd, .convolution(.deterministic))
        for r in 1...3 {
            add("Conv\(r)DFlipout", cf, .convolution(.flipout), r)
            add("Convolution\(r)DFlipout", cf, .convolution(.flipout), r)
            add("Conv\(r)DReparameterization", cr, .convolution(.reparameterization), r)
            add("Convolution\(r)DReparameterization", cr, .convolution(.reparameterization), r)
            add("Conv\(r)D", cd, .convolution(.deterministic), r)
            add("Convolution\(r)D", cd, .convolution(.deterministic), r)
            add("MaxPool\(r)D", "MaxPool", .pool(.max), r)
            add("MaxPooling\(r)D", "MaxPool", .pool(.max), r)
            add("AvgPool\(r)D", "AvgPool", .pool(.average), r)
            add("AveragePooling\(r)D", "AvgPool", .pool(.average), r)
            add("GlobalAveragePooling\(r)D", "GlobalAveragePooling", .globalPool(.average), r)
            add("GlobalAvgPool\(r)D", "GlobalAveragePooling", .globalPool(.average), r)
            add("GlobalMaxPooling\(r)D", "GlobalMaxPooling", .globalPool(.max), r)
            add("GlobalMaxPool\(r)D", "GlobalMaxPooling", .globalPool(.max), r)
        }
        let af = "AffineVariationalFlipout", ar = "AffineVariationalReparameterization", ad = "Affine"
        add(af, af, .affine(.flipout))
        add("DenseFlipout", af, .affine(.flipout))
        add(ar, ar, .affine(.reparameterization))
        add("DenseReparameterization", ar, .affine(.reparameterization))
        add(ad, ad, .affine(.deterministic))
        add("Dense", ad, .affine(.deterministic))
        add("MaxPool", "MaxPool", .pool(.max))
        add("AvgPool", "AvgPool", .pool(.average))
        add("Flatten", "Flatten", .flatten)
        add("Add", "Add", .add)
        add("Concatenate", "Concatenate", .concatenate)
        add("BatchNormalization", "BatchNormalization", .batchNormalization)
        add("Dropout", "Dropout", .dropout)
        add("GlobalAveragePooling", "GlobalAveragePooling", .globalPool(.average))
        add("GlobalMaxPooling", "GlobalMaxPooling", .globalPool(.max))
        add("Activation", "Activation", .activation)
        return t
    }()

    static let allNames: [String] = types.keys.sorted()

    /// One line for people: what a layer type is, and for an alias which TFP layer it stands for.
    static func doc(_ name: String) -> String {
        guard let t = types[name] else { return "" }
        func weights(_ e: Estimator) -> String {
            switch e {
            case .flipout: return "variational weights, Flipout estimator"
            case .reparameterization: return "variational weights, one weight sample per call (reparameterization)"
            case .deterministic: return "plain weights"
            }
        }
        var text: String
        switch t.family {
        case .convolution(let e): text = "Convolution with \(weights(e))"
        case .affine(let e): text = "Affine (dense) layer with \(weights(e)); needs a flat input"
        case .pool(.max): text = "Max pooling"
        case .pool(.average): text = "Average pooling"
        case .flatten: text = "Flattens its input to one dimension"
        case .add: text = "Element-wise sum of two or more inputs of one shape"
        case .concatenate: text = "Joins two or more inputs along one axis (by default the channels)"
        case .batchNormalization: text = "Batch normalization over the channels: batch statistics in training, moving averages in evaluation"
        case .dropout: text = "Dropout: zeroes values at random in training (and in evaluation with `evaluate: {mc_dropout: true}`)"
        case .globalPool(.max): text = "Global max pooling: the largest value per channel"
        case .globalPool(.average): text = "Global average pooling: the mean per channel"
        case .activation: text = "An activation function as a layer of its own"
        }
        if let r = t.fixedRank { text += ", rank \(r)" }
        if name != t.canonical { text += "; alias of `\(t.canonical)`" }
        return text + "."
    }

    static let geometry = [
        ArgumentName("filter_shape", "kernel_size", value: .sizes,
                     doc: "Filter size per spatial dimension: one integer for all, or one per dimension. Required, here or in `defaults`."),
        ArgumentName("rank", value: .rank, default: .int(2),
                     doc: "Number of spatial dimensions (1, 2 or 3); an alias such as `Conv1DFlipout` fixes it."),
        ArgumentName("strides", value: .sizes, default: .int(1), doc: "Step per spatial dimension: one integer for all, or one per dimension."),
        ArgumentName("padding", value: .choice(Padding.allCases.map(\.rawValue), caseInsensitive: true), default: .string("VALID"),
                     doc: "`VALID` (no padding) or `SAME` (output size ceil(input / stride)), in any case, as TensorFlow."),
        ArgumentName("dilations", "dilation_rate", value: .sizes, default: .int(1),
                     doc: "Dilation per spatial dimension; above 1 only together with strides of 1."),
    ]
    static let weights = [
        ArgumentName("input_size", value: .integer(minimum: 1),
                     doc: "Input channels (features for an affine layer); inferred, and checked when given. The network's input shape is `input.shape` at the top level."),
        ArgumentName("activation_fn", "activation", value: .choice(Activation.allCases.map(\.rawValue), caseInsensitive: false),
                     default: .string(Activation.linear.rawValue), doc: "Applied to the layer's output; `leaky_relu` has slope \(Activation.leakyReluSlope). The categorical likelihood applies softmax itself."),
        ArgumentName("kernel_initializer", value: .named(SpecCatalog.initializers), default: .string("glorot_uniform"),
                     doc: "Initial kernel values (for a variational layer: the posterior's initial loc)."),
        ArgumentName("bias_initializer", value: .named(SpecCatalog.initializers), default: .string("zeros"),
                     doc: "Initial bias values (for a variational layer: the posterior's initial loc)."),
        ArgumentName("seed", value: .seed, doc: "The layer's own seed; by default its random streams derive from the spec's `seed`."),
        ArgumentName("dtype", value: .choice(DType.allCases.map(\.rawValue), caseInsensitive: false),
                     doc: "Must equal the spec's `dtype`: all layers use one."),
    ]
    static let variational = [
        ArgumentName("posterior", "make_posterior_fn", value: .named(SpecCatalog.posteriors), default: .string("normal_diag"),
                     doc: "The weights' variational posterior."),
        ArgumentName("prior", "make_prior_fn", value: .named(SpecCatalog.priors), default: .string("spike_and_slab"),
                     doc: "The weights' prior, against which the KL divergence is taken."),
        ArgumentName("posterior_value", "posterior_value_fn", value: .choice(PosteriorValue.allCases.map(\.rawValue), caseInsensitive: false),
                     default: .string(PosteriorValue.sample.rawValue), doc: "Whether a forward pass draws weights (`sample`) or uses the posterior mean (`mean`)."),
        ArgumentName("penalty_weight", value: .penaltyWeight, default: .string("auto"),
                     doc: "Weight of this layer's KL divergence in the loss: `auto` (1 / training examples), a number or a fraction such as `1/60000`."),
    ]
    static let flipout = [
        ArgumentName("signs", value: .choice(SignSharing.allCases.map(\.rawValue), caseInsensitive: false),
                     default: .string(SignSharing.perChannel.rawValue),
                     doc: "Flipout's random signs: one per example and channel (`per_channel`, as the paper and `tfp.layers`) or per element (as `tfp.experimental.nn`)."),
    ]
    static let pooling = [
        ArgumentName("pool_size", value: .sizes, default: .int(2), doc: "Window size per spatial dimension: one integer for all, or one per dimension."),
        ArgumentName("strides", value: .sizes, doc: "Step per spatial dimension; by default the window size."),
        ArgumentName("padding", value: .choice(Padding.allCases.map(\.rawValue), caseInsensitive: true), default: .string("VALID"),
                     doc: "`VALID` or `SAME`, in any case; with `SAME`, average pooling divides by the number of real elements."),
    ]
    static let name = ArgumentName("name", value: .text,
                                   doc: "Unique layer name; keys the checkpoint's tensors and the random streams. Default: kind and index, e.g. `conv_0`.")
    static let inputs = ArgumentName("inputs", value: .inputs(merge: false),
                                     doc: "The layer this one reads, by name; `input` is the network's input (inside a block: the instance's input). Default: the layer before.")
    static let mergedInputs = ArgumentName("inputs", value: .inputs(merge: true),
                                           doc: "The layers joined, by name, at least two; `input` is the network's input (inside a block: the instance's input).")
    static let activationLayer = [
        ArgumentName("activation_fn", "activation", value: .choice(Activation.allCases.map(\.rawValue), caseInsensitive: false),
                     required: true, doc: "The function applied; `leaky_relu` has slope \(Activation.leakyReluSlope). `- Activation: relu` is short for `{activation: relu}`."),
    ]
    static let concatenate = [
        ArgumentName("axis", value: .axis, default: .int(-1),
                     doc: "The axis joined, counted as Keras counts it (the batch is axis 0): -1, the default, is the channels; 1 the first spatial dimension."),
    ]
    static let batchNormalization = [
        ArgumentName("momentum", value: .number(.unitInterval), default: .double(BatchNormalizationOp.defaults.momentum),
                     doc: "Decay of the moving mean and variance, as Keras."),
        ArgumentName("epsilon", value: .number(.positive), default: .double(BatchNormalizationOp.defaults.epsilon),
                     doc: "Added to the variance, as Keras."),
        ArgumentName("center", value: .boolean, default: .bool(BatchNormalizationOp.defaults.center), doc: "Whether a learned offset `beta` is added."),
        ArgumentName("scale", value: .boolean, default: .bool(BatchNormalizationOp.defaults.scale), doc: "Whether a learned factor `gamma` multiplies."),
    ]
    static let dropout = [
        ArgumentName("rate", value: .number(.unitInterval), required: true,
                     doc: "The share of values zeroed, at least 0 and below 1. Required, here or in `defaults`."),
        ArgumentName("seed", value: .seed, doc: "The layer's own seed; by default its random streams derive from the spec's `seed`."),
    ]

    static func outputSize(_ keras: String) -> ArgumentName {
        ArgumentName("output_size", keras, value: .integer(minimum: 1),
                     doc: "Output \(keras == "filters" ? "channels" : "features"). Required, here or in `defaults`.")
    }

    /// Arguments a layer of this family takes (including `name`).
    static func arguments(for family: LayerFamily) -> [ArgumentName] {
        var names = [name, family.merges ? mergedInputs : inputs]
        switch family {
        case .convolution(let e):
            names += [outputSize("filters")] + geometry + weights
            if e != .deterministic { names += variational }
            if e == .flipout { names += flipout }
        case .affine(let e):
            names += [outputSize("units")] + weights
            if e != .deterministic { names += variational }
            if e == .flipout { names += flipout }
        case .pool: names += pooling
        case .flatten, .add, .globalPool: break
        case .concatenate: names += concatenate
        case .batchNormalization: names += batchNormalization
        case .dropout: names += dropout
        case .activation: names += activationLayer
        }
        return names
    }

    /// Keras and `tfp.layers` arguments that have no counterpart here, with what to write instead.
    static let unsupported: [String: String] = [
        "use_bias": "layers always have a bias",
        "data_format": "write `input: {layout: channels_first}` instead; layers run channels-last",
        "kernel_regularizer": "the KL penalty (`penalty_weight`) is the only regularizer",
        "bias_regularizer": "the KL penalty (`penalty_weight`) is the only regularizer",
        "activity_regularizer": "the KL penalty (`penalty_weight`) is the only regularizer",
        "kernel_constraint": "weights are not constrained",
        "bias_constraint": "weights are not constrained",
        "groups": "grouped convolutions are not supported",
        "kernel_posterior_fn": "use `posterior`, which covers kernel and bias",
        "bias_posterior_fn": "use `posterior`, which covers kernel and bias",
        "kernel_prior_fn": "use `prior`, which covers kernel and bias",
        "bias_prior_fn": "use `prior`, which covers kernel and bias",
        "kernel_divergence_fn": "use `penalty_weight` to scale the KL divergence",
        "bias_divergence_fn": "use `penalty_weight` to scale the KL divergence",
    ]

    /// Why a key known to other layer types does not fit this one, or nil for a key no layer knows.
    static func misplaced(_ key: String, in typeName: String, family: LayerFamily) -> String? {
        if let why = unsupported[key] { return "`\(key)` is not supported: \(why)" }
        func known(_ list: [ArgumentName]) -> Bool { list.contains { $0.spellings.contains(key) } }
        if known(variational) { return "`\(key)` applies only to variational layers; `\(typeName)` has plain weights" }
        if known(flipout) { return "`\(key)` applies only to Flipout layers, not to `\(typeName)`" }
        if known(geometry) || key == "pool_size" || known(weights) || ["output_size", "filters", "units"].contains(key) {
            return "`\(typeName)` takes no argument `\(key)`"
        }
        return nil
    }
}
