import Foundation
import Testing
@testable import BayesNetRuntime

@Suite struct LossTests {
    @Test func crossEntropyGradientEqualsFiniteDifferences() {
        var rng = TestRandom(31)
        let batch = 3, classes = 5
        let logits: [Double] = rng.array(batch * classes, -4, 4)
        let labels: [Int32] = [4, 0, 2]
        var d = [Double](repeating: .nan, count: logits.count)
        _ = Losses.softmaxCrossEntropy(logits: logits, labels: labels, batch: batch, classes: classes, dlogits: &d)
        let numeric = numericGradient(logits) { z in
            Losses.softmaxCrossEntropy(logits: z, labels: labels, batch: batch, classes: classes, dlogits: nil)
        }
        #expect(maxError(d, numeric) < 1e-7)
    }

    @Test func crossEntropyIsTheMeanNegativeLogLikelihood() {
        let logits: [Double] = [0, 0, _clog(2), 1, 1, 1]
        let loss = Losses.softmaxCrossEntropy(logits: logits, labels: [2, 0], batch: 2, classes: 3, dlogits: nil)
        // Row 1: p = 2/4; row 2: p = 1/3.
        #expect(abs(loss - (_clog(2) + _clog(3)) / 2) < 1e-12)
    }

    @Test func crossEntropyIsStableForHugeLogits() {
        let logits: [Float] = [1000, -1000, 0, 1e30]
        var d = [Float](repeating: 0, count: 4)
        let loss = Losses.softmaxCrossEntropy(logits: logits, labels: [1, 1], batch: 2, classes: 2, dlogits: &d)
        #expect(loss.isFinite)
        // Row 1 costs 2000 (label at -1000 against 1000), row 2 costs nothing (label at 1e30 against 0).
        #expect(abs(loss - 1000) < 1e-3)
        #expect(d.allSatisfy { $0.isFinite })
    }

    @Test func softmaxRowsSumToOne() {
        var rng = TestRandom(32)
        let logits: [Float] = rng.array(4 * 7, -50, 50)
        var p = [Float](repeating: 0, count: logits.count)
        Losses.softmax(logits: logits, probabilities: &p, batch: 4, classes: 7)
        for r in 0..<4 {
            #expect(abs(p[(r * 7)..<(r * 7 + 7)].reduce(0, +) - 1) < 1e-6)
        }
    }
}

/// The Gaussian NLL of a regression batch: Float in C kernels over fixed blocks, Double in one loop.
@Suite struct GaussianNLLTests {
    static func run(_ out: [Float], _ target: [Float], threads: Int, scale: Double?) -> (Double, [Float]) {
        var g = [Float](repeating: 0, count: out.count)
        let total = withThreads(threads) {
            Losses.gaussianNLL(output: out, target: target, count: out.count, sigma: 0.7, batch: 5,
                               gradientScale: scale, gradient: &g)
        }
        return (total, g)
    }

    @Test func floatGradientIsEachElementsFormulaAndTheSumIsTheLoopsToRounding() {
        var r = TestRandom(9)
        let n = 3 * 32_768 + 77
        let out: [Float] = r.array(n, -2, 2), target: [Float] = r.array(n, -2, 2)
        let (total, g) = Self.run(out, target, threads: 2, scale: 1.5)
        var want = 0.0
        let variance = 0.7 * 0.7, constant = log(0.7) + 0.5 * log(2 * Double.pi)
        for i in 0..<n {
            let d = Double(out[i]) - Double(target[i])
            want += 0.5 * d * d / variance + constant
            #expect(g[i].bitPattern == Float(1.5 * d / variance / 5).bitPattern)
        }
        #expect(abs(total - want) / abs(want) < 1e-12)
    }

    @Test func floatSumDoesNotDependOnTheThreadCount() {
        var r = TestRandom(10)
        let n = 5 * 32_768 + 3
        let out: [Float] = r.array(n), target: [Float] = r.array(n)
        let one = Self.run(out, target, threads: 1, scale: nil), two = Self.run(out, target, threads: 2, scale: nil)
        #expect(one.0.bitPattern == two.0.bitPattern)
    }
}
