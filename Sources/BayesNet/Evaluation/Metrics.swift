#if canImport(Glibc)
import BayesNetFormats
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One equal-width confidence bin of a reliability diagram: examples whose confidence lies in (lower, upper]
/// (the first bin also takes confidence 0).
public struct ReliabilityBin: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var count: Int
    /// Mean confidence of the bin's examples (nil for an empty bin).
    public var meanConfidence: Double?
    /// Fraction of them classified correctly (nil for an empty bin).
    public var accuracy: Double?
}

/// The reliability diagram behind the ECE, bin by bin and as parallel columns (for JSON and charts).
public struct ReliabilityDiagram: Sendable, Equatable {
    public var bins: [ReliabilityBin]

    public var confidence: [Double?] { bins.map(\.meanConfidence) }
    public var accuracy: [Double?] { bins.map(\.accuracy) }
    public var count: [Int] { bins.map(\.count) }
}

public struct ClassificationMetrics: Sendable, Equatable {
    public var count: Int
    public var accuracy: Double
    /// Mean −log p̄(label) of the predictive mean, each probability floored at `Metrics.probabilityFloor`.
    public var nll: Double
    /// Expected calibration error: Σ_bins (n_b / N) |accuracy_b − confidence_b|.
    public var ece: Double
    /// Mean over examples of Σ_classes (p̄_c − onehot_c)².
    public var brier: Double
    /// Mean predictive entropy (nats).
    public var entropy: Double
    public var expectedEntropy: Double
    public var mutualInformation: Double
    public var reliability: ReliabilityDiagram
}

public struct RegressionScores: Sendable, Equatable {
    public var count: Int
    /// Root mean squared error of the mean prediction, over all target values.
    public var rmse: Double
    /// Mean over target values of −log of the predictive density: the mixture (1/S) Σ_s N(y; μ_s, scale²).
    public var nll: Double
    /// Mean over target values of the predictive mixture's standard deviation, sqrt(Var_s μ_s + scale²).
    public var predictiveStd: Double
    /// Mean continuous ranked probability score of the predictive mixture (same unit as the targets; lower is better).
    public var crps: Double = 0
    /// For each nominal level of `Metrics.coverageLevels`, the fraction of targets inside the predictive
    /// mixture's central interval of that probability: a calibrated model covers each level's share.
    public var coverage: [Double] = []
    /// Per target value: the predictive distribution and where the target fell in it.
    public var perValue: [RegressionUncertainty] = []
    /// Per target value: the predictive CDF at the target (the probability integral transform).
    public var pit: [Double] = []
}

public enum Metrics {
    /// Probabilities below this count as this in the NLL, so one confidently wrong example gives a large
    /// but finite loss (−log 1e-12 ≈ 27.6).
    public static let probabilityFloor = 1e-12

    /// probabilities: [samples][N*C] softmax outputs of S posterior samples; labels [N].
    public static func classification(
        sampleProbabilities: [[Float]], labels: [Int32], classes: Int, bins: Int = 15
    ) -> (ClassificationMetrics, perExample: [ExampleUncertainty]) {
        var acc = PredictiveAccumulator(examples: labels.count, classes: classes)
        for p in sampleProbabilities { acc.add(p) }
        return classification(acc, labels: labels, bins: bins)
    }

    /// Metrics of the predictive distribution collected in `accumulator`.
    public static func classification(
        _ accumulator: PredictiveAccumulator, labels: [Int32], bins: Int = 15
    ) -> (ClassificationMetrics, perExample: [ExampleUncertainty]) {
        precondition(labels.count == accumulator.examples, "\(labels.count) labels for \(accumulator.examples) examples")
        let classes = accumulator.classes
        let mean = accumulator.meanProbabilities
        let per = accumulator.perExample
        let n = labels.count
        let binCount = max(bins, 1)
        var binCounts = [Int](repeating: 0, count: binCount)
        var binConfidence = [Double](repeating: 0, count: binCount)
        var binCorrect = [Double](repeating: 0, count: binCount)
        var correct = 0.0, nll = 0.0, brier = 0.0, entropy = 0.0, expected = 0.0, mi = 0.0
        for i in 0..<n {
            let label = Int(labels[i])
            let u = per[i]
            let hit = u.predicted == label ? 1.0 : 0.0
            correct += hit
            let pTrue = label >= 0 && label < classes ? mean[i * classes + label] : 0
            nll -= log(max(pTrue, probabilityFloor))
            for k in 0..<classes {
                let d = mean[i * classes + k] - (k == label ? 1 : 0)
                brier += d * d
            }
            entropy += u.entropy
            expected += u.expectedEntropy
            mi += u.mutualInformation
            let b = min(max(Int((u.confidence * Double(binCount)).rounded(.up)) - 1, 0), binCount - 1)
            binCounts[b] += 1
            binConfidence[b] += u.confidence
            binCorrect[b] += hit
        }
        let total = Double(max(n, 1))
        var ece = 0.0
        var reliability: [ReliabilityBin] = []
        for b in 0..<binCount {
            let c = binCounts[b]
            let conf = c > 0 ? binConfidence[b] / Double(c) : nil
            let accuracy = c > 0 ? binCorrect[b] / Double(c) : nil
            if let conf, let accuracy { ece += Double(c) / total * abs(accuracy - conf) }
            reliability.append(ReliabilityBin(
                lower: Double(b) / Double(binCount), upper: Double(b + 1) / Double(binCount), count: c,
                meanConfidence: conf, accuracy: accuracy))
        }
        let metrics = ClassificationMetrics(
            count: n, accuracy: correct / total, nll: nll / total, ece: ece, brier: brier / total,
            entropy: entropy / total, expectedEntropy: expected / total, mutualInformation: mi / total,
            reliability: ReliabilityDiagram(bins: reliability))
        return (metrics, per)
    }

    /// The central intervals whose coverage a regression evaluation reports.
    public static let coverageLevels = [0.5, 0.8, 0.9, 0.95]

    /// samplePredictions: [samples][N*D] network outputs (the Gaussian means) of S posterior samples;
    /// targets [N*D]; scale: the likelihood's fixed standard deviation. The predictive distribution of each value
    /// is the mixture (1/S) Σ_s N(μ_s, scale²).
    public static func regression(samplePredictions: [[Float]], targets: [Float], scale: Double, examples: Int) -> RegressionScores {
        let m = targets.count
        let s = samplePredictions.count
        guard m > 0, s > 0 else { return RegressionScores(count: examples, rmse: 0, nll: 0, predictiveStd: 0) }
        precondition(samplePredictions.allSatisfy { $0.count == m }, "every sample needs one prediction per target value")
        let logNorm = 0.5 * log(2 * Double.pi * scale * scale) + log(Double(s))
        let perValue = RegressionUncertainty.of(sampleOutputs: samplePredictions, scale: scale)
        var squared = 0.0, nll = 0.0, std = 0.0, crps = 0.0
        var covered = [Int](repeating: 0, count: coverageLevels.count)
        var pit = [Double](repeating: 0, count: m)
        var terms = [Double](repeating: 0, count: s)
        var mu = [Double](repeating: 0, count: s)
        for j in 0..<m {
            let y = Double(targets[j])
            var cdf = 0.0, toTarget = 0.0
            for k in 0..<s {
                mu[k] = Double(samplePredictions[k][j])
                terms[k] = -0.5 * (y - mu[k]) * (y - mu[k]) / (scale * scale)
                cdf += normalCDF((y - mu[k]) / scale)
                toTarget += expectedAbsolute(mu[k] - y, scale)
            }
            // CRPS = E|X − y| − ½ E|X − X'|; X − X' of two components is N(μ_a − μ_b, 2 scale²).
            var spread = 0.0
            for a in 0..<s {
                for b in (a + 1)..<s { spread += 2 * expectedAbsolute(mu[a] - mu[b], scale * 2.0.squareRoot()) }
                spread += expectedAbsolute(0, scale * 2.0.squareRoot())
            }
            let n = Double(s)
            crps += toTarget / n - 0.5 * spread / (n * n)
            pit[j] = cdf / n
            for (i, level) in coverageLevels.enumerated() where abs(pit[j] - 0.5) <= level / 2 { covered[i] += 1 }
            std += perValue[j].std
            squared += (y - perValue[j].mean) * (y - perValue[j].mean)
            let top = terms.max()!
            let lse = top + log(terms.reduce(0) { $0 + exp($1 - top) })
            nll += logNorm - lse
        }
        let count = Double(m)
        return RegressionScores(
            count: examples, rmse: (squared / count).squareRoot(), nll: nll / count, predictiveStd: std / count,
            crps: crps / count, coverage: covered.map { Double($0) / count }, perValue: perValue, pit: pit)
    }

    /// Φ(z), the standard normal CDF.
    static func normalCDF(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }

    /// E|X| for X ~ N(μ, σ²): σ·2φ(μ/σ) + μ·(2Φ(μ/σ) − 1).
    static func expectedAbsolute(_ mu: Double, _ sigma: Double) -> Double {
        let z = mu / sigma
        return sigma * 2 * exp(-0.5 * z * z) / (2 * Double.pi).squareRoot() + mu * (2 * normalCDF(z) - 1)
    }
}

/// One predicted value under a normal likelihood: the predictive mixture (1/S) Σ_s N(μ_s, scale²) summarised by
/// its mean and standard deviation, split into the likelihood's noise and the spread across posterior samples.
public struct RegressionUncertainty: Sendable, Equatable {
    public var mean: Double
    /// sqrt(aleatoric² + epistemic²).
    public var std: Double
    /// The likelihood's scale: noise no amount of data removes.
    public var aleatoricStd: Double
    /// The standard deviation of μ_s across samples: what the model does not know.
    public var epistemicStd: Double

    public static let invalid = RegressionUncertainty(mean: .nan, std: .nan, aleatoricStd: .nan, epistemicStd: .nan)

    /// Per value of `sampleOutputs` ([samples][values]).
    public static func of(sampleOutputs: [[Float]], scale: Double) -> [RegressionUncertainty] {
        let s = Double(max(sampleOutputs.count, 1))
        let count = sampleOutputs.first?.count ?? 0
        return (0..<count).map { j in
            var mean = 0.0
            for sample in sampleOutputs { mean += Double(sample[j]) }
            mean /= s
            var variance = 0.0
            for sample in sampleOutputs { variance += (Double(sample[j]) - mean) * (Double(sample[j]) - mean) }
            variance /= s
            return RegressionUncertainty(mean: mean, std: (variance + scale * scale).squareRoot(), aleatoricStd: scale,
                                         epistemicStd: variance.squareRoot())
        }
    }
}
