/// The resolved IR as JSON (`bayesnet compile`); the format is documented in docs/ir-json.md.
extension ModelSpec {
    /// Bumped when a field changes meaning or disappears; new fields may appear within a version.
    public static let compiledFormatVersion = 1

    public func compiledJSON() -> String {
        var w = JSONWriter()
        w.object { o in
            o.field("format", string: "bayesnet-ir")
            o.field("format_version", int: Self.compiledFormatVersion)
            o.field("spec_version", int: version)
            o.field("name", string: name)
            o.field("file", string: source.path)
            if let seed { o.field("seed") { $0.raw(String(seed)) } } else { o.fieldNull("seed") }
            o.field("dtype", string: dtype.rawValue)
            o.field("input") { w in
                w.object { o in
                    o.field("shape", ints: input.shape)
                    o.field("layout", string: input.layout.rawValue)
                }
            }
            o.field("layers") { w in
                w.array(layers) { w, layer in Self.write(layer, into: &w) }
            }
            o.field("likelihood") { w in
                switch likelihood {
                case nil: w.raw("null")
                case .categorical?: w.object { $0.field("name", string: "categorical") }
                case .bernoulli?: w.object { $0.field("name", string: "bernoulli") }
                case .normal(let scale)?:
                    w.object { o in
                        o.field("name", string: "normal")
                        o.field("scale", double: scale)
                    }
                }
            }
            o.field("data") { w in
                w.object { o in
                    for (key, source) in [("train", data.train), ("test", data.test)] {
                        o.field(key) { w in self.write(source, into: &w) }
                    }
                    switch data.validation {
                    case nil: o.fieldNull("validation")
                    case .fraction(let f)?: o.field("validation") { w in w.object { $0.field("fraction", double: f) } }
                    case .source(let source)?: o.field("validation") { w in self.write(source, into: &w) }
                    }
                }
            }
            o.field("train") { w in
                w.object { o in
                    o.field("epochs", int: train.epochs)
                    o.field("batch_size", int: train.batchSize)
                    o.field("samples", int: train.samples)
                    o.field("optimizer") { w in
                        w.object { o in
                            switch train.optimizer {
                            case .adam(let lr, let b1, let b2, let eps):
                                o.field("name", string: "adam")
                                o.field("learning_rate", double: lr)
                                o.field("beta_1", double: b1)
                                o.field("beta_2", double: b2)
                                o.field("epsilon", double: eps)
                            case .sgd(let lr, let momentum):
                                o.field("name", string: "sgd")
                                o.field("learning_rate", double: lr)
                                o.field("momentum", double: momentum)
                            }
                        }
                    }
                    o.field("schedule") { w in
                        w.object { o in
                            switch train.schedule.kind {
                            case .constant: o.field("name", string: "constant")
                            case .cosine(let final):
                                o.field("name", string: "cosine")
                                o.field("final_fraction", double: final)
                            case .step(let every, let factor):
                                o.field("name", string: "step")
                                o.field("every_epochs", int: every)
                                o.field("factor", double: factor)
                            case .exponential(let factor):
                                o.field("name", string: "exponential")
                                o.field("factor", double: factor)
                            }
                            o.field("warmup_epochs", int: train.schedule.warmupEpochs)
                        }
                    }
                    o.field("kl_warmup_epochs", int: train.klWarmupEpochs)
                    if let b = train.gradientBlockSize { o.field("gradient_block_size", int: b) } else { o.fieldNull("gradient_block_size") }
                    if let e = train.earlyStopping {
                        o.field("early_stopping") { w in
                            w.object { o in
                                o.field("patience", int: e.patience)
                                o.field("min_delta", double: e.minDelta)
                            }
                        }
                    } else {
                        o.fieldNull("early_stopping")
                    }
                }
            }
            o.field("evaluate") { w in
                w.object { o in
                    o.field("samples", int: evaluate.samples)
                    o.field("batch_size", int: evaluate.batchSize)
                    o.field("mc_dropout", bool: evaluate.mcDropout)
                }
            }
            let rows = layerSummaries
            o.field("totals") { w in
                w.object { o in
                    o.field("parameters", int: rows.reduce(0) { checkedSum($0, $1.parameters) ?? Int.max })
                    o.field("macs", int: rows.reduce(0) { checkedSum($0, $1.macs) ?? Int.max })
                }
            }
            o.field("locations") { w in Self.write(locations, into: &w) }
        }
        return w.text + "\n"
    }

    private func write(_ source: DataSource?, into w: inout JSONWriter) {
        switch source {
        case nil: w.raw("null")
        case .builtin(let name, let split)?:
            w.object { o in
                o.field("builtin", string: name)
                o.field("split", string: split)
            }
        case .files(let format, let x, let y, let scale)?:
            w.object { o in
                o.field("format", string: format.rawValue)
                o.field("x", string: x)
                o.field("x_resolved", string: resolve(path: x))
                if let y {
                    o.field("y", string: y)
                    o.field("y_resolved", string: resolve(path: y))
                } else {
                    o.fieldNull("y")
                    o.fieldNull("y_resolved")
                }
                if let scale { o.field("scale", double: scale) } else { o.fieldNull("scale") }
            }
        }
    }

    private static func write(_ locations: [String: SourceLocation], into w: inout JSONWriter) {
        w.object { o in
            for key in locations.keys.sorted() {
                let l = locations[key]!
                o.field(key) { $0.raw("{\"line\": \(l.line), \"column\": \(l.column)}") }
            }
        }
    }

    private static func write(_ i: Initializer, into w: inout JSONWriter) {
        w.object { o in
            switch i {
            case .glorotUniform: o.field("name", string: "glorot_uniform")
            case .glorotNormal: o.field("name", string: "glorot_normal")
            case .heUniform: o.field("name", string: "he_uniform")
            case .heNormal: o.field("name", string: "he_normal")
            case .zeros: o.field("name", string: "zeros")
            case .randomNormal(let s):
                o.field("name", string: "random_normal")
                o.field("stddev", double: s)
            }
        }
    }

    private static func write(_ v: Variational?, into w: inout JSONWriter) {
        guard let v else { return w.raw("null") }
        w.object { o in
            o.field("posterior") { w in
                w.object { o in
                    switch v.posterior {
                    case .normalDiag(let s):
                        o.field("name", string: "normal_diag")
                        o.field("initial_scale", double: s)
                    }
                }
            }
            o.field("prior") { w in
                w.object { o in
                    switch v.prior {
                    case .normal(let loc, let scale):
                        o.field("name", string: "normal")
                        o.field("loc", double: loc)
                        o.field("scale", double: scale)
                    case .scaleMixture(let pi, let s1, let s2):
                        o.field("name", string: "scale_mixture")
                        o.field("pi", double: pi)
                        o.field("scale1", double: s1)
                        o.field("scale2", double: s2)
                    }
                }
            }
            o.field("posterior_value", string: v.posteriorValue.rawValue)
            switch v.penaltyWeight {
            case .auto: o.field("penalty_weight", string: "auto")
            case .value(let x): o.field("penalty_weight", double: x)
            }
            o.field("signs", string: v.signs.rawValue)
        }
    }

    private static func write(_ layer: Layer, into w: inout JSONWriter) {
        let row = layer.summary
        w.object { o in
            o.field("name", string: layer.name)
            o.field("type_name", string: layer.typeName)
            o.field("inputs") { $0.inlineArray(layer.inputs.map(JSONWriter.quoted)) }
            o.field("input_shape", ints: layer.inputShape)
            o.field("input_shapes") { $0.inlineArray(layer.inputShapes.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }) }
            o.field("output_shape", ints: layer.outputShape)
            switch layer.op {
            case .convolution(let c):
                o.field("op", string: "convolution")
                o.field("estimator", string: c.estimator.rawValue)
                o.field("rank", int: c.rank)
                o.field("input_size", int: c.inputSize)
                o.field("output_size", int: c.outputSize)
                o.field("filter_shape", ints: c.filterShape)
                o.field("strides", ints: c.strides)
                o.field("dilations", ints: c.dilations)
                o.field("padding", string: c.padding.rawValue)
                o.field("kernel_shape", ints: c.kernelShape)
                o.field("activation", string: c.activation.rawValue)
                o.field("kernel_initializer") { write(c.kernelInitializer, into: &$0) }
                o.field("bias_initializer") { write(c.biasInitializer, into: &$0) }
                o.field("variational") { write(c.variational, into: &$0) }
            case .affine(let a):
                o.field("op", string: "affine")
                o.field("estimator", string: a.estimator.rawValue)
                o.field("input_size", int: a.inputSize)
                o.field("output_size", int: a.outputSize)
                o.field("kernel_shape", ints: a.kernelShape)
                o.field("activation", string: a.activation.rawValue)
                o.field("kernel_initializer") { write(a.kernelInitializer, into: &$0) }
                o.field("bias_initializer") { write(a.biasInitializer, into: &$0) }
                o.field("variational") { write(a.variational, into: &$0) }
            case .pool(let p):
                o.field("op", string: p.kind == .max ? "max_pool" : "avg_pool")
                o.field("rank", int: p.rank)
                o.field("pool_size", ints: p.poolSize)
                o.field("strides", ints: p.strides)
                o.field("padding", string: p.padding.rawValue)
            case .flatten:
                o.field("op", string: "flatten")
            case .add:
                o.field("op", string: "add")
            case .concatenate(let axis):
                o.field("op", string: "concatenate")
                o.field("axis", int: axis)
            case .batchNormalization(let b):
                o.field("op", string: "batch_normalization")
                o.field("channels", int: b.channels)
                o.field("momentum", double: b.momentum)
                o.field("epsilon", double: b.epsilon)
                o.field("center", bool: b.center)
                o.field("scale", bool: b.scale)
            case .dropout(let rate):
                o.field("op", string: "dropout")
                o.field("rate", double: rate)
            case .globalPool(let g):
                o.field("op", string: g.kind == .max ? "global_max_pool" : "global_avg_pool")
                o.field("rank", int: g.rank)
            case .activation(let a):
                o.field("op", string: "activation")
                o.field("activation", string: a.rawValue)
            }
            if let seed = layer.seed { o.field("seed") { $0.raw(String(seed)) } } else { o.fieldNull("seed") }
            o.field("parameters", int: row.parameters)
            o.field("macs", int: row.macs)
            o.field("location") { $0.raw("{\"line\": \(layer.location.line), \"column\": \(layer.location.column)}") }
            o.field("argument_locations") { write(layer.argumentLocations, into: &$0) }
        }
    }
}
