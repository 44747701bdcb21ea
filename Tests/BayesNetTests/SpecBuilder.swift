import BayesNetSpec

/// Builds validated-looking IR directly, so the interpreter's tests do not depend on the YAML front-end.
enum SpecBuilder {
    static let here = SourceLocation(file: "<test>", line: 1, column: 1)

    static func variational(scale: Double = 1e-3, prior: Prior = .spikeAndSlab, penalty: PenaltyWeight = .auto,
                            signs: SignSharing = .perChannel, value: PosteriorValue = .sample) -> Variational {
        Variational(posterior: .normalDiag(initialScale: scale), prior: prior, posteriorValue: value,
                    penaltyWeight: penalty, signs: signs)
    }

    /// A convolution layer; `input` is the per-example input shape, channels last.
    static func conv(_ name: String, input: [Int], filters: Int, kernel: [Int], strides: [Int]? = nil,
                     dilations: [Int]? = nil, padding: Padding = .same, estimator: Estimator = .flipout,
                     activation: Activation = .relu, initializer: Initializer = .heUniform,
                     variational v: Variational? = variational()) -> Layer {
        let rank = input.count - 1
        let strides = strides ?? Array(repeating: 1, count: rank)
        let dilations = dilations ?? Array(repeating: 1, count: rank)
        var out: [Int] = []
        for d in 0..<rank {
            let eff = (kernel[d] - 1) * dilations[d] + 1
            out.append(padding == .same ? (input[d] + strides[d] - 1) / strides[d] : (input[d] - eff) / strides[d] + 1)
        }
        let c = ConvolutionOp(rank: rank, inputSize: input[rank], outputSize: filters, filterShape: kernel,
                            strides: strides, dilations: dilations, padding: padding, estimator: estimator,
                            activation: activation, kernelInitializer: initializer, biasInitializer: .zeros,
                            variational: estimator == .deterministic ? nil : v)
        return Layer(name: name, op: .convolution(c), typeName: "Conv\(rank)D", inputShape: input,
                     outputShape: out + [filters], location: here)
    }

    static func pool(_ name: String, input: [Int], size: Int = 2, kind: PoolOp.Kind = .max) -> Layer {
        let rank = input.count - 1
        let out = input.dropLast().map { ($0 + size - 1) / size } + [input[rank]]
        let p = PoolOp(kind: kind, rank: rank, poolSize: Array(repeating: size, count: rank),
                     strides: Array(repeating: size, count: rank), padding: .same)
        return Layer(name: name, op: .pool(p), typeName: kind == .max ? "MaxPool" : "AvgPool", inputShape: input,
                     outputShape: out, location: here)
    }

    static func flatten(_ name: String, input: [Int]) -> Layer {
        Layer(name: name, op: .flatten, typeName: "Flatten", inputShape: input, outputShape: [input.reduce(1, *)],
              location: here)
    }

    static func dense(_ name: String, inputs: Int, outputs: Int, estimator: Estimator = .flipout,
                      activation: Activation = .linear, variational v: Variational? = variational()) -> Layer {
        let a = AffineOp(inputSize: inputs, outputSize: outputs, estimator: estimator, activation: activation,
                       kernelInitializer: .glorotUniform, biasInitializer: .zeros,
                       variational: estimator == .deterministic ? nil : v)
        return Layer(name: name, op: .affine(a), typeName: "Dense", inputShape: [inputs], outputShape: [outputs],
                     location: here)
    }

    static func spec(name: String = "test", input: [Int], layers: [Layer], likelihood: Likelihood? = .categorical,
                     dtype: DType = .float32, seed: UInt64 = 7, train: TrainSpec = TrainSpec(),
                     evaluate: EvaluateSpec = EvaluateSpec(), text: String? = nil) -> ModelSpec {
        ModelSpec(version: 1, name: name, seed: seed, dtype: dtype, input: InputSpec(shape: input), layers: layers,
                  likelihood: likelihood,
                  data: DataSpec(train: .builtin(name: "digits", split: "train"), test: .builtin(name: "digits", split: "test")),
                  train: train, evaluate: evaluate,
                  source: SpecSource(path: "<test>", text: text ?? "name: \(name)\n"), locations: [:])
    }

    /// The LeNet-5 of the digits spec: two Flipout convolutions with max pooling, two Flipout affine layers.
    static func lenet(epochs: Int = 30, batch: Int = 64, learningRate: Double = 1e-3, scale: Double = 1e-3,
                      dtype: DType = .float32) -> ModelSpec {
        let v = variational(scale: scale)
        return spec(name: "digits-lenet5-flipout", input: [8, 8, 1], layers: [
            conv("conv_0", input: [8, 8, 1], filters: 6, kernel: [5, 5], variational: v),
            pool("max_pool_1", input: [8, 8, 6]),
            conv("conv_2", input: [4, 4, 6], filters: 16, kernel: [5, 5], variational: v),
            pool("max_pool_3", input: [4, 4, 16]),
            flatten("flatten_4", input: [2, 2, 16]),
            dense("affine_5", inputs: 64, outputs: 84, activation: .relu, variational: v),
            dense("logits", inputs: 84, outputs: 10, variational: v),
        ], dtype: dtype, seed: 42,
        train: TrainSpec(epochs: epochs, batchSize: batch, optimizer: .adam(learningRate: learningRate)),
        evaluate: EvaluateSpec(samples: 50))
    }
}
