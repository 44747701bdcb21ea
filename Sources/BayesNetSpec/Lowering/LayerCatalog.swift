/// The layer types the spec language knows, their Keras aliases, and the arguments each takes.
enum LayerFamily: Equatable {
    case convolution(Estimator)
    case affine(Estimator)
    case pool(Pool.Kind)
    case flatten
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
        return t
    }()

    static let allNames: [String] = types.keys.sorted()

    static let geometry = [
        ArgumentName("filter_shape", "kernel_size"), ArgumentName("rank"), ArgumentName("strides"),
        ArgumentName("padding"), ArgumentName("dilations", "dilation_rate"),
    ]
    static let weights = [
        ArgumentName("input_size"), ArgumentName("activation_fn", "activation"),
        ArgumentName("kernel_initializer"), ArgumentName("bias_initializer"),
        ArgumentName("seed"), ArgumentName("dtype"),
    ]
    static let variational = [
        ArgumentName("posterior", "make_posterior_fn"), ArgumentName("prior", "make_prior_fn"),
        ArgumentName("posterior_value", "posterior_value_fn"), ArgumentName("penalty_weight"),
    ]
    static let flipout = [ArgumentName("signs")]
    static let pooling = [ArgumentName("pool_size"), ArgumentName("strides"), ArgumentName("padding")]

    /// Arguments a layer of this family takes (including `name`).
    static func arguments(for family: LayerFamily) -> [ArgumentName] {
        var names = [ArgumentName("name")]
        switch family {
        case .convolution(let e):
            names += [ArgumentName("output_size", "filters")] + geometry + weights
            if e != .deterministic { names += variational }
            if e == .flipout { names += flipout }
        case .affine(let e):
            names += [ArgumentName("output_size", "units")] + weights
            if e != .deterministic { names += variational }
            if e == .flipout { names += flipout }
        case .pool: names += pooling
        case .flatten: break
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
        func known(_ list: [ArgumentName]) -> Bool { list.contains { $0.canonical == key || $0.aliases.contains(key) } }
        if known(variational) { return "`\(key)` applies only to variational layers; `\(typeName)` has plain weights" }
        if known(flipout) { return "`\(key)` applies only to Flipout layers, not to `\(typeName)`" }
        if known(geometry) || key == "pool_size" || known(weights) || ["output_size", "filters", "units"].contains(key) {
            return "`\(typeName)` takes no argument `\(key)`"
        }
        return nil
    }
}
