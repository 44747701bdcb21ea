#if canImport(Glibc)
import BayesNetFormats
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Uncertainty of one example's prediction under S posterior samples (entropies in nats).
public struct ExampleUncertainty: Sendable, Equatable {
    /// Index of the largest mean probability (the lowest index on ties).
    public var predicted: Int
    /// That probability.
    public var confidence: Double
    /// Predictive entropy H[mean_s p_s]: total uncertainty.
    public var entropy: Double
    /// mean_s H[p_s]: aleatoric part.
    public var expectedEntropy: Double
    /// entropy − expectedEntropy: epistemic part (disagreement between samples), ≥ 0.
    public var mutualInformation: Double

    public init(predicted: Int, confidence: Double, entropy: Double, expectedEntropy: Double, mutualInformation: Double) {
        self.predicted = predicted
        self.confidence = confidence
        self.entropy = entropy
        self.expectedEntropy = expectedEntropy
        self.mutualInformation = mutualInformation
    }

    /// The row of an example that could not be predicted (its input was not finite): NaN throughout.
    public static let invalid = ExampleUncertainty(predicted: -1, confidence: .nan, entropy: .nan,
                                                   expectedEntropy: .nan, mutualInformation: .nan)
}

/// Collects the softmax outputs of posterior samples without keeping them: per example, the running sum of
/// probabilities and of each sample's entropy. Batches and samples may arrive in any order; every example
/// must in the end have received the same number of samples for the mean to be the usual one.
public struct PredictiveAccumulator: Sendable {
    public let examples: Int
    public let classes: Int
    private var probabilitySums: [Double]
    private var entropySums: [Double]
    /// Samples received per example.
    public private(set) var samples: [Int]

    public init(examples: Int, classes: Int) {
        self.examples = max(examples, 0)
        self.classes = max(classes, 1)
        probabilitySums = [Double](repeating: 0, count: self.examples * self.classes)
        entropySums = [Double](repeating: 0, count: self.examples)
        samples = [Int](repeating: 0, count: self.examples)
    }

    /// Adds one posterior sample's probabilities for examples `offset ..< offset + count`, row-major [count, classes].
    public mutating func add<S: BinaryFloatingPoint>(probabilities p: UnsafePointer<S>, count: Int, offset: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= examples, "examples \(offset)..<\(offset + count) outside 0..<\(examples)")
        let c = classes
        for n in 0..<count {
            let row = (offset + n) * c
            var h = 0.0
            for k in 0..<c {
                let v = Double(p[n * c + k])
                probabilitySums[row + k] += v
                if v > 0 { h -= v * log(v) } else if v.isNaN { h = .nan }
            }
            entropySums[offset + n] += h
            samples[offset + n] += 1
        }
    }

    /// Array form of `add(probabilities:count:offset:)`.
    public mutating func add<S: BinaryFloatingPoint>(_ probabilities: [S], offset: Int = 0) {
        precondition(probabilities.count % classes == 0, "probabilities are not a whole number of rows of \(classes)")
        probabilities.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            add(probabilities: base, count: buffer.count / classes, offset: offset)
        }
    }

    /// Mean predictive probabilities, [examples, classes] (zeros for an example that received no sample).
    public var meanProbabilities: [Double] {
        var out = probabilitySums
        for n in 0..<examples where samples[n] > 0 {
            let s = Double(samples[n])
            for k in 0..<classes { out[n * classes + k] /= s }
        }
        return out
    }

    public var perExample: [ExampleUncertainty] {
        let mean = meanProbabilities
        return (0..<examples).map { n in
            let row = mean[(n * classes)..<((n + 1) * classes)]
            var best = row.startIndex
            var h = 0.0
            for i in row.indices {
                if row[i] > row[best] { best = i }
                if row[i] > 0 { h -= row[i] * log(row[i]) } else if row[i].isNaN { h = .nan }
            }
            let expected = samples[n] > 0 ? entropySums[n] / Double(samples[n]) : 0
            // NaN probabilities (an overflowing network) must not read as a confident zero entropy.
            let information = h.isNaN || expected.isNaN ? Double.nan : max(0, h - expected)
            return ExampleUncertainty(
                predicted: best - row.startIndex, confidence: row[best], entropy: h,
                expectedEntropy: expected, mutualInformation: information)
        }
    }
}
