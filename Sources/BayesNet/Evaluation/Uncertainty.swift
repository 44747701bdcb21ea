import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// How well a score separates two sets: out-of-distribution examples (the positives) from in-distribution ones.
public struct Separation: Sendable, Equatable {
    /// The probability that a random positive scores above a random negative (ties count half).
    public var auroc: Double
    /// Average precision with the positives as the class to find, stepping over distinct score thresholds.
    public var aupr: Double

    public init(positives: [Double], negatives: [Double]) {
        let all = positives.map { ($0, true) } + negatives.map { ($0, false) }
        let p = Double(positives.count), n = Double(negatives.count)
        guard p > 0, n > 0 else {
            self.init(auroc: .nan, aupr: .nan)
            return
        }
        // AUROC from average ranks (Mann-Whitney U), ties sharing their rank.
        let ascending = all.sorted { $0.0 < $1.0 }
        var rankSum = 0.0, i = 0
        while i < ascending.count {
            var j = i
            while j + 1 < ascending.count && ascending[j + 1].0 == ascending[i].0 { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j where ascending[k].1 { rankSum += rank }
            i = j + 1
        }
        let auroc = (rankSum - p * (p + 1) / 2) / (p * n)
        // Average precision, thresholds from the highest score down.
        let descending = all.sorted { $0.0 > $1.0 }
        var tp = 0.0, fp = 0.0, recall = 0.0, ap = 0.0
        i = 0
        while i < descending.count {
            var j = i
            while j + 1 < descending.count && descending[j + 1].0 == descending[i].0 { j += 1 }
            for k in i...j { if descending[k].1 { tp += 1 } else { fp += 1 } }
            let r = tp / p
            ap += (r - recall) * tp / (tp + fp)
            recall = r
            i = j + 1
        }
        self.init(auroc: auroc, aupr: ap)
    }

    public init(auroc: Double, aupr: Double) {
        self.auroc = auroc
        self.aupr = aupr
    }
}

/// `evaluate --ood`: predictive entropy and mutual information on the test set and on out-of-distribution inputs.
public struct OODResult: Sendable {
    public var inDistribution: [ExampleUncertainty]
    public var outOfDistribution: [ExampleUncertainty]
    public var entropy: Separation
    public var mutualInformation: Separation

    public init(inDistribution: [ExampleUncertainty], outOfDistribution: [ExampleUncertainty]) {
        self.inDistribution = inDistribution
        self.outOfDistribution = outOfDistribution
        entropy = Separation(positives: outOfDistribution.map(\.entropy), negatives: inDistribution.map(\.entropy))
        mutualInformation = Separation(positives: outOfDistribution.map(\.mutualInformation),
                                       negatives: inDistribution.map(\.mutualInformation))
    }

    /// ood.json.
    public var study: OODStudy {
        func scores(_ rows: [ExampleUncertainty]) -> OODStudy.Scores {
            .init(entropy: rows.map(\.entropy), mutualInformation: rows.map(\.mutualInformation))
        }
        return OODStudy(inExamples: inDistribution.count, outExamples: outOfDistribution.count,
                        entropy: .init(auroc: entropy.auroc, aupr: entropy.aupr),
                        mutualInformation: .init(auroc: mutualInformation.auroc, aupr: mutualInformation.aupr),
                        in: scores(inDistribution), out: scores(outOfDistribution))
    }
}

/// One level of `evaluate --shift`.
public struct ShiftRow: Sendable {
    public var level: Double
    public var metrics: ClassificationMetrics

    /// shift.json of a sweep.
    public static func study(kind: String, _ rows: [ShiftRow]) -> ShiftStudy {
        ShiftStudy(kind: kind, rows: rows.map { r in
            .init(level: r.level, accuracy: r.metrics.accuracy, nll: r.metrics.nll, ece: r.metrics.ece,
                  entropy: r.metrics.entropy, mutualInformation: r.metrics.mutualInformation)
        })
    }
}

extension Serving {
    /// The S-sample predictive of a classifier over `data`: its metrics and each example's uncertainty.
    static func classify<S: TensorScalar>(_ network: Network<S>, data: Dataset, samples: Int) -> (ClassificationMetrics, [ExampleUncertainty]) {
        let predictive = Predictor.predictive(network, inputs: data.inputs, count: data.count, samples: samples, useMean: false)
        let labels = data.labels ?? [Int32](repeating: 0, count: data.count)
        return Metrics.classification(predictive, labels: labels)
    }

    /// `evaluate --ood PATH` and `--shift`: the spec's test set against inputs from `ood` (read and scaled as
    /// `predict` reads them), and the test set under each level of `shift`.
    public static func uncertaintyStudy(spec: ModelSpec, weights: String, samples: Int?, seed: UInt64?, ood: String?,
                                        shift: Shift?, limits: DataLimits = .default) throws -> (ood: OODResult?, shift: [ShiftRow]) {
        guard spec.labelClasses != nil else {
            throw RunError.notAClassifier
        }
        guard let source = spec.data.test else { throw RunError.noTestData }
        let test: Dataset, outside: InputFile?
        do {
            test = try DataLoader.load(source, spec: spec, classes: spec.labelClasses, limits: limits)
            outside = try ood.map { try DataLoader.inputs(path: $0, spec: spec, scale: InputTransform(spec: spec).scale, allowNonFinite: false, limits: limits) }
        } catch {
            throw RunError.wrapping(error)
        }
        let s = samples ?? spec.evaluate.samples
        func run<S: TensorScalar>(_: S.Type) throws -> (OODResult?, [ShiftRow]) {
            let net = try network(S.self, spec: spec, weights: weights, seed: seed, maxBatch: spec.evaluate.batchSize, limits: limits)
            var result: OODResult?
            if let outside {
                let (_, inside) = classify(net, data: test, samples: s)
                let other = Dataset(exampleShape: spec.input.shape, count: outside.count, inputs: outside.values)
                result = OODResult(inDistribution: inside, outOfDistribution: classify(net, data: other, samples: s).1)
            }
            let rows = (shift?.levels ?? []).map { level in
                ShiftRow(level: level, metrics: classify(net, data: shift!.apply(to: test, level: level, seed: net.seed), samples: s).0)
            }
            return (result, rows)
        }
        switch spec.dtype {
        case .float32: return try run(Float.self)
        case .float64: return try run(Double.self)
        }
    }
}
