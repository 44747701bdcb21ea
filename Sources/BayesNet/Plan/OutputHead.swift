import BayesNetFormats
import BayesNetSpec

/// What the network's outputs mean, decided once from the spec's likelihood when the plan is built. The
/// training loss, the evaluation, prediction and the data checks read this instead of the IR's likelihood.
public enum OutputHead: Sendable, Equatable {
    /// Softmax logits over `classes` classes; labels index them.
    case categorical(classes: Int)
    /// One logit per example; labels are 0 or 1.
    case bernoulli
    /// `values` targets per example under a normal likelihood of fixed `scale`.
    case normal(scale: Double, values: Int)

    /// Nil for a spec without a likelihood (it can predict, not train or be scored).
    public init?(spec: ModelSpec) {
        switch spec.likelihood {
        case .categorical?: self = .categorical(classes: spec.outputShape.reduce(1, *))
        case .bernoulli?: self = .bernoulli
        case .normal(let scale)?: self = .normal(scale: scale, values: spec.outputShape.reduce(1, *))
        case nil: return nil
        }
    }

    /// The classes labels index (2 for Bernoulli); nil for regression.
    public var labelClasses: Int? {
        switch self {
        case .categorical(let classes): return classes
        case .bernoulli: return 2
        case .normal: return nil
        }
    }

    /// The first label outside `0 ..< labelClasses`: the one rule for labels, applied by the file loader (which
    /// names the file) and by the plan's check of any data set.
    public static func firstLabelOutOfRange(_ labels: [Int32], classes: Int) -> (example: Int, label: Int32)? {
        labels.firstIndex { $0 < 0 || Int($0) >= classes }.map { ($0, labels[$0]) }
    }

    /// Data problems the loaders cannot see without the plan: example shape, label range, target size.
    func check(_ data: Dataset, inputShape: [Int], role: DataRole) throws(DataMismatch) {
        if data.exampleShape.reduce(1, *) != inputShape.reduce(1, *) {
            throw .exampleShape(role: role, data: data.exampleShape, input: inputShape)
        }
        if data.count == 0 { throw .noExamples(role: role) }
        if let classes = labelClasses {
            guard let labels = data.labels, labels.count == data.count else { throw .noLabels(role: role) }
            if let bad = Self.firstLabelOutOfRange(labels, classes: classes) {
                throw .labelOutOfRange(role: role, label: bad.label, example: bad.example, classes: classes)
            }
        } else if case .normal(_, let per) = self {
            guard let targets = data.targets, targets.count == data.count * per else {
                throw .targetCount(role: role, perExample: per)
            }
        }
    }
}
