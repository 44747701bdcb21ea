extension Lowering {
    /// A layer list item split into its type and arguments.
    struct LayerItem {
        var node: YAMLNode
        var typeNode: YAMLNode
        var typeName: String
        var type: LayerType
        var arguments: [String: Field]
        /// The network's last layer, whose outputs the likelihood reads.
        var isLast = false
    }

    /// Reads `- Type` or `- Type: {arguments}`; nil after reporting when the item is malformed.
    mutating func layerItem(_ node: YAMLNode, blocks: [String: Block] = [:]) -> LayerItem? {
        var typeNode = node
        var argsNode: YAMLNode?
        switch node.value {
        case .scalar:
            guard !node.isNull else {
                r.error(.malformedLayer, "empty layer; write a layer type such as `Flatten` or `Conv2DFlipout: {filters: 8, kernel_size: 3}`", at: node)
                return nil
            }
        case .mapping(let pairs):
            guard pairs.count == 1 else {
                let first = pairs.first?.key.scalar ?? ""
                r.error(.malformedLayer, "a layer is a one-key mapping `Type: {arguments}`, but this item has \(pairs.count) keys", at: node,
                        help: pairs.count > 1 && LayerCatalog.types[first] != nil ? "indent the arguments under `\(first):`" : nil)
                return nil
            }
            typeNode = pairs[0].key
            argsNode = pairs[0].value
        case .sequence:
            r.error(.malformedLayer, "a layer is a type name or a one-key mapping `Type: {arguments}`, found a list", at: node)
            return nil
        }
        let typeName = typeNode.scalar ?? ""
        guard let type = LayerCatalog.types[typeName] else {
            r.error(.unknownLayerType, "unknown layer type `\(typeName)`", at: typeNode,
                    help: Suggestions.help(for: typeName, among: LayerCatalog.allNames + blocks.keys.sorted()))
            return nil
        }
        var arguments: [String: Field] = [:]
        if type.family == .activation, let argsNode, argsNode.scalar != nil, !argsNode.isNull {
            // `- Activation: relu`, as Keras's `Activation("relu")`.
            arguments["activation_fn"] = Field(written: "activation", key: typeNode, value: argsNode)
        } else if let argsNode, !argsNode.isNull {
            guard argsNode.pairs != nil else {
                r.error(.wrongType, "the arguments of `\(typeName)` must be a mapping such as `{name: x}`, found \(argsNode.kindDescription)", at: argsNode)
                return nil
            }
            arguments = r.fields(of: argsNode, context: "the arguments of `\(typeName)`", names: LayerCatalog.arguments(for: type.family),
                                 misplaced: { LayerCatalog.misplaced($0, in: typeName, family: type.family) })
        }
        return LayerItem(node: node, typeNode: typeNode, typeName: typeName, type: type, arguments: arguments)
    }

    /// Lowers one layer given its input shape (nil when unknown after an earlier error); returns the layer
    /// (nil after an error) and the output shape (nil when it cannot be inferred).
    mutating func lowerLayer(_ item: LayerItem, index: Int, inputs: [[Int]]?, operands: [Operand], defaults: [String: Field]) -> (Layer?, [Int]?) {
        let input = inputs?.first
        var args = defaults
        if item.type.fixedRank != nil { args["rank"] = nil }
        for (k, v) in item.arguments { args[k] = v }
        let errorsBefore = r.diagnostics.count
        var locations: [String: SourceLocation] = [:]
        for (k, f) in args { locations[k] = f.value.location }

        var seed: UInt64?
        if let f = args["seed"] { seed = readSeed(f) }
        if let f = args["dtype"], let d = r.choice(f.value, name: f.written, what: "dtype", options: DType.allCases.map { ($0.rawValue, $0) }), d != dtype {
            r.error(.dtypeMismatch, "`dtype: \(d.rawValue)` differs from the spec's `dtype: \(dtype.rawValue)`; all layers use one dtype", at: f.value)
        }

        var op: LayerOp?
        var output: [Int]?
        switch item.type.family {
        case .convolution(let estimator):
            (op, output) = convolution(item, args: args, estimator: estimator, input: input)
        case .affine(let estimator):
            (op, output) = affine(item, args: args, estimator: estimator, input: input)
        case .pool(let kind):
            (op, output) = pool(item, args: args, kind: kind, input: input)
        case .flatten:
            if let input {
                if let n = checkedProduct(input) { output = [n]; op = .flatten } else { tooLarge(item, what: "its output", count: nil) }
            }
        case .add:
            (op, output) = add(item, inputs: inputs, operands: operands)
        case .concatenate:
            (op, output) = concatenate(item, args: args, inputs: inputs, operands: operands)
        case .batchNormalization:
            let b = batchNormalization(args, channels: input?.last ?? 0)
            if let input, let b { (op, output) = (.batchNormalization(b), input) }
        case .dropout:
            let rate = args["rate"].flatMap { unitInterval($0) }
            if args["rate"] == nil { r.error(.missingKey, "`\(item.typeName)` needs `rate`, the share of values zeroed", at: item.typeNode) }
            if let input, let rate { (op, output) = (.dropout(rate: rate), input) }
        case .globalPool(let kind):
            (op, output) = globalPool(item, kind: kind, input: input)
        case .activation:
            if args["activation_fn"] == nil { r.error(.missingKey, "`\(item.typeName)` needs `activation`, e.g. `- Activation: relu`", at: item.typeNode) }
            let act = args["activation_fn"] != nil ? activation(args, isLast: item.isLast) : nil
            if let input, let act { (op, output) = (.activation(act), input) }
        }
        if let output, let n = checkedProduct(output), n.multipliedReportingOverflow(by: dtype.size).partialValue > limits.maxTensorBytes || n > limits.maxTensorBytes {
            tooLarge(item, what: "one example's output \(shapeText(output))", count: n)
            return (nil, nil)
        }
        guard let op, let input, let output, r.diagnostics.count == errorsBefore else { return (nil, output) }
        var name = defaultName(for: item.type.family, index: index)
        if let f = args["name"], let s = r.string(f) { name = s }
        let layer = Layer(name: name, op: op, typeName: item.typeName, inputShape: input, outputShape: output,
                          location: item.node.location, argumentLocations: locations, seed: seed, inputShapes: inputs)
        return (layer, output)
    }

    /// Names an operand with its shape, for the notes of a merge that does not fit.
    func operandNote(_ o: Operand, _ shape: [Int]) -> Diagnostic.Note {
        .init(o.name == Layer.networkInput ? "the network's input has shape \(shapeText(shape))" : "`\(o.name)` (output shape \(shapeText(shape))) is written here", at: o.location)
    }

    mutating func add(_ item: LayerItem, inputs: [[Int]]?, operands: [Operand]) -> (LayerOp?, [Int]?) {
        guard let inputs, inputs.count >= 2, inputs.count == operands.count else { return (nil, nil) }
        for k in 1..<inputs.count where inputs[k] != inputs[0] {
            r.error(.addShapeMismatch, "`\(item.typeName)` sums inputs of one shape, but `\(operands[0].name)` has shape \(shapeText(inputs[0])) and `\(operands[k].name)` has shape \(shapeText(inputs[k]))",
                    at: item.typeNode, help: inputs[k].last != inputs[0].last ? "match the channels, e.g. with a 1x1 convolution on the shortcut" : "match the spatial sizes, e.g. with the same strides on both paths",
                    notes: [operandNote(operands[0], inputs[0]), operandNote(operands[k], inputs[k])])
            return (nil, nil)
        }
        return (.add, inputs[0])
    }

    mutating func concatenate(_ item: LayerItem, args: [String: Field], inputs: [[Int]]?, operands: [Operand]) -> (LayerOp?, [Int]?) {
        var axis = -1
        if let f = args["axis"] {
            guard let v = r.int(f) else { return (nil, nil) }
            axis = v
        }
        guard let inputs, inputs.count >= 2, inputs.count == operands.count else { return (nil, nil) }
        let rank = inputs[0].count
        guard axis != 0, axis >= -rank, axis <= rank else {
            let at = args["axis"]?.value ?? item.typeNode
            r.error(.outOfRange, "`axis` must be 1 to \(rank) or -\(rank) to -1 for inputs of shape \(shapeText(inputs[0])) (axis 0 is the batch), found \(axis)", at: at)
            return (nil, nil)
        }
        let a = axis > 0 ? axis - 1 : rank + axis
        var out = inputs[0]
        for k in 1..<inputs.count {
            let fits = inputs[k].count == rank && (0..<rank).allSatisfy { $0 == a || inputs[k][$0] == inputs[0][$0] }
            guard fits else {
                r.error(.concatenateShapeMismatch, "`\(item.typeName)` joins along axis \(axis), so its inputs must agree on every other axis, but `\(operands[0].name)` has shape \(shapeText(inputs[0])) and `\(operands[k].name)` has shape \(shapeText(inputs[k]))",
                        at: item.typeNode, notes: [operandNote(operands[0], inputs[0]), operandNote(operands[k], inputs[k])])
                return (nil, nil)
            }
            guard let sum = checkedSum(out[a], inputs[k][a]) else {
                tooLarge(item, what: "its output", count: nil)
                return (nil, nil)
            }
            out[a] = sum
        }
        return (.concatenate(axis: a), out)
    }

    mutating func batchNormalization(_ args: [String: Field], channels: Int) -> BatchNormalizationOp? {
        let keys = LayerCatalog.batchNormalization
        var b = BatchNormalizationOp(channels: channels, momentum: keys.defaultNumber("momentum"), epsilon: keys.defaultNumber("epsilon"))
        var ok = true
        if let f = args["momentum"] { if let v = unitInterval(f) { b.momentum = v } else { ok = false } }
        if let f = args["epsilon"] { if let v = r.positiveDouble(f) { b.epsilon = v } else { ok = false } }
        if let f = args["center"] { if let v = r.bool(f) { b.center = v } else { ok = false } }
        if let f = args["scale"] { if let v = r.bool(f) { b.scale = v } else { ok = false } }
        return ok ? b : nil
    }

    mutating func globalPool(_ item: LayerItem, kind: PoolOp.Kind, input: [Int]?) -> (LayerOp?, [Int]?) {
        guard let input else { return (nil, nil) }
        let rank = input.count - 1
        if let fixed = item.type.fixedRank, fixed != rank {
            r.error(.inputShapeMismatch, "`\(item.typeName)` pools \(fixed) spatial dimension\(fixed == 1 ? "" : "s"), but its input has shape \(shapeText(input))", at: item.typeNode,
                    help: (1...3).contains(rank) ? "use `\(kind == .max ? "GlobalMaxPooling" : "GlobalAveragePooling")`, which takes its rank from the input" : nil)
            return (nil, nil)
        }
        guard (1...3).contains(rank) else {
            r.error(.inputShapeMismatch, "`\(item.typeName)` needs an input of 1 to 3 spatial dimensions and channels, but its input has shape \(shapeText(input))", at: item.typeNode)
            return (nil, nil)
        }
        return (.globalPool(GlobalPoolOp(kind: kind, rank: rank)), [input[rank]])
    }

    func defaultName(for family: LayerFamily, index: Int) -> String {
        switch family {
        case .convolution: return "conv_\(index)"
        case .affine: return "affine_\(index)"
        case .pool(.max): return "max_pool_\(index)"
        case .pool(.average): return "avg_pool_\(index)"
        case .flatten: return "flatten_\(index)"
        case .add: return "add_\(index)"
        case .concatenate: return "concatenate_\(index)"
        case .batchNormalization: return "batch_normalization_\(index)"
        case .dropout: return "dropout_\(index)"
        case .globalPool(.max): return "global_max_pool_\(index)"
        case .globalPool(.average): return "global_avg_pool_\(index)"
        case .activation: return "activation_\(index)"
        }
    }

    mutating func tooLarge(_ item: LayerItem, what: String, count: Int?) {
        let figure = count.map { "\($0) values (\(Self.bytesText(Double($0) * Double(dtype.size))) as \(dtype.rawValue))" } ?? "more values than a 64-bit count holds"
        r.error(.tooLarge, "`\(item.typeName)` is too large: \(what) would need \(figure), more than the \(Self.bytesText(Double(limits.maxTensorBytes))) one tensor may use (raise the limit with \(SpecLimits.Option.maxTensorBytes))", at: item.typeNode)
    }

    static func bytesText(_ b: Double) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = b, i = 0
        while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(Int(v)) bytes" : String(format1: v) + " " + units[i]
    }

    mutating func readSeed(_ f: Field) -> UInt64? {
        guard case .scalar(let s, true) = f.value.value, !f.value.isNull, Reader.isInteger(s) else {
            _ = r.int(f)
            return nil
        }
        if s.hasPrefix("-") {
            r.error(.outOfRange, "`\(f.written)` must not be negative, found \(s)", at: f.value)
            return nil
        }
        guard let v = UInt64(s.hasPrefix("+") ? String(s.dropFirst()) : s) else {
            r.error(.numberOverflow, "`\(f.written)` is too large: \(s) (the largest seed is \(UInt64.max))", at: f.value)
            return nil
        }
        return v
    }

    /// A softmax activation is refused: the categorical likelihood applies softmax to the logits itself, and a
    /// second one would train a different model.
    mutating func activation(_ args: [String: Field], isLast: Bool = false) -> Activation {
        guard let f = args["activation_fn"] else { return .linear }
        return r.choice(f.value, name: f.written, what: "activation", options: Activation.allCases.map { ($0.rawValue, $0) }) { written in
            guard written.lowercased() == "softmax" else { return nil }
            return isLast ? "the categorical likelihood applies softmax to the last layer's outputs: leave `\(f.written)` out here"
                : "softmax is applied only by the categorical likelihood, to the network's outputs"
        } ?? .linear
    }

    mutating func initializer(_ f: Field?, default d: Initializer) -> Initializer {
        guard let f else { return d }
        guard let c = r.namedChoice(f.value, name: f.written) else { return d }
        let names = SpecCatalog.names(SpecCatalog.initializers)
        switch c.name {
        case "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros":
            if let a = c.arguments { r.error(.unexpectedArguments, "initializer `\(c.name)` takes no arguments", at: a) }
            return ["glorot_uniform": .glorotUniform, "glorot_normal": .glorotNormal, "he_uniform": .heUniform,
                    "he_normal": .heNormal, "zeros": .zeros][c.name]!
        case "random_normal":
            let keys = SpecCatalog.arguments(of: "random_normal", in: SpecCatalog.initializers)
            var stddev = keys.defaultNumber("stddev")
            if let a = c.arguments {
                let fs = r.fields(of: a, context: "`random_normal`", names: keys)
                if let s = fs["stddev"] { stddev = r.positiveDouble(s) ?? stddev }
            }
            return .randomNormal(stddev: stddev)
        default:
            r.error(.unknownValue, "unknown initializer `\(c.name)`; expected \(Reader.list(names))", at: c.nameNode,
                    help: Suggestions.help(for: c.name, among: names))
            return d
        }
    }

    mutating func variational(_ args: [String: Field], estimator: Estimator) -> Variational? {
        guard estimator != .deterministic else { return nil }
        var v = Variational()
        if let f = args["posterior"], let c = r.namedChoice(f.value, name: f.written) {
            if c.name == "normal_diag" {
                let keys = SpecCatalog.arguments(of: "normal_diag", in: SpecCatalog.posteriors)
                var scale = keys.defaultNumber("initial_scale")
                if let a = c.arguments {
                    let fs = r.fields(of: a, context: "`normal_diag`", names: keys)
                    if let s = fs["initial_scale"] { scale = r.positiveDouble(s) ?? scale }
                }
                v.posterior = .normalDiag(initialScale: scale)
            } else {
                let names = SpecCatalog.names(SpecCatalog.posteriors)
                r.error(.unknownValue, "unknown posterior `\(c.name)`; expected \(Reader.list(names))", at: c.nameNode, help: Suggestions.help(for: c.name, among: names))
            }
        }
        if let f = args["prior"], let c = r.namedChoice(f.value, name: f.written) {
            switch c.name {
            case "spike_and_slab":
                if let a = c.arguments { r.error(.unexpectedArguments, "prior `spike_and_slab` takes no arguments; use `scale_mixture: {pi, scale1, scale2}` to change them", at: a) }
                v.prior = .spikeAndSlab
            case "normal":
                let keys = SpecCatalog.arguments(of: "normal", in: SpecCatalog.priors)
                var loc = keys.defaultNumber("loc"), scale = keys.defaultNumber("scale")
                if let a = c.arguments {
                    let fs = r.fields(of: a, context: "`normal`", names: keys)
                    if let x = fs["loc"] { loc = r.double(x) ?? loc }
                    if let x = fs["scale"] { scale = r.positiveDouble(x) ?? scale }
                }
                v.prior = .normal(loc: loc, scale: scale)
            case "scale_mixture":
                let keys = SpecCatalog.arguments(of: "scale_mixture", in: SpecCatalog.priors)
                var pi = keys.defaultNumber("pi"), s1 = keys.defaultNumber("scale1"), s2 = keys.defaultNumber("scale2")
                if let a = c.arguments {
                    let fs = r.fields(of: a, context: "`scale_mixture`", names: keys)
                    if let x = fs["pi"], let p = r.double(x) {
                        if p < 0 || p > 1 { r.error(.outOfRange, "`pi` must be between 0 and 1, found \(x.value.scalar ?? "")", at: x.value) } else { pi = p }
                    }
                    if let x = fs["scale1"] { s1 = r.positiveDouble(x) ?? s1 }
                    if let x = fs["scale2"] { s2 = r.positiveDouble(x) ?? s2 }
                }
                v.prior = .scaleMixture(pi: pi, scale1: s1, scale2: s2)
            default:
                let names = SpecCatalog.names(SpecCatalog.priors)
                r.error(.unknownValue, "unknown prior `\(c.name)`; expected \(Reader.list(names))", at: c.nameNode, help: Suggestions.help(for: c.name, among: names))
            }
        }
        if let f = args["posterior_value"] {
            v.posteriorValue = r.choice(f.value, name: f.written, what: "posterior value", options: PosteriorValue.allCases.map { ($0.rawValue, $0) }) ?? .sample
        }
        if let f = args["penalty_weight"] { v.penaltyWeight = penaltyWeight(f) ?? .auto }
        if let f = args["signs"] {
            v.signs = r.choice(f.value, name: f.written, what: "sign sharing", options: SignSharing.allCases.map { ($0.rawValue, $0) }) ?? .perChannel
        }
        return v
    }

    mutating func penaltyWeight(_ f: Field) -> PenaltyWeight? {
        let node = f.value
        guard case .scalar(let s, true) = node.value, !node.isNull else {
            r.error(.wrongType, "`\(f.written)` must be `auto`, a number or a fraction such as `1/60000`, found \(node.kindDescription)", at: node)
            return nil
        }
        if s == "auto" { return .auto }
        let w: Double
        switch Reader.number(s) {
        case .value(let v): w = v
        case .divisionByZero:
            r.error(.divisionByZero, "`\(f.written)` divides by zero: \(s)", at: node)
            return nil
        case .invalid:
            r.error(.wrongType, "`\(f.written)` must be `auto`, a number or a fraction such as `1/60000`, found `\(s)`", at: node)
            return nil
        }
        guard w >= 0 else {
            r.error(.outOfRange, "`\(f.written)` must not be negative, found \(s)", at: node)
            return nil
        }
        return .value(w)
    }

    mutating func padding(_ f: Field?) -> Padding? {
        guard let f else { return .valid }
        if let s = f.value.scalar, s.lowercased() == "causal" {
            r.error(.unsupportedPadding, "`CAUSAL` padding is not supported; use `VALID` or `SAME`", at: f.value,
                    help: "pad the sequence yourself, or use `SAME` for an output as long as the input")
            return nil
        }
        return r.choice(f.value, name: f.written, what: "padding", options: Padding.allCases.map { ($0.rawValue, $0) }, caseInsensitive: true)
    }

    /// A per-dimension argument expanded to `rank` entries; a list must have 1 or `rank` entries.
    mutating func perDimension(_ f: Field?, rank: Int?, default d: Int, what: String) -> [Int]? {
        guard let f else { return rank.map { [Int](repeating: d, count: $0) } }
        guard let values = r.intList(f) else { return nil }
        guard let rank else { return nil }
        if values.count == 1 { return [Int](repeating: values[0], count: rank) }
        guard values.count == rank else {
            r.error(.listLength, "`\(f.written)` has \(values.count) entries; a rank-\(rank) \(what) takes 1 or \(rank)", at: f.value)
            return nil
        }
        return values
    }

    mutating func convolution(_ item: LayerItem, args: [String: Field], estimator: Estimator, input: [Int]?) -> (LayerOp?, [Int]?) {
        var rank: Int? = item.type.fixedRank ?? 2
        if let f = item.type.fixedRank == nil ? args["rank"] : item.arguments["rank"], let v = r.int(f) {
            if !(1...3).contains(v) {
                r.error(.outOfRange, "`rank` must be 1, 2 or 3, found \(v)", at: f.value)
                rank = nil
            } else if let fixed = item.type.fixedRank, fixed != v {
                r.error(.rankContradiction, "`rank: \(v)` contradicts `\(item.typeName)`, which is rank \(fixed)", at: f.value)
                rank = nil
            } else {
                rank = v
            }
        } else if item.type.fixedRank == nil, args["rank"] != nil {
            rank = nil
        }
        let outputSize = required(item, args, "output_size", alias: "filters").flatMap { r.positive($0) }
        let filterField = required(item, args, "filter_shape", alias: "kernel_size")
        let filter = filterField.flatMap { perDimension($0, rank: rank, default: 1, what: "convolution") }
        let strides = perDimension(args["strides"], rank: rank, default: 1, what: "convolution")
        let dilations = perDimension(args["dilations"], rank: rank, default: 1, what: "convolution")
        if let strides, let dilations, strides.contains(where: { $0 > 1 }), dilations.contains(where: { $0 > 1 }), let f = args["dilations"] {
            r.error(.dilationWithStride, "`\(f.written)` greater than 1 together with `strides` greater than 1 in one layer is not supported (TFP refuses it at the first call)", at: f.value,
                    help: "use `strides: 1` with dilations, or `dilations: 1` with strides")
        }
        let pad = padding(args["padding"])
        let act = activation(args, isLast: item.isLast)
        let kInit = initializer(args["kernel_initializer"], default: .glorotUniform)
        let bInit = initializer(args["bias_initializer"], default: .zeros)
        let vari = variational(args, estimator: estimator)
        let inputSizeField = args["input_size"]
        let declaredInput = inputSizeField.flatMap { r.positive($0) }

        guard let rank, let input else { return (nil, nil) }
        guard input.count == rank + 1 else {
            r.error(.inputShapeMismatch, "`\(item.typeName)` is a rank-\(rank) convolution and needs an input of \(rank) spatial dimension\(rank == 1 ? "" : "s") and channels, but its input has shape \(shapeText(input))",
                    at: item.typeNode, help: input.count == 1 ? "a flat input suits an affine layer" : nil)
            return (nil, nil)
        }
        let channels = input[rank]
        if let declaredInput, declaredInput != channels, let f = inputSizeField {
            r.error(.inputSizeMismatch, "`input_size: \(declaredInput)` does not match the input's \(channels) channels", at: f.value)
        }
        guard let outputSize, let filter, let strides, let dilations, let pad else { return (nil, nil) }
        var spatial: [Int] = []
        for d in 0..<rank {
            // The dilated filter spans (filter - 1) * dilation + 1 positions; compared without overflow.
            let extra = (filter[d] - 1).multipliedReportingOverflow(by: dilations[d])
            if pad == .valid && (extra.overflow || extra.partialValue >= input[d]) {
                let filterName = dilations[d] > 1 ? "dilated filter" : "filter"
                let comparison = extra.overflow || extra.partialValue == Int.max
                    ? "the input's \(input[d]) is smaller than the \(filterName)'s span, which exceeds \(Int.max)"
                    : "the input's \(input[d]) is \(extra.partialValue + 1 - input[d]) smaller than the \(filterName)'s \(extra.partialValue + 1)"
                r.error(.emptyOutput, "VALID convolution output would be empty along spatial dimension \(d + 1): \(comparison)",
                        at: item.typeNode, help: "use `padding: SAME`, a smaller filter, or a larger input")
                return (nil, nil)
            }
            spatial.append(pad == .same ? (input[d] - 1) / strides[d] + 1 : (input[d] - extra.partialValue - 1) / strides[d] + 1)
        }
        let conv = ConvolutionOp(rank: rank, inputSize: channels, outputSize: outputSize, filterShape: filter, strides: strides,
                               dilations: dilations, padding: pad, estimator: estimator, activation: act,
                               kernelInitializer: kInit, biasInitializer: bInit, variational: vari)
        let count = checkedProduct(conv.kernelShape + [1]).flatMap { checkedSum($0, outputSize) }.flatMap { checkedProduct([$0, vari != nil ? 2 : 1]) }
        guard let count, checkedProduct([count, dtype.size]).map({ $0 <= limits.maxTensorBytes }) == true else {
            tooLarge(item, what: "its parameters (kernel \(shapeText(conv.kernelShape)) and bias\(vari != nil ? ", loc and scale" : ""))", count: count)
            return (nil, nil)
        }
        return (.convolution(conv), spatial + [outputSize])
    }

    mutating func affine(_ item: LayerItem, args: [String: Field], estimator: Estimator, input: [Int]?) -> (LayerOp?, [Int]?) {
        let outputSize = required(item, args, "output_size", alias: "units").flatMap { r.positive($0) }
        let act = activation(args, isLast: item.isLast)
        let kInit = initializer(args["kernel_initializer"], default: .glorotUniform)
        let bInit = initializer(args["bias_initializer"], default: .zeros)
        let vari = variational(args, estimator: estimator)
        let inputSizeField = args["input_size"]
        let declaredInput = inputSizeField.flatMap { r.positive($0) }
        guard let input else { return (nil, nil) }
        guard input.count == 1 else {
            r.error(.inputShapeMismatch, "`\(item.typeName)` needs a flat input, but its input has shape \(shapeText(input))", at: item.typeNode,
                    help: "insert `- Flatten` before this layer")
            // The output does not depend on the input's shape, so the layers after this one are still checked.
            return (nil, outputSize.map { [$0] })
        }
        if let declaredInput, declaredInput != input[0], let f = inputSizeField {
            r.error(.inputSizeMismatch, "`input_size: \(declaredInput)` does not match the input's \(input[0]) features", at: f.value)
        }
        guard let outputSize else { return (nil, nil) }
        let a = AffineOp(inputSize: input[0], outputSize: outputSize, estimator: estimator, activation: act,
                       kernelInitializer: kInit, biasInitializer: bInit, variational: vari)
        let count = checkedProduct(a.kernelShape + [1]).flatMap { checkedSum($0, outputSize) }.flatMap { checkedProduct([$0, vari != nil ? 2 : 1]) }
        guard let count, checkedProduct([count, dtype.size]).map({ $0 <= limits.maxTensorBytes }) == true else {
            tooLarge(item, what: "its parameters (kernel \(shapeText(a.kernelShape)) and bias\(vari != nil ? ", loc and scale" : ""))", count: count)
            return (nil, nil)
        }
        return (.affine(a), [outputSize])
    }

    mutating func pool(_ item: LayerItem, args: [String: Field], kind: PoolOp.Kind, input: [Int]?) -> (LayerOp?, [Int]?) {
        let rank = input.map { $0.count - 1 }
        let validRank = rank.map { $0 >= 1 && $0 <= 3 } ?? false
        let size = perDimension(args["pool_size"], rank: validRank ? rank : nil, default: 2, what: "pooling")
        var strides = perDimension(args["strides"], rank: validRank ? rank : nil, default: 1, what: "pooling")
        if args["strides"] == nil { strides = size }
        let pad = padding(args["padding"])
        guard let input, let rank else { return (nil, nil) }
        if let fixed = item.type.fixedRank, fixed != rank {
            r.error(.inputShapeMismatch, "`\(item.typeName)` pools \(fixed) spatial dimension\(fixed == 1 ? "" : "s"), but its input has shape \(shapeText(input))", at: item.typeNode,
                    help: rank >= 1 && rank <= 3 ? "use `\(kind == .max ? "MaxPool" : "AvgPool")`, which takes its rank from the input" : nil)
            return (nil, nil)
        }
        guard validRank else {
            r.error(.inputShapeMismatch, "`\(item.typeName)` needs an input of 1 to 3 spatial dimensions and channels, but its input has shape \(shapeText(input))", at: item.typeNode)
            return (nil, nil)
        }
        guard let size, let strides, let pad else { return (nil, nil) }
        var spatial: [Int] = []
        for d in 0..<rank {
            if pad == .valid && input[d] < size[d] {
                r.error(.emptyOutput, "VALID pooling output would be empty along spatial dimension \(d + 1): the input's \(input[d]) is \(size[d] - input[d]) smaller than the window's \(size[d])",
                        at: item.typeNode, help: "use `padding: SAME` or a smaller `pool_size`")
                return (nil, nil)
            }
            spatial.append(pad == .same ? (input[d] - 1) / strides[d] + 1 : (input[d] - size[d]) / strides[d] + 1)
        }
        return (.pool(PoolOp(kind: kind, rank: rank, poolSize: size, strides: strides, padding: pad)), spatial + [input[rank]])
    }

    mutating func required(_ item: LayerItem, _ args: [String: Field], _ name: String, alias: String) -> Field? {
        if let f = args[name] { return f }
        r.error(.missingKey, "`\(item.typeName)` needs `\(name)` (Keras: `\(alias)`)", at: item.typeNode)
        return nil
    }

}

func checkedProduct(_ xs: [Int]) -> Int? {
    var p = 1
    for x in xs {
        let m = p.multipliedReportingOverflow(by: x)
        if m.overflow { return nil }
        p = m.partialValue
    }
    return p
}

func checkedSum(_ a: Int, _ b: Int) -> Int? {
    let s = a.addingReportingOverflow(b)
    return s.overflow ? nil : s.partialValue
}

/// A product that saturates at `Int.max` (for counts shown to people, never for sizes).
func saturatingProduct(_ xs: [Int]) -> Int { checkedProduct(xs) ?? Int.max }

func shapeText(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }

extension DType {
    /// Bytes per scalar.
    public var size: Int { self == .float32 ? 4 : 8 }
}

extension String {
    /// Three significant digits, without Foundation.
    init(format1 v: Double) {
        if v >= 100 { self = String(Int(v.rounded())) } else if v >= 10 { self = String(Double(Int((v * 10).rounded())) / 10) } else {
            self = String(Double(Int((v * 100).rounded())) / 100)
        }
    }
}
