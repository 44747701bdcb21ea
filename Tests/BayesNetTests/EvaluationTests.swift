import Foundation
import Testing
@testable import BayesNet

private func near(_ a: Double, _ b: Double, _ tol: Double = 1e-12) -> Bool { abs(a - b) <= tol }

@Suite struct PredictiveAccumulatorTests {
    @Test func disagreeingSamplesAreAllEpistemic() {
        // Two confident samples that disagree: p̄ = [½, ½], H = log 2, each sample's entropy 0, MI = log 2.
        var acc = PredictiveAccumulator(examples: 1, classes: 2)
        acc.add([Float(1), 0])
        acc.add([Float(0), 1])
        let u = acc.perExample[0]
        #expect(acc.meanProbabilities == [0.5, 0.5])
        #expect(near(u.entropy, log(2)) && u.expectedEntropy == 0 && near(u.mutualInformation, log(2)))
        #expect(u.predicted == 0 && u.confidence == 0.5)
    }

    @Test func agreeingSamplesHaveNoMutualInformation() {
        var acc = PredictiveAccumulator(examples: 1, classes: 3)
        for _ in 0..<4 { acc.add([0.2, 0.3, 0.5]) }
        let u = acc.perExample[0]
        let h = -(0.2 * log(0.2) + 0.3 * log(0.3) + 0.5 * log(0.5))
        #expect(near(u.entropy, h, 1e-7) && near(u.expectedEntropy, h, 1e-7))
        #expect(u.mutualInformation < 1e-7 && u.predicted == 2)
    }

    @Test func batchesInAnyOrderGiveTheSameResult() {
        let s1: [Float] = [0.9, 0.1, 0.2, 0.8, 0.5, 0.5], s2: [Float] = [0.6, 0.4, 0.3, 0.7, 0.1, 0.9]
        var whole = PredictiveAccumulator(examples: 3, classes: 2)
        whole.add(s1)
        whole.add(s2)
        var parts = PredictiveAccumulator(examples: 3, classes: 2)
        parts.add(Array(s2[4...]), offset: 2)
        parts.add(Array(s1[..<4]), offset: 0)
        parts.add(Array(s1[4...]), offset: 2)
        parts.add(Array(s2[..<4]), offset: 0)
        #expect(parts.meanProbabilities == whole.meanProbabilities)
        #expect(parts.perExample == whole.perExample)
        #expect(parts.samples == [2, 2, 2])
    }
}

@Suite struct ClassificationMetricTests {
    // Three examples, one sample (deterministic predictions), labels 0, 1, 1.
    let probabilities: [Float] = [0.75, 0.25, 0.5, 0.5, 0.25, 0.75]
    let labels: [Int32] = [0, 1, 1]

    @Test func accuracyUsesArgmaxWithLowestIndexOnTies() {
        // Example 1 ties at [0.5, 0.5] → class 0 → wrong; examples 0 and 2 right.
        let (m, per) = Metrics.classification(sampleProbabilities: [probabilities], labels: labels, classes: 2)
        #expect(near(m.accuracy, 2.0 / 3))
        #expect(per.map(\.predicted) == [0, 0, 1])
    }

    @Test func nllIsOfTheTrueClass() {
        let (m, _) = Metrics.classification(sampleProbabilities: [probabilities], labels: labels, classes: 2)
        #expect(near(m.nll, -(log(0.75) + log(0.5) + log(0.75)) / 3))
    }

    @Test func brierSumsOverClassesAndAveragesOverExamples() {
        // (0.25² + 0.25²) + (0.5² + 0.5²) + (0.25² + 0.25²) = 0.125 + 0.5 + 0.125.
        let (m, _) = Metrics.classification(sampleProbabilities: [probabilities], labels: labels, classes: 2)
        #expect(near(m.brier, 0.75 / 3))
    }

    @Test func eceWeighsEachBinsGap() {
        // Confidences 0.95 (right), 0.95 (wrong), 0.7 (right), 0.7 (right):
        // bin (14/15, 1]: accuracy ½, confidence 0.95; bin (10/15, 11/15]: accuracy 1, confidence 0.7.
        // ECE = ½ · 0.45 + ½ · 0.3 = 0.375.
        let p: [Float] = [0.95, 0.05, 0.95, 0.05, 0.3, 0.7, 0.7, 0.3]
        let (m, _) = Metrics.classification(sampleProbabilities: [p], labels: [0, 1, 1, 0], classes: 2)
        #expect(near(m.ece, 0.375, 1e-7))
        let bins = m.reliability.bins
        #expect(bins.count == 15)
        let top = bins[14], mid = bins[10]
        #expect(top.count == 2 && top.accuracy == 0.5 && near(top.meanConfidence ?? 0, 0.95, 1e-7))
        #expect(mid.count == 2 && mid.accuracy == 1 && near(mid.meanConfidence ?? 0, 0.7, 1e-7))
        #expect(m.reliability.count.reduce(0, +) == 4)
        #expect(near(mid.lower, 10.0 / 15) && near(mid.upper, 11.0 / 15))
    }

    @Test func emptyBinsHaveNoConfidenceOrAccuracy() {
        let (m, _) = Metrics.classification(sampleProbabilities: [[0.95, 0.05]], labels: [0], classes: 2)
        #expect(m.reliability.confidence.compactMap { $0 }.count == 1 && m.reliability.accuracy[14] == 1)
        #expect(m.reliability.confidence[0] == nil && m.reliability.accuracy[0] == nil && m.reliability.count[0] == 0)
    }

    @Test func perfectlyCalibratedCertaintyHasZeroError() {
        let (m, _) = Metrics.classification(sampleProbabilities: [[1, 0, 0, 1]], labels: [0, 1], classes: 2)
        #expect(m.accuracy == 1 && m.ece == 0 && m.brier == 0 && m.nll == 0 && m.entropy == 0)
    }

    @Test func zeroProbabilityOfTheTrueClassGivesFiniteNLL() {
        let (m, _) = Metrics.classification(sampleProbabilities: [[1, 0]], labels: [1], classes: 2)
        #expect(near(m.nll, -log(Metrics.probabilityFloor)))
    }

    @Test func uncertaintyMeansAverageOverExamples() {
        // Example 0: samples disagree (MI = log 2); example 1: both samples uniform (H = E[H] = log 2, MI = 0).
        let s1: [Float] = [1, 0, 0.5, 0.5], s2: [Float] = [0, 1, 0.5, 0.5]
        let (m, per) = Metrics.classification(sampleProbabilities: [s1, s2], labels: [0, 0], classes: 2)
        #expect(near(m.entropy, log(2)) && near(m.expectedEntropy, log(2) / 2) && near(m.mutualInformation, log(2) / 2))
        #expect(near(per[1].mutualInformation, 0) && near(per[0].mutualInformation, log(2)))
    }
}

@Suite struct RegressionMetricTests {
    @Test func rmseIsOfTheMeanPrediction() {
        // Sample means: (1 + 3) / 2 = 2 against 2.5, (0 + 0) / 2 = 0 against -1: sqrt((0.25 + 1) / 2).
        let m = Metrics.regression(samplePredictions: [[1, 0], [3, 0]], targets: [2.5, -1], scale: 1, examples: 2)
        #expect(near(m.rmse, (1.25 / 2).squareRoot(), 1e-7))
    }

    @Test func nllOfOneSampleIsGaussian() {
        // y = 1, μ = 0, σ = 2: ½ log(2π·4) + 1/8.
        let m = Metrics.regression(samplePredictions: [[0]], targets: [1], scale: 2, examples: 1)
        #expect(near(m.nll, 0.5 * log(8 * Double.pi) + 0.125))
    }

    @Test func predictiveStdAddsSampleSpreadToTheNoise() {
        // Means −1 and 1 (variance 1), σ = 1: sqrt(1 + 1).
        let m = Metrics.regression(samplePredictions: [[-1], [1]], targets: [0], scale: 1, examples: 1)
        #expect(near(m.predictiveStd, 2.0.squareRoot()))
    }

    @Test func nllOfSeveralSamplesIsOfTheMixture() {
        // y = 0 between means −1 and 1 (σ = 1): density N(1; 0, 1), so NLL = ½ log 2π + ½.
        let m = Metrics.regression(samplePredictions: [[-1], [1]], targets: [0], scale: 1, examples: 1)
        #expect(near(m.nll, 0.5 * log(2 * Double.pi) + 0.5))
        // Far from every mean, log-sum-exp keeps the value finite.
        let far = Metrics.regression(samplePredictions: [[1e6], [-1e6]], targets: [0], scale: 0.01, examples: 1)
        #expect(far.nll.isFinite && far.nll > 1e15)
    }

    @Test func crpsOfOneSampleIsTheGaussianClosedForm() {
        // CRPS(N(0, 1), y) = z(2Φ(z) − 1) + 2φ(z) − 1/√π at z = y.
        for y in [0.0, 0.75, -2.0] {  // exact in Float
            let m = Metrics.regression(samplePredictions: [[0]], targets: [Float(y)], scale: 1, examples: 1)
            let phi = exp(-0.5 * y * y) / (2 * Double.pi).squareRoot()
            let expected = y * (2 * Metrics.normalCDF(y) - 1) + 2 * phi - 1 / Double.pi.squareRoot()
            #expect(near(m.crps, expected, 1e-12), "y = \(y)")
        }
    }

    @Test func crpsOfAMixtureFallsAsItsSamplesAgreeWithTheTarget() {
        let spread = Metrics.regression(samplePredictions: [[-1], [1]], targets: [0], scale: 0.1, examples: 1)
        let agreed = Metrics.regression(samplePredictions: [[0], [0]], targets: [0], scale: 0.1, examples: 1)
        let single = Metrics.regression(samplePredictions: [[0]], targets: [0], scale: 0.1, examples: 1)
        #expect(agreed.crps < spread.crps)
        #expect(near(agreed.crps, single.crps, 1e-12))
    }

    @Test func coverageCountsTargetsInsideEachCentralInterval() {
        // One sample N(0, 1): targets at 0 (PIT 0.5), 1 (PIT 0.84) and 3 (PIT 0.9987).
        let m = Metrics.regression(samplePredictions: [[0, 0, 0]], targets: [0, 1, 3], scale: 1, examples: 3)
        #expect(Metrics.coverageLevels == [0.5, 0.8, 0.9, 0.95])
        #expect(m.coverage.map { ($0 * 3).rounded() } == [1, 2, 2, 2])
        #expect(near(m.pit[1], Metrics.normalCDF(1), 1e-12))
    }

    @Test func perValueUncertaintySplitsNoiseFromSampleSpread() {
        let m = Metrics.regression(samplePredictions: [[-1], [1]], targets: [0], scale: 0.5, examples: 1)
        let u = m.perValue[0]
        #expect(u.mean == 0 && u.aleatoricStd == 0.5 && near(u.epistemicStd, 1))
        #expect(near(u.std, (1 + 0.25).squareRoot()))
    }
}
