import BayesNetFormats
import BayesNetSpec

/// Why `bayesnet diagnose` could not measure. `exitCode` follows the command-line conventions: 64 for a flag
/// that cannot be honoured, 1 for a spec, data or checkpoint that cannot be used.
public enum DiagnoseError: Error, CustomStringConvertible, Sendable, Equatable {
    case tooFewDraws(Int)
    case badBatch(Int)
    case noBatches
    case batchExceedsData(batch: Int, examples: Int)
    case unknownLayer(String, suggestion: String?, measurable: [String])
    /// A layer that exists but has no weight noise to measure (deterministic, or `posterior_value: mean`).
    case layerNotSampled(String)
    case noLikelihood
    case noSampledLayer
    case data(DataError)
    /// The plan, the weights or the training session could not be made.
    case cannotRun(RunError)
    case nonFinite(estimator: String, batch: Int)

    public var exitCode: Int32 {
        switch self {
        case .tooFewDraws, .badBatch, .noBatches, .batchExceedsData, .unknownLayer, .layerNotSampled: return 64
        case .noLikelihood, .noSampledLayer, .data, .cannotRun, .nonFinite: return 1
        }
    }

    public var description: String {
        switch self {
        case .tooFewDraws(let n):
            return "--draws must be at least \(GradientVariance.minimumDraws) (got \(n)): the standard error needs two groups of \(GradientVariance.minimumGroupSize) draws"
        case .badBatch(let n):
            return "--batches: every batch size must be at least 1 (got \(n))"
        case .noBatches:
            return "--batches names no batch size"
        case .batchExceedsData(let batch, let examples):
            return "--batches: a batch of \(batch) needs \(batch) training examples, the data has \(examples)"
        case .unknownLayer(let name, let suggestion, let measurable):
            let hint = suggestion.map { " (did you mean `\($0)`?)" } ?? ""
            return "--layers: the spec has no sampled variational layer `\(name)`\(hint); measurable: \(measurable.joined(separator: ", "))"
        case .layerNotSampled(let name):
            return "--layers: `\(name)` draws no weights (a deterministic layer, or `posterior_value: mean`), so its gradient has no weight noise to measure"
        case .noLikelihood:
            return "the spec has no `likelihood`, so there is no data term to differentiate (add e.g. `likelihood: categorical`)"
        case .noSampledLayer:
            return "the spec has no variational layer that samples its weights, so there is no weight noise to measure"
        case .data(let error): return error.description
        case .cannotRun(let error): return error.description
        case .nonFinite(let estimator, let batch):
            return "the \(estimator) gradient at batch \(batch) is NaN or infinite; the weights or the data hold values the network cannot use"
        }
    }
}
