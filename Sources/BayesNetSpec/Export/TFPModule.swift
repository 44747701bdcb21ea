internal import BayesNetFormats
/// `bayesnet compile --emit tfp`: the spec's network as a standalone Python module of TensorFlow Probability's
/// Keras layers, with posteriors, priors and KL weights carried over, and a loader for bayesnet checkpoints.
/// docs/tfp-export.md says what maps to what and what is refused.
extension ModelSpec {
    /// What `tfpModule` produced: the module's text, or the diagnostics of everything TFP cannot express.
    public struct TFPModule: Sendable, Equatable {
        public var text: String?
        public var diagnostics: [Diagnostic]
    }

    /// The module, or located refusals. `trainingExamples` becomes the module's default for
    /// `penalty_weight: auto` (nil: the module then asks for it when a layer needs it).
    public func tfpModule(trainingExamples: Int?) -> TFPModule {
        let refusals = tfpRefusals()
        guard refusals.isEmpty else { return TFPModule(text: nil, diagnostics: refusals) }
        return TFPModule(text: TFPModuleWriter(spec: self, trainingExamples: trainingExamples).module(), diagnostics: [])
    }

    /// What the Keras layers of TensorFlow Probability cannot run as the spec means it.
    func tfpRefusals() -> [Diagnostic] {
        var out: [Diagnostic] = []
        for layer in layers {
            if case .pool(let p) = layer.op, p.rank == 3, dtype == .float64 {
                let op = p.kind == .max ? "MaxPool3D" : "AvgPool3D"
                out.append(Diagnostic(
                    id: .noTFPEquivalent,
                    message: "TensorFlow has no float64 CPU kernel for 3-D \(p.kind == .max ? "max" : "average") pooling (`\(op)`), so layer `\(layer.name)` cannot be exported with `dtype: float64`",
                    location: layer.location,
                    help: "use `dtype: float32`, or pool before the data becomes a volume",
                    notes: locations["dtype"].map { [.init("the spec's dtype is set here", at: $0)] } ?? []))
            }
        }
        return out
    }
}

/// Writes the module's text. Every value from the spec reaches Python as a literal: numbers through Swift's
/// shortest round-trip form (which Python reads back to the same double), strings as JSON string literals
/// (valid Python literals too).
struct TFPModuleWriter {
    let spec: ModelSpec
    let trainingExamples: Int?
    /// Keras layer names: bayesnet's names where TensorFlow accepts them as scope names, else a cleaned form.
    let kerasNames: [String]
    let permuteName: String

    init(spec: ModelSpec, trainingExamples: Int?) {
        self.spec = spec
        self.trainingExamples = trainingExamples
        // `input` is the functional model's input layer.
        var used: Set<String> = [Layer.networkInput]
        func unique(_ wanted: String) -> String {
            var name = wanted, n = 1
            while used.contains(name) {
                name = "\(wanted)_\(n)"
                n += 1
            }
            used.insert(name)
            return name
        }
        kerasNames = spec.layers.map { unique(Self.scopeName($0.name)) }
        permuteName = unique("channels_first_to_last")
    }

    /// TensorFlow's op names: `[A-Za-z0-9.][A-Za-z0-9_.-]*` (a `/` would open a nested scope).
    static func scopeName(_ name: String) -> String {
        var out = String(name.unicodeScalars.map { u -> Character in
            let ok = ("a"..."z").contains(u) || ("A"..."Z").contains(u) || ("0"..."9").contains(u) || u == "_" || u == "." || u == "-"
            return ok ? Character(u) : "_"
        })
        if out.first.map({ $0 == "_" || $0 == "-" }) ?? true { out = "layer" + out }
        return out
    }

    static func literal(_ s: String) -> String { JSONText.quoted(s) }

    static func number(_ x: Double) -> String { "\(x)" }

    static func bool(_ b: Bool) -> String { b ? "True" : "False" }

    static func tuple(_ xs: [Int]) -> String {
        xs.count == 1 ? "(\(xs[0]),)" : "(" + xs.map(String.init).joined(separator: ", ") + ")"
    }

    /// Graphs, and stacks with one of the layers of graphs, are written with the functional API; plain stacks stay a
    /// `tf_keras.Sequential`, so that their modules are what they were before graphs could be exported.
    var isFunctional: Bool { spec.firstGraphLayer != nil }

    /// Whether the network's output reads each layer, directly or not. A layer nothing reads (a warning in
    /// bayesnet, allowed only on a branch without weights) is left out of the Keras model, which holds only what
    /// its output is computed from.
    var live: [Bool] {
        var live = Array(repeating: false, count: spec.layers.count)
        let index = Dictionary(spec.layers.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var stack = spec.layers.isEmpty ? [] : [spec.layers.count - 1]
        while let i = stack.popLast() {
            guard !live[i] else { continue }
            live[i] = true
            let reads = spec.layers[i].inputs.isEmpty ? (i == 0 ? [] : [spec.layers[i - 1].name]) : spec.layers[i].inputs
            stack += reads.compactMap { index[$0] }
        }
        return live
    }

    var hasBatchNormalization: Bool {
        spec.layers.contains { if case .batchNormalization = $0.op { return true } else { return false } }
    }

    var hasDropout: Bool {
        spec.layers.contains { if case .dropout = $0.op { return true } else { return false } }
    }

    var hasAuto: Bool {
        spec.layers.contains { $0.variationalSettings?.penaltyWeight == .auto }
    }

    var variationalLayers: [(Layer, Variational)] {
        spec.layers.compactMap { l in l.variationalSettings.map { (l, $0) } }
    }

    /// Ranks of the convolutions that draw Flipout signs per element.
    var perElementRanks: [Int] {
        Set(spec.layers.compactMap { l -> Int? in
            guard case .convolution(let c) = l.op, c.estimator == .flipout, c.variational?.signs == .perElement else { return nil }
            return c.rank
        }).sorted()
    }

    /// The blocks of the module, each ending in one newline, two blank lines between them (PEP 8).
    func module() -> String {
        let blocks = [header(), helpers(), perElementClasses(), penaltyWeights(), buildModel(), likelihood(), loader(), divergences()]
        return blocks.map { b in String(b.reversed().drop { $0 == "\n" }.reversed()) }.filter { !$0.isEmpty }
            .joined(separator: "\n\n\n") + "\n"
    }

    func header() -> String {
        let layout = spec.input.layout.rawValue
        let counted: String
        if let trainingExamples {
            counted = "# `penalty_weight: auto` is 1 / the number of training examples: \(trainingExamples) in the spec's `data.train`.\nTRAIN_EXAMPLES = \(trainingExamples)\n"
        } else {
            counted = "# `penalty_weight: auto` is 1 / the number of training examples, unknown here: pass `train_examples`.\nTRAIN_EXAMPLES = None\n"
        }
        let live = self.live
        let rows = spec.layers.enumerated().filter { live[$0.offset] }.map { i, l -> String in
            let weights: String
            switch l.op {
            case .convolution(let c): weights = c.variational == nil ? "\"plain\"" : "\"variational\""
            case .affine(let a): weights = a.variational == nil ? "\"plain\"" : "\"variational\""
            case .batchNormalization: weights = "\"batch_normalization\""
            default: weights = "None"
            }
            return "    (\(Self.literal(l.name)), \(Self.literal(kerasNames[i])), \(weights)),\n"
        }.joined()
        let unreadNames = spec.layers.enumerated().filter { !live[$0.offset] }.map { Self.literal($0.element.name) }
        let unread = unreadNames.isEmpty ? "" : """
            # Layers nothing reads (bayesnet warns of them): not in the Keras model; their tensors are skipped.
            UNREAD = [\(unreadNames.joined(separator: ", "))]

            """
        let kinds = hasBatchNormalization ? "\"variational\", \"plain\", \"batch_normalization\"" : "\"variational\", \"plain\""
        return """
            \"\"\"A bayesnet spec as a TensorFlow Probability Keras model, written by `bayesnet compile --emit tfp`.

            The network, its posteriors, priors and KL weights are the spec's (SPEC_FILE); its training settings and
            data are not part of this module. Inputs are `[N] + INPUT_SHAPE` in INPUT_LAYOUT, as the network sees them
            (after the data's `scale:`, as `bayesnet predict --raw` takes them).

                model = build_model()                    # build_model(posterior_mean=True): weights at their means
                load_bayesnet_checkpoint(model, "runs/<name>/checkpoint.safetensors")
                outputs = model(x)
                loss = -tf.reduce_mean(likelihood(outputs).log_prob(y)) + tf.add_n(model.losses)   # bayesnet's loss
                kl_divergences(model)                    # per layer, as `bayesnet weights --kl SPEC` prints it

            Needs numpy, tensorflow, tensorflow-probability and tf-keras (tfp.layers is built on Keras 2).
            \"\"\"
            import json
            import os
            import struct

            os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow loads: tfp.layers needs tf_keras

            import numpy as np
            import tensorflow as tf
            import tensorflow_probability as tfp
            import tf_keras

            tfd = tfp.distributions

            SPEC_FILE = \(Self.literal(spec.source.path))
            NAME = \(Self.literal(spec.name))
            DTYPE = "\(spec.dtype.rawValue)"
            INPUT_SHAPE = \(Self.tuple(spec.input.layout == .channelsFirst ? Self.channelsFirst(spec.input.shape) : spec.input.shape))
            INPUT_LAYOUT = "\(layout)"
            SEED = \(spec.seed.map { String($0) } ?? "None")
            \(counted)
            # Every layer: (bayesnet name, Keras layer name, weights), weights \(kinds) or None.
            LAYERS = [
            \(rows)]
            \(unread)

            """
    }

    /// `[8, 8, 1]` (channels-last, as the IR holds it) as the data stores it channels-first: `[1, 8, 8]`.
    static func channelsFirst(_ shape: [Int]) -> [Int] {
        guard shape.count > 1, let c = shape.last else { return shape }
        return [c] + shape.dropLast()
    }

    func helpers() -> String {
        var out = """
            def _untransformed_scale(scale, dtype):
                \"\"\"The u with eps + softplus(u) = scale: tfp.layers' posterior scale, eps the dtype's machine epsilon.\"\"\"
                y = np.asarray(scale, np.float64) - np.finfo(dtype).eps
                return y + np.log(-np.expm1(-y))


            def _untransformed_from_rho(rho, dtype):
                \"\"\"bayesnet's posterior scale is 1e-5 + softplus(rho); tfp.layers' is eps + softplus(u), eps = 1.19e-7 for
                float32 (np.finfo(dtype).eps). The u of the same scale, computed in float64.\"\"\"
                return _untransformed_scale(1e-5 + np.logaddexp(0.0, np.asarray(rho, np.float64)), dtype)


            def _posterior(loc_initializer, initial_scale):
                \"\"\"tfp.layers' mean-field normal posterior, its locs from `loc_initializer`, every scale at `initial_scale`.\"\"\"
                def make(dtype, shape, name, trainable, add_variable_fn):
                    u = float(_untransformed_scale(initial_scale, dtype.as_numpy_dtype))
                    return tfp.layers.default_mean_field_normal_fn(
                        loc_initializer=loc_initializer,
                        untransformed_scale_initializer=tf_keras.initializers.Constant(u))(
                            dtype, shape, name, trainable, add_variable_fn)
                return make


            def _normal_prior(loc, scale):
                \"\"\"N(loc, scale^2) on every weight.\"\"\"
                def make(dtype, shape, name, trainable, add_variable_fn):
                    del name, trainable, add_variable_fn
                    return tfd.Independent(
                        tfd.Normal(loc=tf.fill(list(shape), tf.constant(loc, dtype)), scale=tf.constant(scale, dtype)),
                        reinterpreted_batch_ndims=len(shape))
                return make


            def _scale_mixture_prior(pi, scale1, scale2):
                \"\"\"pi N(0, scale1^2) + (1 - pi) N(0, scale2^2) on every weight; spike-and-slab is (0.5, 1, 2000).\"\"\"
                def make(dtype, shape, name, trainable, add_variable_fn):
                    del name, trainable, add_variable_fn
                    zeros = tf.zeros(list(shape), dtype)
                    probs = tf.broadcast_to(tf.constant([pi, 1 - pi], dtype), list(shape) + [2])
                    mixture = tfd.Mixture(
                        cat=tfd.Categorical(probs=probs),
                        components=[tfd.Normal(zeros, tf.constant(scale1, dtype)), tfd.Normal(zeros, tf.constant(scale2, dtype))])
                    return tfd.Independent(mixture, reinterpreted_batch_ndims=len(shape))
                return make


            def _analytic_kl(weight):
                \"\"\"weight * KL(q || p) in closed form (a normal prior), as bayesnet trains with it.\"\"\"
                return lambda q, p, _: weight * tfd.kl_divergence(q, p)


            def _sampled_kl(weight, reuse_draw):
                \"\"\"weight * (log q(w) - log p(w)) at one draw w ~ q, the estimate bayesnet trains with when the KL has no
                closed form (a scale-mixture prior). The draw the layer used is reused when it sampled one (tfp.layers
                passes none for a Flipout kernel); otherwise w is drawn afresh.\"\"\"
                def divergence(q, p, draw):
                    w = draw if reuse_draw and draw is not None else q.sample()
                    return weight * (q.log_prob(w) - p.log_prob(w))
                return divergence


            def _value(posterior_mean, seed=None):
                \"\"\"How a variational layer turns its posterior into weights: its mean, or a draw.\"\"\"
                if posterior_mean:
                    return lambda d: d.mean()
                return lambda d: d.sample(seed=seed)


            def _variational(kernel_initializer, bias_initializer, initial_scale, prior, divergence, value):
                \"\"\"tfp.layers arguments for bayesnet's variational weights: mean-field normal posteriors over kernel and bias
                (tfp.layers' default bias is a point estimate), the spec's prior on both, and one weighted KL for both.\"\"\"
                return dict(
                    kernel_posterior_fn=_posterior(kernel_initializer, initial_scale), kernel_posterior_tensor_fn=value,
                    kernel_prior_fn=prior, kernel_divergence_fn=divergence,
                    bias_posterior_fn=_posterior(bias_initializer, initial_scale), bias_posterior_tensor_fn=value,
                    bias_prior_fn=prior, bias_divergence_fn=divergence)


            """
        let leaky = spec.layers.contains { l in
            switch l.op {
            case .convolution(let c): return c.activation == .leakyRelu
            case .affine(let a): return a.activation == .leakyRelu
            case .activation(let a): return a == .leakyRelu
            default: return false
            }
        }
        if leaky {
            out += """
                def _leaky_relu(x):
                    \"\"\"bayesnet's leaky_relu: slope 0.2 below zero.\"\"\"
                    return tf.nn.leaky_relu(x, alpha=0.2)


                """
        }
        return out
    }

    func perElementClasses() -> String {
        let ranks = perElementRanks
        guard !ranks.isEmpty else { return "" }
        var out = """
            class _SignsPerElement:
                \"\"\"Flipout with one random sign per input and per output element (`signs: per_element`, as
                tfp.experimental.nn draws them) where tfp.layers draws one per example and channel. It replaces the one
                method of tfp.layers' convolutional Flipout layers that draws the signs (TFP 0.25).\"\"\"

                def _apply_variational_kernel(self, inputs):
                    q = self.kernel_posterior.distribution
                    self.kernel_posterior_affine = tfd.Normal(loc=tf.zeros_like(q.loc), scale=q.scale)
                    self.kernel_posterior_affine_tensor = self.kernel_posterior_tensor_fn(self.kernel_posterior_affine)
                    self.kernel_posterior_tensor = None
                    seeds = tfp.util.SeedStream(self.seed, salt="SignsPerElement")
                    sign_input = tfp.random.rademacher(tf.shape(inputs), dtype=inputs.dtype, seed=seeds())
                    perturbation = self._convolution_op(inputs * sign_input, self.kernel_posterior_affine_tensor)
                    sign_output = tfp.random.rademacher(tf.shape(perturbation), dtype=inputs.dtype, seed=seeds())
                    return self._convolution_op(inputs, q.loc) + perturbation * sign_output


            """
        for r in ranks {
            out += """
                class Convolution\(r)DFlipoutSignsPerElement(_SignsPerElement, tfp.layers.Convolution\(r)DFlipout):
                    \"\"\"tfp.layers.Convolution\(r)DFlipout with signs per element.\"\"\"


                """
        }
        return out
    }

    func penaltyText(_ w: PenaltyWeight) -> String {
        switch w {
        case .auto: return "_auto(train_examples)"
        case .value(let x): return Self.number(x)
        }
    }

    func penaltyWeights() -> String {
        var out = ""
        if hasAuto {
            out += """
                def _auto(train_examples):
                    \"\"\"`penalty_weight: auto`: 1 / the number of training examples.\"\"\"
                    if train_examples is None or train_examples < 1:
                        raise ValueError("`penalty_weight: auto` needs the number of training examples: pass train_examples")
                    return 1 / train_examples


                """
        }
        let rows = variationalLayers.map { l, v in "        \(Self.literal(l.name)): \(penaltyText(v.penaltyWeight)),\n" }.joined()
        out += """
            def penalty_weights(train_examples=TRAIN_EXAMPLES):
                \"\"\"Each variational layer's KL weight (its `penalty_weight`), by bayesnet layer name.\"\"\"
                return {
            \(rows)    }


            """
        return out
    }

    static func initializer(_ i: Initializer, seed: UInt64?) -> String {
        let s = seed.map { "seed=\($0)" } ?? ""
        switch i {
        case .glorotUniform: return "tf_keras.initializers.GlorotUniform(\(s))"
        case .glorotNormal: return "tf_keras.initializers.GlorotNormal(\(s))"
        case .heUniform: return "tf_keras.initializers.HeUniform(\(s))"
        case .heNormal: return "tf_keras.initializers.HeNormal(\(s))"
        case .zeros: return "tf_keras.initializers.Zeros()"
        case .randomNormal(let stddev): return "tf_keras.initializers.RandomNormal(stddev=\(number(stddev))\(s.isEmpty ? "" : ", " + s))"
        }
    }

    static func activation(_ a: Activation) -> String {
        switch a {
        case .linear: return "None"
        case .leakyRelu: return "_leaky_relu"
        case .relu, .elu, .tanh, .sigmoid, .softplus: return "\"\(a.rawValue)\""
        }
    }

    static func prior(_ p: Prior) -> String {
        switch p {
        case .normal(let loc, let scale) where loc == 0 && scale == 1:
            return "tfp.layers.default_multivariate_normal_fn"
        case .normal(let loc, let scale): return "_normal_prior(\(number(loc)), \(number(scale)))"
        case .scaleMixture(let pi, let s1, let s2): return "_scale_mixture_prior(\(number(pi)), \(number(s1)), \(number(s2)))"
        }
    }

    /// The keyword arguments of a variational layer, indented to sit inside its call.
    func variationalArguments(_ l: Layer, _ v: Variational, kernel: Initializer, bias: Initializer, estimator: Estimator) -> String {
        let weight = "weights[\(Self.literal(l.name))]"
        let divergence: String
        switch v.prior {
        case .normal: divergence = "_analytic_kl(\(weight))"
        case .scaleMixture: divergence = "_sampled_kl(\(weight), reuse_draw=\(v.posteriorValue == .sample ? "True" : "False"))"
        }
        let value: String
        switch v.posteriorValue {
        case .mean: value = "_value(True)"
        case .sample: value = "_value(posterior_mean\(l.seed.map { ", seed=\($0)" } ?? ""))"
        }
        guard case .normalDiag(let initialScale) = v.posterior else { return "" }
        return """
                        **_variational(\(Self.initializer(kernel, seed: l.seed)), \(Self.initializer(bias, seed: l.seed)),
                                       initial_scale=\(Self.number(initialScale)), prior=\(Self.prior(v.prior)),
                                       divergence=\(divergence),
                                       value=\(value)),
            """
    }

    func layerCall(_ l: Layer, keras: String) -> String {
        let name = "name=\(Self.literal(keras)), dtype=DTYPE"
        switch l.op {
        case .add:
            return "tf_keras.layers.Add(\(name))"
        case .concatenate(let axis):
            // The IR's axis counts one example's dimensions; Keras counts the batch too.
            let keras = axis == l.outputShape.count - 1 ? -1 : axis + 1
            return "tf_keras.layers.Concatenate(axis=\(keras), \(name))"
        case .batchNormalization(let b):
            return "tf_keras.layers.BatchNormalization(\n            axis=-1, momentum=\(Self.number(b.momentum)), epsilon=\(Self.number(b.epsilon)), center=\(Self.bool(b.center)), scale=\(Self.bool(b.scale)),\n            \(name))"
        case .dropout(let rate):
            return "tf_keras.layers.Dropout(\(Self.number(rate))\(l.seed.map { ", seed=\($0)" } ?? ""), \(name))"
        case .globalPool(let g):
            return "tf_keras.layers.Global\(g.kind == .max ? "Max" : "Average")Pooling\(g.rank)D(\(name))"
        case .activation(let a):
            return "tf_keras.layers.Activation(\(a == .linear ? "\"linear\"" : Self.activation(a)), \(name))"
        case .flatten:
            return "tf_keras.layers.Flatten(\(name))"
        case .pool(let p):
            let type = p.kind == .max ? "MaxPooling\(p.rank)D" : "AveragePooling\(p.rank)D"
            return "tf_keras.layers.\(type)(\(Self.tuple(p.poolSize)), strides=\(Self.tuple(p.strides)), padding=\"\(p.padding.rawValue.lowercased())\", \(name))"
        case .convolution(let c):
            let geometry = "\(c.outputSize), \(Self.tuple(c.filterShape)), strides=\(Self.tuple(c.strides)), padding=\"\(c.padding.rawValue.lowercased())\", dilation_rate=\(Self.tuple(c.dilations)), activation=\(Self.activation(c.activation))"
            guard let v = c.variational else {
                return "tf_keras.layers.Conv\(c.rank)D(\n            \(geometry),\n            kernel_initializer=\(Self.initializer(c.kernelInitializer, seed: l.seed)), bias_initializer=\(Self.initializer(c.biasInitializer, seed: l.seed)),\n            \(name))"
            }
            let type: String
            switch c.estimator {
            case .flipout: type = v.signs == .perElement ? "Convolution\(c.rank)DFlipoutSignsPerElement" : "tfp.layers.Convolution\(c.rank)DFlipout"
            case .reparameterization, .deterministic: type = "tfp.layers.Convolution\(c.rank)DReparameterization"
            }
            let seed = c.estimator == .flipout ? l.seed.map { ", seed=\($0)" } ?? "" : ""
            return "\(type)(\n            \(geometry),\n\(variationalArguments(l, v, kernel: c.kernelInitializer, bias: c.biasInitializer, estimator: c.estimator))\n            \(name)\(seed))"
        case .affine(let a):
            guard let v = a.variational else {
                return "tf_keras.layers.Dense(\n            \(a.outputSize), activation=\(Self.activation(a.activation)),\n            kernel_initializer=\(Self.initializer(a.kernelInitializer, seed: l.seed)), bias_initializer=\(Self.initializer(a.biasInitializer, seed: l.seed)),\n            \(name))"
            }
            // tfp.layers' DenseFlipout already draws its signs per element: for a flat input that is per channel too.
            let type = a.estimator == .flipout ? "tfp.layers.DenseFlipout" : "tfp.layers.DenseReparameterization"
            let seed = a.estimator == .flipout ? l.seed.map { ", seed=\($0)" } ?? "" : ""
            return "\(type)(\n            \(a.outputSize), activation=\(Self.activation(a.activation)),\n\(variationalArguments(l, v, kernel: a.kernelInitializer, bias: a.biasInitializer, estimator: a.estimator))\n            \(name)\(seed))"
        }
    }

    func buildModel() -> String {
        if isFunctional { return functionalModel() }
        var layerLines = ""
        if let order = channelsFirstOrder {
            layerLines += "        # input: {layout: channels_first}; the network runs channels-last\n"
            layerLines += "        tf_keras.layers.Permute(\(Self.tuple(order)), name=\(Self.literal(permuteName)), dtype=DTYPE),\n"
        }
        for (i, l) in spec.layers.enumerated() {
            layerLines += "        # line \(l.location.line): \(l.typeName), output \(l.outputShape)\n"
            layerLines += "        \(layerCall(l, keras: kerasNames[i])),\n"
        }
        let weights = variationalLayers.isEmpty ? "" : "    weights = penalty_weights(train_examples)\n"
        return """
            def build_model(train_examples=TRAIN_EXAMPLES, posterior_mean=False, seed=SEED):
                \"\"\"The network as a tf_keras.Sequential of tfp.layers. `posterior_mean=True` runs every variational layer at
                its posterior mean (as `bayesnet predict --posterior-mean`); `train_examples` resolves `penalty_weight: auto`;
                `seed` seeds TensorFlow, which makes runs repeatable but does not reproduce bayesnet's random draws.\"\"\"
                if seed is not None:
                    tf.random.set_seed(seed)
            \(weights)    return tf_keras.Sequential([
                    tf_keras.layers.InputLayer(input_shape=INPUT_SHAPE, dtype=DTYPE),
            \(layerLines)    ], name=\(Self.literal(Self.scopeName(spec.name))))


            """
    }

    /// The permutation that makes a channels-first input channels-last, or nil.
    var channelsFirstOrder: [Int]? {
        guard spec.input.layout == .channelsFirst, spec.input.shape.count > 1 else { return nil }
        return Array(2...spec.input.shape.count) + [1]
    }

    /// A graph as a `tf_keras.Model` of the functional API: every layer made first (as a stack's list holds them),
    /// then called on the outputs of its inputs in the spec's (topological) order.
    func functionalModel() -> String {
        let live = self.live
        var layerLines = ""
        for (i, l) in spec.layers.enumerated() where live[i] {
            layerLines += "        # line \(l.location.line): \(l.typeName), output \(l.outputShape)\n"
            layerLines += "        \(Self.literal(l.name)): \(layerCall(l, keras: kerasNames[i])),\n"
        }
        var input = "    x = {\(Self.literal(Layer.networkInput)): inputs}\n"
        if let order = channelsFirstOrder {
            input = "    # input: {layout: channels_first}; the network runs channels-last\n"
                + "    x = {\(Self.literal(Layer.networkInput)): tf_keras.layers.Permute(\(Self.tuple(order)), name=\(Self.literal(permuteName)), dtype=DTYPE)(inputs)}\n"
        }
        var edges = ""
        for (i, l) in spec.layers.enumerated() where live[i] {
            let reads = l.inputs.isEmpty ? [i == 0 ? Layer.networkInput : spec.layers[i - 1].name] : l.inputs
            let tensors = reads.map { "x[\(Self.literal($0))]" }
            var argument = tensors.count == 1 ? tensors[0] : "[" + tensors.joined(separator: ", ") + "]"
            if case .dropout = l.op { argument += ", training=dropout_training" }
            edges += "    x[\(Self.literal(l.name))] = layers[\(Self.literal(l.name))](\(argument))\n"
        }
        let output = spec.layers.last.map { "x[\(Self.literal($0.name))]" } ?? "x[\(Self.literal(Layer.networkInput))]"
        let weights = variationalLayers.isEmpty ? "" : "    weights = penalty_weights(train_examples)\n"
        var mcDropout = "", dropoutTraining = "", doc = "\"\"\""
        if hasDropout {
            mcDropout = ", mc_dropout=\(Self.bool(spec.evaluate.mcDropout))"
            dropoutTraining = "    dropout_training = True if mc_dropout and not posterior_mean else None\n"
            doc = """
                 `mc_dropout` (the spec's
                    `evaluate.mc_dropout`) keeps Dropout on outside training, except at the posterior mean, as bayesnet does.\"\"\"
                """
        }
        return """
            def build_model(train_examples=TRAIN_EXAMPLES, posterior_mean=False, seed=SEED\(mcDropout)):
                \"\"\"The network as a tf_keras.Model of tfp.layers, wired with the functional API as the spec's `inputs:` say
                (`input` is the network's input). `posterior_mean=True` runs every variational layer at its posterior mean
                (as `bayesnet predict --posterior-mean`); `train_examples` resolves `penalty_weight: auto`; `seed` seeds
                TensorFlow, which makes runs repeatable but does not reproduce bayesnet's random draws.\(doc)
                if seed is not None:
                    tf.random.set_seed(seed)
            \(weights)\(dropoutTraining)    layers = {
            \(layerLines)    }
                inputs = tf_keras.Input(shape=INPUT_SHAPE, dtype=DTYPE, name=\(Self.literal(Layer.networkInput)))
            \(input)\(edges)    return tf_keras.Model(inputs, \(output), name=\(Self.literal(Self.scopeName(spec.name))))


            """
    }

    func likelihood() -> String {
        let body: String
        switch spec.likelihood {
        case nil: return ""
        case .categorical?:
            body = "    \"\"\"Categorical over the logits (softmax cross-entropy).\"\"\"\n    return tfd.Categorical(logits=outputs)\n"
        case .bernoulli?:
            body = "    \"\"\"Bernoulli over the single logit per example (sigmoid cross-entropy), for labels 0 and 1.\"\"\"\n    return tfd.Bernoulli(logits=tf.reshape(outputs, [-1]))\n"
        case .normal(let scale)?:
            body = "    \"\"\"Normal with scale \(Self.number(scale)) around the outputs, one event per example.\"\"\"\n    return tfd.Independent(tfd.Normal(loc=outputs, scale=tf.constant(\(Self.number(scale)), outputs.dtype)),\n                           reinterpreted_batch_ndims=\(spec.outputShape.count))\n"
        }
        return "def likelihood(outputs):\n" + body + "\n\n"
    }

    func loader() -> String {
        // Batch normalization only where the spec has it, so that the modules of stacks stay as they were.
        let normalizationDoc = hasBatchNormalization ? ", and `<layer>.gamma`, `<layer>.beta`,\n    `<layer>.moving_mean` and `<layer>.moving_variance` for batch normalization" : ""
        let normalization = hasBatchNormalization ? """
                    elif weights == "batch_normalization":
                        for part in ("gamma", "beta", "moving_mean", "moving_variance"):
                            if getattr(layer, part) is not None:  # no gamma without `scale`, no beta without `center`
                                take(name + "." + part, getattr(layer, part))

            """ : ""
        let unread = live.contains(false) ? "    expected.update(n for n in tensors if n.rpartition(\".\")[0] in UNREAD)\n" : ""
        return """
        def read_safetensors(path):
            \"\"\"{name: numpy array} of a safetensors file (F64, F32, F16 or BF16 tensors; `__metadata__` is skipped).\"\"\"
            with open(path, "rb") as f:
                data = f.read()
            (length,) = struct.unpack("<Q", data[:8])
            header = json.loads(data[8:8 + length])
            base = 8 + length
            tensors = {}
            for name, entry in header.items():
                if name == "__metadata__":
                    continue
                start, end = entry["data_offsets"]
                raw = data[base + start:base + end]
                if entry["dtype"] == "BF16":
                    values = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
                elif entry["dtype"] in ("F64", "F32", "F16"):
                    values = np.frombuffer(raw, {"F64": "<f8", "F32": "<f4", "F16": "<f2"}[entry["dtype"]])
                else:
                    raise ValueError("%s: tensor %s has dtype %s; bayesnet's tensors are floats" % (path, name, entry["dtype"]))
                tensors[name] = values.reshape(entry["shape"])
            return tensors


        def load_bayesnet_checkpoint(model, path):
            \"\"\"Sets every weight of `model` (from build_model) from a bayesnet checkpoint, or any safetensors file with its
            tensor names: `<layer>.kernel_posterior_loc`, `<layer>.kernel_posterior_untransformed_scale` (and the bias's)
            for variational layers, `<layer>.kernel` and `<layer>.bias` for plain ones\(normalizationDoc). Optimizer state is skipped.
            Raises ValueError naming every missing, misshapen or unknown tensor, before any weight is set.\"\"\"
            tensors = read_safetensors(path)
            assignments, problems, expected = [], [], set()

            def take(name, variable, convert=None):
                expected.add(name)
                value = tensors.get(name)
                if value is None:
                    problems.append("missing %s %s" % (name, list(variable.shape)))
                elif list(value.shape) != list(variable.shape):
                    problems.append("%s has shape %s, expected %s" % (name, list(value.shape), list(variable.shape)))
                else:
                    dtype = variable.dtype.as_numpy_dtype
                    value = value.astype(np.float64)
                    assignments.append((variable, (convert(value, dtype) if convert else value).astype(dtype)))

            for name, keras_name, weights in LAYERS:
                layer = model.get_layer(keras_name)
                if weights == "variational":
                    for part, posterior in (("kernel", layer.kernel_posterior), ("bias", layer.bias_posterior)):
                        take(name + "." + part + "_posterior_loc", posterior.distribution.loc)
                        take(name + "." + part + "_posterior_untransformed_scale",
                             posterior.distribution.scale.pretransformed_input, _untransformed_from_rho)
                elif weights == "plain":
                    take(name + ".kernel", layer.kernel)
                    take(name + ".bias", layer.bias)
        \(normalization)\(unread)    problems += ["unknown tensor %s" % n for n in sorted(tensors) if n not in expected and not n.startswith("optimizer.")]
            if problems:
                raise ValueError("%s does not fit %s: %s" % (path, NAME, "; ".join(problems)))
            for variable, value in assignments:
                variable.assign(value)


        """
    }

    func divergences() -> String {
        """
        def kl_divergences(model, quadrature_points=64):
            \"\"\"Per variational layer, by bayesnet name: (KL of the kernel's posterior from its prior, the bias's), in nats
            and unweighted, as `bayesnet weights CKPT --kl SPEC` prints them. In closed form for a normal prior; for a
            scale mixture KL = -H(q) - E_q[log p], the expectation by Gauss-Hermite quadrature per weight.\"\"\"
            nodes, node_weights = np.polynomial.hermite.hermgauss(quadrature_points)
            out = {}
            for name, keras_name, weights in LAYERS:
                if weights != "variational":
                    continue
                layer = model.get_layer(keras_name)
                parts = []
                for q, p in ((layer.kernel_posterior, layer.kernel_prior), (layer.bias_posterior, layer.bias_prior)):
                    if isinstance(p.distribution, tfd.Normal):
                        parts.append(float(tfd.kl_divergence(q, p)))
                        continue
                    loc = tf.convert_to_tensor(q.distribution.loc)
                    scale = tf.convert_to_tensor(q.distribution.scale)
                    expected_log_prior = 0.0
                    for x, w in zip(nodes, node_weights):
                        point = loc + tf.constant(np.sqrt(2.0) * x, loc.dtype) * scale
                        expected_log_prior += w / np.sqrt(np.pi) * float(tf.reduce_sum(p.distribution.log_prob(point)))
                    parts.append(float(-float(q.entropy()) - expected_log_prior))
                out[name] = tuple(parts)
            return out

        """
    }
}
