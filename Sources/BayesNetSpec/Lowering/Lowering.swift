/// Turns the YAML tree of a spec into the IR, reporting every problem it finds on the way.
struct Lowering {
    var r = Reader()
    let source: SpecSource
    var dtype: DType = .float32
    let limits: SpecLimits
    /// Where each data file path was written, for a copy of the spec that resolves them.
    var dataPaths: [ModelSpec.PathSpan] = []
    /// Where each `data:` entry was written, by key.
    var dataLocations: [String: SourceLocation] = [:]

    init(source: SpecSource, limits: SpecLimits = .default) {
        self.source = source
        self.limits = limits
    }

    mutating func lower(_ root: YAMLNode) -> ModelSpec? {
        guard root.pairs != nil else {
            r.error(.specNotMapping, "a spec must be a YAML mapping that starts with `bayesnet: 1`, found \(root.kindDescription)", at: root)
            return nil
        }
        let top = r.fields(of: root, context: "the spec", names: SpecCatalog.topLevel, ignoring: { $0.hasPrefix(SpecCatalog.freeKeyPrefix) })
        var locations: [String: SourceLocation] = [:]
        for (k, f) in top { locations[k] = f.key.location }

        var version: Int?
        if let f = top["bayesnet"] {
            if let v = r.int(f) {
                if v == 1 { version = 1 } else {
                    r.error(.unknownFormatVersion, "unknown format version \(v); this bayesnet reads version 1", at: f.value)
                }
            }
        } else {
            r.error(.missingFormatVersion, "missing `bayesnet: 1`, the format version", at: root, help: "add `bayesnet: 1` as the first line")
        }
        var name = Self.stem(source.path)
        if let f = top["name"], let s = r.string(f) {
            // The name becomes a run folder's name (`runs/<name>/`).
            if s.isEmpty || s == "." || s == ".." || s.contains("/") || s.contains("\\") || s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                r.error(.invalidName, "`name` names the run folder, so it must be a non-empty file name without `/`, `\\` or control characters, and not `.` or `..`", at: f.value)
            } else {
                name = s
            }
        }
        var seed: UInt64?
        if let f = top["seed"] { seed = readSeed(f) }
        if let f = top["dtype"] {
            dtype = r.choice(f.value, name: "dtype", what: "dtype", options: DType.allCases.map { ($0.rawValue, $0) }) ?? .float32
        }

        let input = top["input"].flatMap { inputSpec($0) }
        if top["input"] == nil { r.error(.missingKey, "missing `input`, e.g. `input: {shape: [8, 8, 1]}`", at: root) }

        let defaults = top["defaults"].map { defaultsTable($0) } ?? [:]

        let blocks = readBlocks(top["blocks"])
        var graph = Graph()
        if let f = top["layers"] {
            graph = lowerNetwork(f, input: input?.shape, inputLocation: top["input"]?.value.location, blocks: blocks, defaults: defaults)
        } else {
            r.error(.missingKey, "missing `layers`, the list of the network's layers", at: root)
            graph.ok = false
        }
        let layers = graph.layers, layersOK = graph.ok, shape = graph.outputShape, lastItem = graph.lastItem

        var likelihood: Likelihood?
        if let f = top["likelihood"] { likelihood = likelihoodSpec(f) }
        let data = top["data"].map { dataSpec($0) } ?? DataSpec()
        let train = top["train"].map { trainSpec($0) } ?? TrainSpec()
        let evaluate = top["evaluate"].map { evaluateSpec($0) } ?? EvaluateSpec()
        if evaluate.mcDropout, layersOK, !layers.contains(where: { if case .dropout = $0.op { return true } else { return false } }),
           let f = top["evaluate"]?.value.pairs?.first(where: { $0.key.scalar == "mc_dropout" }) {
            r.warning(.mcDropoutWithoutDropout, "`mc_dropout: true` keeps `Dropout` layers on in evaluation, but the network has none, so it changes nothing",
                      at: f.value.location, help: "add `Dropout` layers, or leave `mc_dropout` out")
        }

        let bundled = [data.train, data.test].lazy.compactMap { source -> BuiltinDataset? in
            if case .builtin(let name, _)? = source { return BuiltinDataset.named(name) } else { return nil }
        }.first
        if layersOK, let out = shape, let f = top["likelihood"], let likelihood {
            checkOutput(out, likelihood: likelihood, field: f, lastItem: lastItem, bundled: bundled)
        }
        // Bundled images have one channel; a flat input (e.g. [64] for digits) reads them as vectors.
        if let bundled, let input, input.shape.filter({ $0 != 1 }) != bundled.exampleShape.filter({ $0 != 1 }),
           input.shape != [bundled.exampleSize],
           let s = top["input"]?.value.pairs?.first(where: { $0.key.scalar == "shape" })?.value {
            r.error(.builtinDataMismatch, "the bundled `\(bundled.name)` data has examples of shape \(shapeText(bundled.exampleShape)) (or [\(bundled.exampleSize)] flat), but `input.shape` is \(shapeText(input.shape))", at: s)
        }

        guard let version, let input, layersOK else { return nil }
        var spec = ModelSpec(version: version, name: name, seed: seed, dtype: dtype, input: input, layers: layers,
                             likelihood: likelihood, data: data, train: train, evaluate: evaluate, source: source,
                             locations: locations)
        spec.dataPaths = dataPaths
        spec.dataLocations = dataLocations
        return spec
    }

    static func stem(_ path: String) -> String {
        if path.hasPrefix("<") { return "model" }
        var base = path.split(separator: "/").last.map(String.init) ?? path
        for ext in [".yaml", ".yml"] where base.hasSuffix(ext) { base.removeLast(ext.count) }
        return base.isEmpty || base == "." || base == ".." ? "model" : base
    }

    mutating func inputSpec(_ f: Field) -> InputSpec? {
        guard f.value.pairs != nil else {
            r.error(.wrongType, "`input` must be a mapping such as `{shape: [8, 8, 1]}`, found \(f.value.kindDescription)", at: f.value)
            return nil
        }
        let fs = r.fields(of: f.value, context: "`input`", names: SpecCatalog.input)
        var layout = Layout.channelsLast
        if let l = fs["layout"] {
            layout = r.choice(l.value, name: "layout", what: "layout", options: Layout.allCases.map { ($0.rawValue, $0) }) ?? .channelsLast
        }
        guard let s = fs["shape"] else {
            r.error(.missingKey, "`input` needs `shape`, one example's dimensions such as `[8, 8, 1]`", at: f.value)
            return nil
        }
        guard let items = s.value.items else {
            r.error(.wrongType, "`shape` must be a list of sizes such as `[8, 8, 1]`, found \(s.value.kindDescription)", at: s.value)
            return nil
        }
        guard (1...4).contains(items.count) else {
            r.error(.listLength, "`shape` needs 1 to 4 entries (up to 3 spatial dimensions, then channels), found \(items.count)", at: s.value)
            return nil
        }
        var dims: [Int] = []
        for item in items {
            guard let v = r.positive(item, name: "shape") else { return nil }
            dims.append(v)
        }
        guard let n = checkedProduct(dims), n <= limits.maxTensorBytes / dtype.size else {
            r.error(.tooLarge, "`shape` \(shapeText(dims)) is too large: one example would need more than the \(Self.bytesText(Double(limits.maxTensorBytes))) one tensor may use (raise the limit with \(SpecLimits.Option.maxTensorBytes))", at: s.value)
            return nil
        }
        if layout == .channelsFirst, dims.count > 1 { dims = Array(dims.dropFirst()) + [dims[0]] }
        return InputSpec(shape: dims, layout: layout)
    }

    /// `defaults:` by canonical layer type, each a table of canonical argument name to field.
    mutating func defaultsTable(_ f: Field) -> [String: [String: Field]] {
        guard let pairs = f.value.pairs else {
            if !f.value.isNull { r.error(.wrongType, "`defaults` must be a mapping from layer type to arguments, found \(f.value.kindDescription)", at: f.value) }
            return [:]
        }
        var out: [String: [String: Field]] = [:]
        var seen: [String: String] = [:]
        for pair in pairs {
            let typeName = pair.key.scalar ?? ""
            guard let type = LayerCatalog.types[typeName] else {
                r.error(.unknownLayerType, "unknown layer type `\(typeName)` in `defaults`", at: pair.key, help: Suggestions.help(for: typeName, among: LayerCatalog.allNames))
                continue
            }
            if let other = seen[type.canonical] {
                r.error(.conflictingDefaults, "defaults for `\(typeName)` and `\(other)` apply to the same layers; merge them into one", at: pair.key)
                continue
            }
            seen[type.canonical] = typeName
            var fs = r.fields(of: pair.value, context: "the defaults of `\(typeName)`", names: LayerCatalog.arguments(for: type.family),
                                 misplaced: { LayerCatalog.misplaced($0, in: typeName, family: type.family) })
            if let n = fs["name"] {
                r.error(.misplacedKey, "`name` cannot be a default: layer names must be unique", at: n.key)
                fs["name"] = nil
            }
            if let n = fs["inputs"] {
                r.error(.misplacedKey, "`inputs` cannot be a default: each layer says what it reads", at: n.key)
                fs["inputs"] = nil
            }
            checkDefaultValues(fs, family: type.family)
            out[type.canonical] = fs
        }
        return out
    }

    /// Reads each default's value once on its own, so a problem in defaults shows even when no layer uses
    /// them (layers that do use them report the same diagnostic, which is then shown once).
    mutating func checkDefaultValues(_ fs: [String: Field], family: LayerFamily) {
        for (key, f) in fs {
            switch key {
            case "output_size", "input_size": _ = r.positive(f)
            case "filter_shape", "strides", "dilations", "pool_size": _ = r.intList(f)
            case "rank":
                if let v = r.int(f), !(1...3).contains(v) { r.error(.outOfRange, "`rank` must be 1, 2 or 3, found \(v)", at: f.value) }
            case "padding": _ = padding(f)
            case "activation_fn": _ = activation(fs)
            case "kernel_initializer", "bias_initializer": _ = initializer(f, default: .zeros)
            case "seed": _ = readSeed(f)
            case "rate", "momentum": _ = unitInterval(f)
            case "epsilon": _ = r.positiveDouble(f)
            case "center", "scale": _ = r.bool(f)
            case "axis": _ = r.int(f)
            default: break
            }
        }
        switch family {
        case .convolution(let e), .affine(let e): _ = variational(fs, estimator: e)
        default: break
        }
    }

    mutating func likelihoodSpec(_ f: Field) -> Likelihood? {
        guard let c = r.namedChoice(f.value, name: f.written) else { return nil }
        switch c.name {
        case "categorical":
            if let a = c.arguments { r.error(.unexpectedArguments, "`categorical` takes no arguments; the classes are the network's outputs", at: a) }
            return .categorical
        case "bernoulli":
            if let a = c.arguments { r.error(.unexpectedArguments, "`bernoulli` takes no arguments; the network's single output is the logit", at: a) }
            return .bernoulli
        case "normal":
            let keys = SpecCatalog.arguments(of: "normal", in: SpecCatalog.likelihoods)
            var scale = keys.defaultNumber("scale")
            if let a = c.arguments {
                let fs = r.fields(of: a, context: "`normal`", names: keys)
                if let s = fs["scale"] { scale = r.positiveDouble(s) ?? scale }
            }
            return .normal(scale: scale)
        default:
            let names = SpecCatalog.names(SpecCatalog.likelihoods)
            r.error(.unknownValue, "unknown likelihood `\(c.name)`; expected \(Reader.list(names))", at: c.nameNode,
                    help: Suggestions.help(for: c.name, among: names))
            return nil
        }
    }

    mutating func checkOutput(_ out: [Int], likelihood: Likelihood, field: Field, lastItem: LayerItem?, bundled: BuiltinDataset?) {
        switch likelihood {
        case .categorical:
            guard out.count == 1, out[0] >= 2 else {
                r.error(.likelihoodOutputMismatch, "a categorical likelihood needs one logit per class (a flat output of at least 2), but the network's output has shape \(shapeText(out))",
                        at: field.value, help: out.count == 1 ? nil : "end the network with `Flatten` and an affine layer with one output per class")
                return
            }
            if let bundled, out[0] != bundled.classes {
                let at = lastItem?.arguments["output_size"]?.value ?? lastItem?.typeNode ?? field.value
                r.error(.builtinDataMismatch, "the bundled `\(bundled.name)` data has \(bundled.classes) classes, but the network ends with \(out[0]) logits", at: at)
            }
        case .normal:
            if let bundled { r.error(.builtinDataMismatch, "the bundled `\(bundled.name)` data has class labels; use `likelihood: categorical`", at: field.value) }
        case .bernoulli:
            if out.reduce(1, *) != 1 {
                r.error(.likelihoodOutputMismatch, "a Bernoulli likelihood needs one logit per example, but the network's output has shape \(shapeText(out))",
                        at: field.value, help: "end the network with an affine layer of one output, or use `likelihood: categorical` for several classes")
            }
            if let bundled { r.error(.builtinDataMismatch, "the bundled `\(bundled.name)` data has \(bundled.classes) classes; use `likelihood: categorical`", at: field.value) }
        }
    }

    mutating func dataSpec(_ f: Field) -> DataSpec {
        let fs = r.fields(of: f.value, context: "`data`", names: SpecCatalog.data)
        for (key, field) in fs { dataLocations[key] = field.key.location }
        var validation: ValidationSource?
        if let v = fs["validation"] {
            if let pairs = v.value.pairs, pairs.contains(where: { $0.key.scalar == "fraction" }) {
                let o = r.fields(of: v.value, context: "`data.validation`", names: SpecCatalog.heldOutData)
                if let x = o["fraction"], let f = r.double(x) {
                    if f > 0, f < 1 { validation = .fraction(f) } else {
                        r.error(.outOfRange, "`fraction` must be above 0 and below 1, found \(x.value.scalar ?? "")", at: x.value)
                    }
                }
            } else {
                validation = dataSource(v).map { .source($0) }
            }
        }
        return DataSpec(train: fs["train"].flatMap { dataSource($0) }, validation: validation,
                        test: fs["test"].flatMap { dataSource($0) })
    }

    mutating func dataSource(_ f: Field) -> DataSource? {
        let fs = r.fields(of: f.value, context: "`data.\(f.written)`", names: SpecCatalog.builtinData + SpecCatalog.fileData)
        guard f.value.pairs != nil else {
            if f.value.isNull { r.error(.missingKey, "`data.\(f.written)` needs `builtin` or `format` and `x`", at: f.value) }
            return nil
        }
        if let b = fs["builtin"] {
            for k in SpecCatalog.fileData.map(\.canonical) {
                if let other = fs[k] { r.error(.conflictingKeys, "`\(k)` does not go with `builtin`; a bundled dataset has its own files", at: other.key) }
            }
            guard let name = r.choice(b.value, name: "builtin", what: "bundled dataset", options: SpecCatalog.words("builtin", in: SpecCatalog.builtinData).map { ($0, $0) }) else { return nil }
            var split = f.written
            if let s = fs["split"] { split = r.choice(s.value, name: "split", what: "split", options: SpecCatalog.words("split", in: SpecCatalog.builtinData).map { ($0, $0) }) ?? split }
            return .builtin(name: name, split: split)
        }
        if let s = fs["split"] { r.error(.conflictingKeys, "`split` applies only to `builtin` data", at: s.key) }
        let format = fs["format"].flatMap { r.choice($0.value, name: "format", what: "data format", options: DataFormat.allCases.map { ($0.rawValue, $0) }) }
        if fs["format"] == nil { r.error(.missingKey, "`data.\(f.written)` needs `format` (idx, npy or csv) or `builtin`", at: f.value) }
        let x = fs["x"].flatMap { r.string($0) }
        if fs["x"] == nil { r.error(.missingKey, "`data.\(f.written)` needs `x`, the path of the inputs", at: f.value) }
        let y = fs["y"].flatMap { r.string($0) }
        for (field, path) in [(fs["x"], x), (fs["y"], y)] {
            if let field, let path { dataPaths.append(.init(path: path, start: field.value.location, end: field.value.end)) }
        }
        let scale = fs["scale"].flatMap { r.positiveDouble($0) }
        guard let format, let x else { return nil }
        return .files(format: format, x: x, y: y, scale: scale)
    }

    mutating func trainSpec(_ f: Field) -> TrainSpec {
        let fs = r.fields(of: f.value, context: "`train`", names: SpecCatalog.train)
        var t = TrainSpec()
        if let x = fs["epochs"] { t.epochs = r.positive(x) ?? t.epochs }
        if let x = fs["batch_size"] { t.batchSize = r.positive(x) ?? t.batchSize }
        if let x = fs["samples"] { t.samples = r.positive(x) ?? t.samples }
        if let x = fs["schedule"] { t.schedule = schedule(x) ?? t.schedule }
        if let x = fs["kl_warmup_epochs"] { t.klWarmupEpochs = r.positive(x, minimum: 0) ?? t.klWarmupEpochs }
        if let x = fs["gradient_block_size"] { t.gradientBlockSize = r.positive(x) }
        if let x = fs["early_stopping"] {
            let keys = SpecCatalog.earlyStopping
            var e = EarlyStopping()
            let o = r.fields(of: x.value, context: "`early_stopping`", names: keys)
            if let v = o["patience"] { e.patience = r.positive(v) ?? e.patience }
            if let v = o["min_delta"], let d = r.double(v) {
                if d >= 0 { e.minDelta = d } else { r.error(.outOfRange, "`min_delta` must be at least 0, found \(v.value.scalar ?? "")", at: v.value) }
            }
            t.earlyStopping = e
        }
        if let x = fs["optimizer"], let c = r.namedChoice(x.value, name: "optimizer") {
            switch c.name {
            case "adam":
                let keys = SpecCatalog.arguments(of: "adam", in: SpecCatalog.optimizers)
                var lr = keys.defaultNumber("learning_rate"), b1 = keys.defaultNumber("beta_1")
                var b2 = keys.defaultNumber("beta_2"), eps = keys.defaultNumber("epsilon")
                if let a = c.arguments {
                    let o = r.fields(of: a, context: "`adam`", names: keys)
                    if let v = o["learning_rate"] { lr = r.positiveDouble(v) ?? lr }
                    if let v = o["beta_1"] { b1 = unitInterval(v) ?? b1 }
                    if let v = o["beta_2"] { b2 = unitInterval(v) ?? b2 }
                    if let v = o["epsilon"] { eps = r.positiveDouble(v) ?? eps }
                }
                t.optimizer = .adam(learningRate: lr, beta1: b1, beta2: b2, epsilon: eps)
            case "sgd":
                let keys = SpecCatalog.arguments(of: "sgd", in: SpecCatalog.optimizers)
                var lr = keys.defaultNumber("learning_rate"), momentum = keys.defaultNumber("momentum")
                if let a = c.arguments {
                    let o = r.fields(of: a, context: "`sgd`", names: keys)
                    if let v = o["learning_rate"] { lr = r.positiveDouble(v) ?? lr }
                    if let v = o["momentum"] { momentum = unitInterval(v) ?? momentum }
                }
                t.optimizer = .sgd(learningRate: lr, momentum: momentum)
            default:
                let names = SpecCatalog.names(SpecCatalog.optimizers)
                r.error(.unknownValue, "unknown optimizer `\(c.name)`; expected \(Reader.list(names))", at: c.nameNode, help: Suggestions.help(for: c.name, among: names))
            }
        }
        return t
    }

    mutating func schedule(_ f: Field) -> LearningRateSchedule? {
        guard let c = r.namedChoice(f.value, name: "schedule") else { return nil }
        let names = SpecCatalog.names(SpecCatalog.schedules)
        guard names.contains(c.name) else {
            r.error(.unknownValue, "unknown schedule `\(c.name)`; expected \(Reader.list(names))", at: c.nameNode, help: Suggestions.help(for: c.name, among: names))
            return nil
        }
        let keys = SpecCatalog.arguments(of: c.name, in: SpecCatalog.schedules)
        var o: [String: Field] = [:]
        if let a = c.arguments { o = r.fields(of: a, context: "`\(c.name)`", names: keys) }
        var warmup = 0
        if let v = o["warmup_epochs"] { warmup = r.positive(v, minimum: 0) ?? warmup }
        func fraction(_ key: String, open: Bool) -> Double {
            var value = keys.defaultNumber(key)
            if let v = o[key], let d = r.double(v) {
                if (open ? d > 0 : d >= 0) && (open ? d < 1 : d <= 1) { value = d } else {
                    r.error(.outOfRange, "`\(key)` must be \(open ? "above 0 and below 1" : "from 0 to 1"), found \(v.value.scalar ?? "")", at: v.value)
                }
            }
            return value
        }
        switch c.name {
        case "cosine":
            return LearningRateSchedule(kind: .cosine(finalFraction: fraction("final_fraction", open: false)), warmupEpochs: warmup)
        case "step":
            var every = Int(keys.defaultNumber("every_epochs"))
            if let v = o["every_epochs"] { every = r.positive(v) ?? every }
            return LearningRateSchedule(kind: .step(everyEpochs: every, factor: fraction("factor", open: true)), warmupEpochs: warmup)
        case "exponential":
            return LearningRateSchedule(kind: .exponential(factor: fraction("factor", open: true)), warmupEpochs: warmup)
        default:
            return LearningRateSchedule(kind: .constant, warmupEpochs: warmup)
        }
    }

    /// A number in [0, 1).
    mutating func unitInterval(_ f: Field) -> Double? {
        guard let v = r.double(f) else { return nil }
        guard v >= 0, v < 1 else {
            r.error(.outOfRange, "`\(f.written)` must be at least 0 and below 1, found \(f.value.scalar ?? "")", at: f.value)
            return nil
        }
        return v
    }

    mutating func evaluateSpec(_ f: Field) -> EvaluateSpec {
        let fs = r.fields(of: f.value, context: "`evaluate`", names: SpecCatalog.evaluate)
        var e = EvaluateSpec()
        if let x = fs["samples"] { e.samples = r.positive(x) ?? e.samples }
        if let x = fs["batch_size"] { e.batchSize = r.positive(x) ?? e.batchSize }
        if let x = fs["mc_dropout"] { e.mcDropout = r.bool(x) ?? e.mcDropout }
        return e
    }
}
