import Testing
@testable import BayesNetRuntime

/// A batch-normalization problem: rows × channels of channels-last data with optional γ and β.
struct BatchNormCase: Sendable, CustomStringConvertible {
    var rows: Int, channels: Int, center: Bool, scale: Bool
    var epsilon = 1e-3
    var description: String { "\(rows)x\(channels) center \(center) scale \(scale)" }

    /// Dense features (rows = batch) and feature maps of rank 1-3 (rows = batch × positions), with every
    /// center/scale combination; 150 rows span three reduction blocks.
    static let all: [BatchNormCase] = [
        BatchNormCase(rows: 6, channels: 3, center: true, scale: true),
        BatchNormCase(rows: 2 * 7, channels: 2, center: true, scale: false),
        BatchNormCase(rows: 2 * 3 * 4, channels: 3, center: false, scale: true),
        BatchNormCase(rows: 2 * 2 * 3 * 2, channels: 2, center: false, scale: false),
        BatchNormCase(rows: 150, channels: 2, center: true, scale: true),
    ]
}

/// Runs the kernels on arrays: the forms the tests use.
enum BN {
    static func scratch(_ c: BatchNormCase) -> [Double] {
        [Double](repeating: .nan, count: BatchNormalization.scratchCount(rows: c.rows, channels: c.channels))
    }

    static func train<S: TensorScalar>(_ c: BatchNormCase, x: [S], gamma: [S], beta: [S]) -> (y: [S], stats: [Double]) {
        var y = [S](repeating: .nan, count: x.count), stats = [Double](repeating: .nan, count: 2 * c.channels)
        var scratch = scratch(c)
        BatchNormalization.trainingForward(x: x, y: &y, gamma: c.scale ? gamma : nil, beta: c.center ? beta : nil,
                                           statistics: &stats, rows: c.rows, channels: c.channels,
                                           epsilon: c.epsilon, scratch: &scratch)
        return (y, stats)
    }

    static func trainBackward<S: TensorScalar>(_ c: BatchNormCase, x: [S], dy: [S], gamma: [S], stats: [Double],
                                               into dx: inout [S], dgamma: inout [S], dbeta: inout [S],
                                               accumulate: Bool = false, accumulateParameters: Bool = false) {
        var scratch = scratch(c)
        dgamma.withUnsafeMutableBufferPointer { dg in
            dbeta.withUnsafeMutableBufferPointer { db in
                BatchNormalization.trainingBackward(
                    x: x, dy: dy, dx: &dx, gamma: c.scale ? gamma : nil, statistics: stats,
                    dgamma: c.scale ? dg.baseAddress! : nil, dbeta: c.center ? db.baseAddress! : nil, rows: c.rows,
                    channels: c.channels, epsilon: c.epsilon, accumulate: accumulate,
                    accumulateParameters: accumulateParameters, scratch: &scratch)
            }
        }
    }

    static func infer<S: TensorScalar>(_ c: BatchNormCase, x: [S], gamma: [S], beta: [S], mean: [S],
                                       variance: [S]) -> [S] {
        var y = [S](repeating: .nan, count: x.count)
        var scratch = scratch(c)
        BatchNormalization.inferenceForward(x: x, y: &y, gamma: c.scale ? gamma : nil, beta: c.center ? beta : nil,
                                            movingMean: mean, movingVariance: variance, rows: c.rows,
                                            channels: c.channels, epsilon: c.epsilon, scratch: &scratch)
        return y
    }

    static func inferBackward<S: TensorScalar>(_ c: BatchNormCase, x: [S], dy: [S], gamma: [S], mean: [S],
                                               variance: [S], into dx: inout [S], dgamma: inout [S],
                                               dbeta: inout [S]) {
        var scratch = scratch(c)
        dgamma.withUnsafeMutableBufferPointer { dg in
            dbeta.withUnsafeMutableBufferPointer { db in
                BatchNormalization.inferenceBackward(
                    x: x, dy: dy, dx: &dx, gamma: c.scale ? gamma : nil, movingMean: mean, movingVariance: variance,
                    dgamma: c.scale ? dg.baseAddress! : nil, dbeta: c.center ? db.baseAddress! : nil, rows: c.rows,
                    channels: c.channels, epsilon: c.epsilon, accumulate: false, accumulateParameters: false,
                    scratch: &scratch)
            }
        }
    }
}

@Suite struct BatchNormalizationTests {
    struct Inputs {
        var x: [Double], dy: [Double], gamma: [Double], beta: [Double], mean: [Double], variance: [Double]
        init(_ c: BatchNormCase, seed: UInt64) {
            var rng = TestRandom(seed)
            x = rng.array(c.rows * c.channels, -2, 3)
            dy = rng.array(c.rows * c.channels)
            gamma = rng.array(c.channels, 0.5, 1.5)
            beta = rng.array(c.channels)
            mean = rng.array(c.channels)
            variance = rng.array(c.channels, 0.5, 2)
        }
    }

    @Test("Training-mode gradients equal finite differences", arguments: BatchNormCase.all)
    func trainingGradients(_ c: BatchNormCase) {
        let v = Inputs(c, seed: 31)
        let stats = BN.train(c, x: v.x, gamma: v.gamma, beta: v.beta).stats
        var dx = [Double](repeating: .nan, count: v.x.count)
        var dgamma = [Double](repeating: .nan, count: c.channels), dbeta = dgamma
        BN.trainBackward(c, x: v.x, dy: v.dy, gamma: v.gamma, stats: stats, into: &dx, dgamma: &dgamma, dbeta: &dbeta)
        let numericX = numericGradient(v.x) { dot(BN.train(c, x: $0, gamma: v.gamma, beta: v.beta).y, v.dy) }
        #expect(maxError(dx, numericX) < 1e-7)
        if c.scale {
            let numeric = numericGradient(v.gamma) { dot(BN.train(c, x: v.x, gamma: $0, beta: v.beta).y, v.dy) }
            #expect(maxError(dgamma, numeric) < 1e-7)
        }
        if c.center {
            let numeric = numericGradient(v.beta) { dot(BN.train(c, x: v.x, gamma: v.gamma, beta: $0).y, v.dy) }
            #expect(maxError(dbeta, numeric) < 1e-7)
        }
    }

    @Test("Inference-mode gradients equal finite differences", arguments: BatchNormCase.all)
    func inferenceGradients(_ c: BatchNormCase) {
        let v = Inputs(c, seed: 32)
        var dx = [Double](repeating: .nan, count: v.x.count)
        var dgamma = [Double](repeating: .nan, count: c.channels), dbeta = dgamma
        BN.inferBackward(c, x: v.x, dy: v.dy, gamma: v.gamma, mean: v.mean, variance: v.variance, into: &dx,
                         dgamma: &dgamma, dbeta: &dbeta)
        func loss(x: [Double], gamma: [Double], beta: [Double]) -> Double {
            dot(BN.infer(c, x: x, gamma: gamma, beta: beta, mean: v.mean, variance: v.variance), v.dy)
        }
        #expect(maxError(dx, numericGradient(v.x) { loss(x: $0, gamma: v.gamma, beta: v.beta) }) < 1e-7)
        if c.scale {
            #expect(maxError(dgamma, numericGradient(v.gamma) { loss(x: v.x, gamma: $0, beta: v.beta) }) < 1e-7)
        }
        if c.center {
            #expect(maxError(dbeta, numericGradient(v.beta) { loss(x: v.x, gamma: v.gamma, beta: $0) }) < 1e-7)
        }
    }

    @Test("Training normalises each channel to mean β and standard deviation γ (up to ε)")
    func trainingOutputMoments() {
        let c = BatchNormCase(rows: 150, channels: 3, center: true, scale: true, epsilon: 0)
        let v = Inputs(c, seed: 33)
        let y = BN.train(c, x: v.x, gamma: v.gamma, beta: v.beta).y
        for ch in 0..<c.channels {
            let column = stride(from: ch, to: y.count, by: c.channels).map { y[$0] }
            let mean = column.reduce(0, +) / Double(c.rows)
            let variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c.rows)
            #expect(abs(mean - v.beta[ch]) < 1e-12)
            #expect(abs(variance.squareRoot() - v.gamma[ch]) < 1e-12)
        }
    }

    @Test("Batch statistics are the mean and biased variance, precise far from zero")
    func statisticsAreExact() {
        let c = BatchNormCase(rows: 1000, channels: 2, center: false, scale: false)
        var rng = TestRandom(34)
        // Float data centred at 1e4 with spread 1e-2: a sum of squares minus the squared mean would lose it.
        let x: [Float] = (0..<2000).map { _ in Float(1e4 + rng.uniform(-1, 1) * 1e-2) }
        let stats = BN.train(c, x: x, gamma: [], beta: []).stats
        for ch in 0..<2 {
            let column = stride(from: ch, to: x.count, by: 2).map { Double(x[$0]) }
            let mean = column.reduce(0, +) / 1000
            let variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1000
            #expect(abs(stats[ch] - mean) / mean < 1e-15)
            #expect(abs(stats[2 + ch] - variance) / variance < 1e-9)
        }
    }

    @Test("Moving statistics follow moving·momentum + batch·(1 − momentum), biased or unbiased variance")
    func movingStatistics() {
        let stats: [Double] = [0.5, -1.0, 2.0, 4.0]
        for unbiased in [false, true] {
            var mean: [Float] = [1, 2], variance: [Float] = [3, 5]
            BatchNormalization.updateMovingStatistics(statistics: stats, movingMean: &mean, movingVariance: &variance,
                                                      rows: 5, channels: 2, momentum: 0.9, unbiasedVariance: unbiased)
            let k = unbiased ? 5.0 / 4 : 1
            #expect(mean == [Float(0.9 + 0.05), Float(1.8 - 0.1)])
            #expect(variance == [Float(2.7 + 0.2 * k), Float(4.5 + 0.4 * k)])
        }
    }

    @Test("Backward accumulates into dx, dγ and dβ when asked")
    func accumulation() {
        let c = BatchNormCase.all[2].with(center: true)
        let v = Inputs(c, seed: 35)
        let stats = BN.train(c, x: v.x, gamma: v.gamma, beta: v.beta).stats
        var dx = [Double](repeating: 0, count: v.x.count)
        var dgamma = [Double](repeating: 0, count: c.channels), dbeta = dgamma
        BN.trainBackward(c, x: v.x, dy: v.dy, gamma: v.gamma, stats: stats, into: &dx, dgamma: &dgamma, dbeta: &dbeta)
        var dx2 = v.x, dgamma2 = v.gamma, dbeta2 = v.beta
        BN.trainBackward(c, x: v.x, dy: v.dy, gamma: v.gamma, stats: stats, into: &dx2, dgamma: &dgamma2,
                         dbeta: &dbeta2, accumulate: true, accumulateParameters: true)
        #expect(maxError(dx2, zip(dx, v.x).map { $0 + $1 }) < 1e-14)
        #expect(maxError(dgamma2, zip(dgamma, v.gamma).map { $0 + $1 }) < 1e-14)
        #expect(maxError(dbeta2, zip(dbeta, v.beta).map { $0 + $1 }) < 1e-14)
    }

    @Test("Forward and backward run in place")
    func inPlace() {
        let c = BatchNormCase.all[4]
        let v = Inputs(c, seed: 36)
        let (y, stats) = BN.train(c, x: v.x, gamma: v.gamma, beta: v.beta)
        var buffer = v.x, scratch = BN.scratch(c), stats2 = stats
        buffer.withUnsafeMutableBufferPointer { p in
            BatchNormalization.trainingForward(x: p.baseAddress!, y: p.baseAddress!, gamma: v.gamma, beta: v.beta,
                                               statistics: &stats2, rows: c.rows, channels: c.channels,
                                               epsilon: c.epsilon, scratch: &scratch)
        }
        #expect(buffer == y)
        var dx = [Double](repeating: .nan, count: v.x.count), dgamma = v.gamma, dbeta = v.beta
        BN.trainBackward(c, x: v.x, dy: v.dy, gamma: v.gamma, stats: stats, into: &dx, dgamma: &dgamma, dbeta: &dbeta)
        var gradient = v.dy
        gradient.withUnsafeMutableBufferPointer { p in
            BatchNormalization.trainingBackward(x: v.x, dy: p.baseAddress!, dx: p.baseAddress!, gamma: v.gamma,
                                                statistics: stats, dgamma: nil, dbeta: nil, rows: c.rows,
                                                channels: c.channels, epsilon: c.epsilon, accumulate: false,
                                                accumulateParameters: false, scratch: &scratch)
        }
        #expect(gradient == dx)
    }

    static func floatRun(threads: Int, rows: Int, channels: Int) -> [[Float]] {
        let c = BatchNormCase(rows: rows, channels: channels, center: true, scale: true)
        var rng = TestRandom(37)
        let x: [Float] = rng.array(rows * channels, -1, 4), dy: [Float] = rng.array(rows * channels)
        let gamma: [Float] = rng.array(channels, 0.5, 1.5), beta: [Float] = rng.array(channels)
        return withThreads(threads) {
            let (y, stats) = BN.train(c, x: x, gamma: gamma, beta: beta)
            var dx = [Float](repeating: .nan, count: x.count), dgamma = [Float](repeating: .nan, count: channels)
            var dbeta = dgamma
            BN.trainBackward(c, x: x, dy: dy, gamma: gamma, stats: stats, into: &dx, dgamma: &dgamma, dbeta: &dbeta)
            var mean = beta, variance = gamma
            BatchNormalization.updateMovingStatistics(statistics: stats, movingMean: &mean, movingVariance: &variance,
                                                      rows: rows, channels: channels, momentum: 0.99,
                                                      unbiasedVariance: true)
            let iy = BN.infer(c, x: x, gamma: gamma, beta: beta, mean: mean, variance: variance)
            var idx = dx, idg = dgamma, idb = dbeta
            BN.inferBackward(c, x: x, dy: dy, gamma: gamma, mean: mean, variance: variance, into: &idx,
                             dgamma: &idg, dbeta: &idb)
            return [y, dx, dgamma, dbeta, mean, variance, iy, idx, idg, idb]
        }
    }

    /// floatRun's y, dx and inference y computed in Double from the same single-precision inputs.
    static func doubleRun(rows: Int, channels: Int) -> [[Double]] {
        let c = BatchNormCase(rows: rows, channels: channels, center: true, scale: true)
        var rng = TestRandom(37)
        let xf: [Float] = rng.array(rows * channels, -1, 4), dyf: [Float] = rng.array(rows * channels)
        let gf: [Float] = rng.array(channels, 0.5, 1.5), bf: [Float] = rng.array(channels)
        let x = xf.map(Double.init), dy = dyf.map(Double.init), gamma = gf.map(Double.init), beta = bf.map(Double.init)
        let (y, stats) = BN.train(c, x: x, gamma: gamma, beta: beta)
        var dx = [Double](repeating: .nan, count: x.count), dgamma = [Double](repeating: .nan, count: channels)
        var dbeta = dgamma
        BN.trainBackward(c, x: x, dy: dy, gamma: gamma, stats: stats, into: &dx, dgamma: &dgamma, dbeta: &dbeta)
        var mean = bf, variance = gf
        BatchNormalization.updateMovingStatistics(statistics: stats, movingMean: &mean, movingVariance: &variance,
                                                  rows: rows, channels: channels, momentum: 0.99,
                                                  unbiasedVariance: true)
        let iy = BN.infer(c, x: x, gamma: gamma, beta: beta, mean: mean.map(Double.init),
                          variance: variance.map(Double.init))
        return [y, dx, [], [], [], [], iy]
    }

    /// 32 × 16 × 16 rows: 256 blocks, split over the threads in several ways.
    @Test func sameBitsForAnyThreadCount() {
        cpuLevelLock.lock()
        defer { cpuLevelLock.unlock() }
        let one = Self.floatRun(threads: 1, rows: 32 * 16 * 16, channels: 16)
        for threads in [2, 3, 5] {
            let other = Self.floatRun(threads: threads, rows: 32 * 16 * 16, channels: 16)
            for (a, b) in zip(one, other) { #expect(a.map(\.bitPattern) == b.map(\.bitPattern)) }
        }
    }

    /// The single-precision passes run in C for each instruction-set level; 13 channels leave a remainder after
    /// every vector width.
    @Test func sameBitsAtEveryCPULevel() {
        let levels = Runtime.CPULevel.allCases.filter(\.isSupported)
        let reference = withCPULevel(.portable) { Self.floatRun(threads: 2, rows: 700, channels: 13) }
        for level in levels {
            let other = withCPULevel(level) { Self.floatRun(threads: 2, rows: 700, channels: 13) }
            for (a, b) in zip(reference, other) { #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(level)") }
        }
    }

    /// The C passes compute what the generic loops compute in double precision, rounded once.
    @Test func floatIsDoubleRoundedOnce() {
        let float = Self.floatRun(threads: 2, rows: 700, channels: 13)
        let double = Self.doubleRun(rows: 700, channels: 13)
        // y and dx, and the inference y: each a double expression of float inputs, rounded to float once.
        for index in [0, 1, 6] {
            #expect(float[index] == double[index].map { Float($0) })
        }
    }
}

extension BatchNormCase {
    func with(center: Bool) -> BatchNormCase {
        var c = self
        c.center = center
        return c
    }
}
