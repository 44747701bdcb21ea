import Testing
@testable import BayesNetRuntime

@Suite struct DropoutTests {
    static let stream = RandomStream(seed: 7, name: "block1/dropout", step: 12)

    static func forward<S: TensorScalar>(_ x: [S], perExample: Int, firstExample: Int = 0, rate: Double,
                                         stream: RandomStream = stream) -> [S] {
        var y = [S](repeating: .nan, count: x.count)
        Dropout.forward(x: x, y: &y, count: x.count, perExample: perExample, firstExample: firstExample, rate: rate,
                        stream: stream)
        return y
    }

    @Test("An element is kept, scaled by 1/(1 − rate), exactly when its uniform is at least the rate")
    func maskAndScale() {
        let x = [Double](repeating: 2, count: 301)
        let y = Self.forward(x, perExample: 43, firstExample: 5, rate: 0.3)
        for i in 0..<x.count {
            let kept = Self.stream.uniform(at: 5 * 43 + i) >= 0.3
            #expect(y[i] == (kept ? 2 * (1 / (1 - 0.3)) : 0))
        }
    }

    /// Single precision runs in C: the same mask and scaling at every instruction-set level, from an odd offset
    /// and with a count that is no multiple of the blocks.
    @Test("Float dropout keeps the same elements at every CPU level")
    func floatAtEveryLevel() {
        var rng = TestRandom(64)
        let x: [Float] = rng.array(1001)
        let scale = Float(1 / (1 - 0.35))
        for level in Runtime.CPULevel.allCases.filter(\.isSupported) {
            let y = withCPULevel(level) { Self.forward(x, perExample: 7, firstExample: 3, rate: 0.35) }
            let expected = x.indices.map { Self.stream.uniform(at: 21 + $0) >= 0.35 ? x[$0] * scale : 0 }
            #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "\(level)")
        }
    }

    @Test("About 1 − rate of the elements are kept")
    func keptFraction() {
        let y = Self.forward([Float](repeating: 1, count: 100_000), perExample: 100, rate: 0.25)
        let kept = Double(y.filter { $0 != 0 }.count) / 100_000
        #expect(abs(kept - 0.75) < 0.005)
    }

    @Test("A batch split in two gives the same outputs as the whole batch")
    func independentOfBatching() {
        var rng = TestRandom(61)
        let x: [Float] = rng.array(6 * 10)
        let whole = Self.forward(x, perExample: 10, firstExample: 4, rate: 0.5)
        let first = Self.forward(Array(x[0..<20]), perExample: 10, firstExample: 4, rate: 0.5)
        let second = Self.forward(Array(x[20...]), perExample: 10, firstExample: 6, rate: 0.5)
        #expect(whole == first + second)
    }

    @Test("The mask changes with the step and is the same in Float and Double")
    func keyedByStepNotPrecision() {
        let ones = [Double](repeating: 1, count: 200)
        let a = Self.forward(ones, perExample: 20, rate: 0.5)
        let b = Self.forward(ones, perExample: 20, rate: 0.5,
                             stream: RandomStream(seed: 7, name: "block1/dropout", step: 13))
        let f = Self.forward([Float](repeating: 1, count: 200), perExample: 20, rate: 0.5)
        #expect(a != b)
        #expect(a.map { $0 != 0 } == f.map { $0 != 0 })
    }

    @Test("Backward equals finite differences, from the same mask")
    func gradient() {
        var rng = TestRandom(62)
        let x: [Double] = rng.array(90), r: [Double] = rng.array(90)
        var dx = [Double](repeating: .nan, count: 90)
        Dropout.backward(dy: r, dx: &dx, count: 90, perExample: 30, firstExample: 3, rate: 0.4, stream: Self.stream,
                         accumulate: false)
        let numeric = numericGradient(x) { dot(Self.forward($0, perExample: 30, firstExample: 3, rate: 0.4), r) }
        #expect(maxError(dx, numeric) < 1e-9)
        var acc = [Double](repeating: 1, count: 90)
        Dropout.backward(dy: r, dx: &acc, count: 90, perExample: 30, firstExample: 3, rate: 0.4, stream: Self.stream,
                         accumulate: true)
        #expect(acc == dx.map { $0 + 1 })
    }

    @Test("Rate 0 is the identity")
    func rateZero() {
        let x: [Float] = [1, -2, 3.5]
        #expect(Self.forward(x, perExample: 3, rate: 0) == x)
    }

    @Test func sameBitsForAnyThreadCount() {
        var rng = TestRandom(63)
        let x: [Float] = rng.array(200_001)
        let one = withThreads(1) { Self.forward(x, perExample: 1000, firstExample: 9, rate: 0.2) }
        for threads in [2, 3] {
            let other = withThreads(threads) { Self.forward(x, perExample: 1000, firstExample: 9, rate: 0.2) }
            #expect(other.map(\.bitPattern) == one.map(\.bitPattern))
        }
    }
}
