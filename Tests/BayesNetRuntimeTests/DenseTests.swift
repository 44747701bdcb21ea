import Testing
@testable import BayesNetRuntime

@Suite struct DenseTests {
    static let batch = 3, inputs = 5, outputs = 4

    static func loss(x: [Double], kernel: [Double], bias: [Double], r: [Double]) -> Double {
        var y = [Double](repeating: 0, count: batch * outputs)
        Dense.forward(x: x, kernel: kernel, bias: bias, y: &y, batch: batch, inputs: inputs, outputs: outputs)
        return dot(y, r)
    }

    static func inputs(_ seed: UInt64) -> ([Double], [Double], [Double], [Double]) {
        var rng = TestRandom(seed)
        return (rng.array(batch * inputs), rng.array(inputs * outputs), rng.array(outputs), rng.array(batch * outputs))
    }

    @Test func inputGradientEqualsFiniteDifferences() {
        let (x, k, b, r) = Self.inputs(41)
        var dx = [Double](repeating: .nan, count: x.count)
        Dense.backwardInput(dy: r, kernel: k, dx: &dx, batch: Self.batch, inputs: Self.inputs, outputs: Self.outputs,
                            accumulate: false)
        #expect(maxError(dx, numericGradient(x) { Self.loss(x: $0, kernel: k, bias: b, r: r) }) < 1e-7)
    }

    @Test func kernelGradientEqualsFiniteDifferences() {
        let (x, k, b, r) = Self.inputs(42)
        var dk = [Double](repeating: .nan, count: k.count)
        Dense.backwardKernel(x: x, dy: r, dkernel: &dk, batch: Self.batch, inputs: Self.inputs, outputs: Self.outputs,
                             accumulate: false)
        #expect(maxError(dk, numericGradient(k) { Self.loss(x: x, kernel: $0, bias: b, r: r) }) < 1e-7)
    }

    @Test func biasGradientEqualsFiniteDifferences() {
        let (x, k, b, r) = Self.inputs(43)
        var db = [Double](repeating: .nan, count: b.count)
        Bias.backward(dy: r, dbias: &db, rows: Self.batch, channels: Self.outputs, accumulate: false)
        #expect(maxError(db, numericGradient(b) { Self.loss(x: x, kernel: k, bias: $0, r: r) }) < 1e-7)
    }

    @Test func forwardWithoutBiasIsTheProduct() {
        let x: [Float] = [1, 2, 3, 4], k: [Float] = [1, 0, 1, 0, 1, 1]   // [2, 2] x [2, 3]
        var y = [Float](repeating: .nan, count: 6)
        Dense.forward(x: x, kernel: k, bias: nil, y: &y, batch: 2, inputs: 2, outputs: 3)
        #expect(y == [1, 2, 3, 3, 4, 7])
    }
}
