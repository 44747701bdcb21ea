import Foundation
import BayesNetRuntime
import BayesNetSpec

/// What `bayesnet predict` computes for a batch of inputs.
public struct PredictionOutput: Sendable {
    /// The last layer's output averaged over the samples, `[N] + output shape`.
    public var outputs: [Float]
    /// Categorical only: the predictive class probabilities (mean of the samples' softmax), `[N, classes]`.
    public var probabilities: [Float]?
    /// Categorical only: per example (predictive entropy, expected entropy, mutual information), nats.
    public var uncertainty: [(entropy: Double, expectedEntropy: Double, mutualInformation: Double)]?
}

/// Prediction and evaluation from a checkpoint.
public enum Serving {
    /// Builds the plan of `spec` and loads the weights of the checkpoint at `weights`.
    static func network<S: TensorScalar>(_: S.Type, spec: ModelSpec, weights: String, seed: UInt64?, maxBatch: Int,
                                         limits: DataLimits = .default) throws -> Network<S> {
        let (entries, info) = try CheckpointIO.read(path: weights, limits: limits)
        let network = try Network<S>(spec: spec, seed: seed ?? info.seed, trainingExamples: 0, maxBatch: maxBatch)
        try CheckpointIO.restore(network, from: entries, optimizer: false, path: weights)
        return network
    }

    /// Runs the network of `spec` with the checkpoint's weights over `inputs` (`count` examples, channels-last).
    public static func predict(spec: ModelSpec, weights: String, inputs: [Float], count: Int, samples: Int,
                               posteriorMean: Bool, seed: UInt64? = nil, limits: DataLimits = .default) throws -> PredictionOutput {
        switch spec.dtype {
        case .float32: return try predict(Float.self, spec: spec, weights: weights, inputs: inputs, count: count, samples: samples, posteriorMean: posteriorMean, seed: seed, limits: limits)
        case .float64: return try predict(Double.self, spec: spec, weights: weights, inputs: inputs, count: count, samples: samples, posteriorMean: posteriorMean, seed: seed, limits: limits)
        }
    }

    static func predict<S: TensorScalar>(_: S.Type, spec: ModelSpec, weights: String, inputs: [Float], count: Int,
                                         samples: Int, posteriorMean: Bool, seed: UInt64?, limits: DataLimits) throws -> PredictionOutput {
        let net = try network(S.self, spec: spec, weights: weights, seed: seed, maxBatch: spec.evaluate.batchSize, limits: limits)
        let raw = Predictor.outputs(net, inputs: inputs, count: count, samples: samples, useMean: posteriorMean)
        let k = net.outputCount
        var mean = [Float](repeating: 0, count: count * k)
        for sample in raw {
            for i in 0..<mean.count { mean[i] += sample[i] / Float(raw.count) }
        }
        guard spec.likelihood == .categorical || spec.likelihood == nil, k > 1 else {
            return PredictionOutput(outputs: mean, probabilities: nil, uncertainty: nil)
        }
        let probs = Predictor.softmax(raw, classes: k)
        var predictive = [Float](repeating: 0, count: count * k)
        var rows: [(entropy: Double, expectedEntropy: Double, mutualInformation: Double)] = []
        for n in 0..<count {
            var expected = 0.0
            for p in probs {
                for c in 0..<k {
                    let q = Double(p[n * k + c])
                    predictive[n * k + c] += Float(q / Double(probs.count))
                    if q > 0 { expected -= q * log(q) / Double(probs.count) }
                }
            }
            var entropy = 0.0
            for c in 0..<k {
                let q = Double(predictive[n * k + c])
                if q > 0 { entropy -= q * log(q) }
            }
            rows.append((entropy, expected, max(entropy - expected, 0)))
        }
        return PredictionOutput(outputs: mean, probabilities: predictive, uncertainty: rows)
    }

    /// `bayesnet evaluate`: the evaluation block of a run, from a checkpoint and the spec's test data.
    public static func evaluate(spec: ModelSpec, weights: String, samples: Int? = nil, seed: UInt64? = nil,
                                limits: DataLimits = .default) throws -> EvaluationResult {
        guard spec.likelihood != nil else {
            throw RunError("the spec has no `likelihood`, so there is nothing to score its predictions by")
        }
        let classes = spec.likelihood == .categorical ? spec.outputShape.reduce(1, *) : nil
        guard let source = spec.data.test else {
            throw RunError("the spec has no `data.test` to evaluate on")
        }
        let data: Dataset
        do {
            data = try DataLoader.load(source, spec: spec, classes: classes, limits: limits)
        } catch {
            throw RunError("\(error)")
        }
        if classes != nil && data.labels == nil {
            throw RunError("the test data has no labels to evaluate against")
        }
        if classes == nil && data.targets == nil {
            throw RunError("the test data has no targets to evaluate against")
        }
        let s = samples ?? spec.evaluate.samples
        switch spec.dtype {
        case .float32:
            return Evaluation.evaluate(try network(Float.self, spec: spec, weights: weights, seed: seed, maxBatch: spec.evaluate.batchSize, limits: limits), data: data, samples: s)
        case .float64:
            return Evaluation.evaluate(try network(Double.self, spec: spec, weights: weights, seed: seed, maxBatch: spec.evaluate.batchSize, limits: limits), data: data, samples: s)
        }
    }

    /// Moves channels from axis 1 to the last axis: `[N, C] + spatial` → `[N] + spatial + [C]`.
    public static func channelsLast(_ values: [Float], count: Int, exampleShape: [Int]) -> [Float] {
        let channels = exampleShape.last ?? 1
        let positions = exampleShape.dropLast().reduce(1, *)
        var out = [Float](repeating: 0, count: values.count)
        for n in 0..<count {
            let base = n * positions * channels
            for c in 0..<channels {
                for p in 0..<positions { out[base + p * channels + c] = values[base + c * positions + p] }
            }
        }
        return out
    }
}
