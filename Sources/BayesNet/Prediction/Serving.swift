import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// What `bayesnet predict` computes for a batch of inputs.
public struct PredictionOutput: Sendable {
    /// The last layer's output averaged over the samples, `[N] + output shape` (NaN rows for invalid examples).
    public var outputs: [Float]
    /// Categorical only: the predictive class probabilities (mean of the samples' softmax), `[N, classes]`.
    public var probabilities: [Float]?
    /// Categorical only: per example, predictive entropy, expected entropy and mutual information (nats).
    public var uncertainty: [ExampleUncertainty]?
    /// Normal likelihood only: per output value (`[N] + output shape`, row-major), the predictive mean and
    /// its standard deviation split into aleatoric and epistemic parts.
    public var regression: [RegressionUncertainty]?
    /// Per example: false when its input held a value that is not finite (its outputs are NaN).
    public var valid: [Bool]
}

/// Prediction and evaluation from a checkpoint.
public enum Serving {
    /// The checkpoint a `--weights` argument names: a file as given, or a run folder's checkpoint.safetensors.
    public static func checkpointPath(_ weights: String) -> String {
        runFolder(weights).map { ($0 as NSString).appendingPathComponent("checkpoint.safetensors") } ?? weights
    }

    /// `weights` when it names a folder (a run folder), nil for a file.
    public static func runFolder(_ weights: String) -> String? {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: weights, isDirectory: &isFolder) && isFolder.boolValue ? weights : nil
    }

    /// Builds the plan of `spec` and loads the weights of the checkpoint at `weights`.
    static func network<S: TensorScalar>(_: S.Type, spec: ModelSpec, weights: String, seed: UInt64?, maxBatch: Int,
                                         limits: DataLimits = .default) throws(RunError) -> Network<S> {
        let checkpoint: (entries: [SafeTensors.Entry], info: CheckpointInfo?)
        do { checkpoint = try CheckpointIO.readWeights(path: weights, limits: limits) } catch { throw .weightsUnreadable(error) }
        let network: Network<S>
        do {
            network = try Network<S>(spec: spec, seed: seed ?? checkpoint.info?.seed ?? spec.seed ?? 0, trainingExamples: 0,
                                     maxBatch: maxBatch)
        } catch {
            throw .plan(error)
        }
        do {
            try CheckpointIO.restore(network, from: checkpoint.entries, optimizer: false, path: weights)
        } catch {
            throw .weightsUnreadable(error)
        }
        return network
    }

    /// Runs the network of `spec` with the checkpoint's weights over `inputs` (`count` examples, channels-last).
    /// Examples listed in `invalid` get NaN in every output.
    public static func predict(spec: ModelSpec, weights: String, inputs: [Float], count: Int, samples: Int,
                               posteriorMean: Bool, seed: UInt64? = nil, invalid: [Int] = [],
                               limits: DataLimits = .default) throws -> PredictionOutput {
        switch spec.dtype {
        case .float32: return try predict(Float.self, spec: spec, weights: weights, inputs: inputs, count: count, samples: samples, posteriorMean: posteriorMean, seed: seed, invalid: invalid, limits: limits)
        case .float64: return try predict(Double.self, spec: spec, weights: weights, inputs: inputs, count: count, samples: samples, posteriorMean: posteriorMean, seed: seed, invalid: invalid, limits: limits)
        }
    }

    static func predict<S: TensorScalar>(_: S.Type, spec: ModelSpec, weights: String, inputs: [Float], count: Int,
                                         samples: Int, posteriorMean: Bool, seed: UInt64?, invalid: [Int],
                                         limits: DataLimits) throws -> PredictionOutput {
        let net = try network(S.self, spec: spec, weights: weights, seed: seed, maxBatch: spec.evaluate.batchSize, limits: limits)
        let k = net.outputCount
        var valid = [Bool](repeating: true, count: count)
        for i in invalid { valid[i] = false }
        let passes = posteriorMean ? 1 : max(1, samples)
        var mean = [Float](repeating: 0, count: count * k)
        var output = PredictionOutput(outputs: [], probabilities: nil, uncertainty: nil, regression: nil, valid: valid)
        switch net.head {
        case .normal(let scale, _)?:
            // The predictive mixture's quantiles need every sample.
            let raw = Predictor.outputs(net, inputs: inputs, count: count, samples: samples, useMean: posteriorMean)
            for sample in raw {
                for i in 0..<mean.count { mean[i] += sample[i] / Float(raw.count) }
            }
            var rows = RegressionUncertainty.of(sampleOutputs: raw, scale: scale)
            for n in 0..<count where !valid[n] {
                for c in 0..<k { rows[n * k + c] = .invalid }
            }
            output.regression = rows
        case let head where k > 1 || head == .bernoulli:
            let accumulator = mean.withUnsafeMutableBufferPointer {
                Predictor.predictive(net, inputs: inputs, count: count, samples: samples, useMean: posteriorMean,
                                     meanOutputs: $0)
            }
            let classes = accumulator.classes
            var probabilities = accumulator.meanProbabilities.map(Float.init)
            var rows = accumulator.perExample
            for n in 0..<count where !valid[n] {
                for c in 0..<classes { probabilities[n * classes + c] = .nan }
                rows[n] = .invalid
            }
            output.probabilities = probabilities
            output.uncertainty = rows
        default:
            // One output and no classes: the mean output alone.
            Predictor.forEachPass(net, inputs: inputs, count: count, samples: samples, useMean: posteriorMean) { _, out in
                for i in 0..<mean.count { mean[i] += out[i] / Float(passes) }
            }
        }
        for n in 0..<count where !valid[n] {
            for c in 0..<k { mean[n * k + c] = .nan }
        }
        output.outputs = mean
        return output
    }

    /// `bayesnet evaluate`: the evaluation block of a run, from a checkpoint and the spec's test data.
    public static func evaluate(spec: ModelSpec, weights: String, samples: Int? = nil, seed: UInt64? = nil,
                                limits: DataLimits = .default) throws -> EvaluationResult {
        guard spec.likelihood != nil else {
            throw RunError.noLikelihood
        }
        let classes = spec.labelClasses
        guard let source = spec.data.test else {
            throw RunError.noTestData
        }
        let data: Dataset
        do {
            data = try DataLoader.load(source, spec: spec, classes: classes, limits: limits)
        } catch {
            throw RunError.wrapping(error)
        }
        if classes != nil && data.labels == nil {
            throw RunError.testDataLacksAnswers(labels: true)
        }
        if classes == nil && data.targets == nil {
            throw RunError.testDataLacksAnswers(labels: false)
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
