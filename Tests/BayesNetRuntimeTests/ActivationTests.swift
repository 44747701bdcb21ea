import Testing
@testable import BayesNetRuntime

@Suite struct ActivationTests {
    static let kinds: [ActivationKind] = [.linear, .relu, .elu, .tanh, .sigmoid, .softplus, .leakyRelu(),
                                          .leakyRelu(alpha: 0.01)]

    /// Points away from the kinks at zero, plus large magnitudes for the saturating functions.
    static let points: [Double] = [-30, -4.5, -1.2, -0.3, -0.05, 0.07, 0.4, 1.1, 3.7, 30]

    @Test("Backward equals finite differences", arguments: kinds)
    func gradient(_ kind: ActivationKind) {
        let x = Self.points
        var y = [Double](repeating: 0, count: x.count)
        Activations.forward(kind, x: x, y: &y, count: x.count)
        let dy = x.indices.map { Double($0) * 0.25 - 1 }
        var dx = [Double](repeating: .nan, count: x.count)
        Activations.backward(kind, x: x, y: y, dy: dy, dx: &dx, count: x.count)
        let numeric = numericGradient(x) { v in
            var out = [Double](repeating: 0, count: v.count)
            Activations.forward(kind, x: v, y: &out, count: v.count)
            return dot(out, dy)
        }
        #expect(maxError(dx, numeric) < 1e-7)
    }

    @Test func valuesMatchTheirDefinitions() {
        let x: [Double] = [-2, -0.5, 0.5, 2]
        func run(_ k: ActivationKind) -> [Double] {
            var y = [Double](repeating: 0, count: x.count)
            Activations.forward(k, x: x, y: &y, count: x.count)
            return y
        }
        #expect(run(.relu) == [0, 0, 0.5, 2])
        #expect(run(.leakyRelu()) == [-0.4, -0.1, 0.5, 2])
        #expect(maxError(run(.elu), x.map { $0 > 0 ? $0 : _cexp($0) - 1 }) < 1e-15)
        #expect(maxError(run(.sigmoid), x.map { 1 / (1 + _cexp(-$0)) }) < 1e-15)
        #expect(maxError(run(.softplus), x.map { _clog(1 + _cexp($0)) }) < 1e-15)
        #expect(maxError(run(.tanh), x.map { _ctanh($0) }) < 1e-15)
    }

    @Test func softplusAndSigmoidStayFiniteForLargeInputs() {
        let x: [Float] = [-200, 200]
        var y = [Float](repeating: 0, count: 2), s = [Float](repeating: 0, count: 2)
        Activations.forward(.softplus, x: x, y: &y, count: 2)
        Activations.forward(.sigmoid, x: x, y: &s, count: 2)
        #expect(y == [0, 200])
        #expect(s == [0, 1])
    }

    @Test func forwardAndBackwardWorkInPlace() {
        var rng = TestRandom(21)
        let x: [Float] = rng.array(1000, -3, 3)
        var y = [Float](repeating: 0, count: x.count)
        Activations.forward(.elu, x: x, y: &y, count: x.count)
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { p in
            Activations.forward(.elu, x: UnsafePointer(p.baseAddress!), y: p.baseAddress!, count: p.count)
        }
        #expect(inPlace == y)
        let dy: [Float] = rng.array(x.count)
        var dx = [Float](repeating: 0, count: x.count)
        Activations.backward(.elu, x: x, y: y, dy: dy, dx: &dx, count: x.count)
        var g = dy
        g.withUnsafeMutableBufferPointer { p in
            Activations.backward(.elu, x: x, y: y, dy: UnsafePointer(p.baseAddress!), dx: p.baseAddress!, count: p.count)
        }
        #expect(g == dx)
    }
}
