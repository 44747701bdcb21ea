import Testing
@testable import BayesNetRuntime

@Suite struct ActivationTests {
    static let kinds: [ActivationKind] = [.linear, .relu, .elu, .tanh, .sigmoid, .softplus, .leakyRelu(alpha: 0.2),
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
        #expect(run(.leakyRelu(alpha: 0.2)) == [-0.4, -0.1, 0.5, 2])
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

@Suite struct VectorActivationTests {
    static let kinds: [ActivationKind] = [.elu, .tanh, .sigmoid, .softplus]

    /// Dense sweep over the range where the functions change, plus extremes, and a length that leaves a tail.
    static let inputs: [Float] = {
        var v: [Float] = stride(from: -30.0, through: 30.0, by: 0.0137).map { Float($0) }
        v += [-200, -88, -87.5, -1e-3, -1e-7, 0, 1e-7, 1e-3, 0.199, 0.2, 0.201, -0.249, -0.25, -0.251, 87.5, 200]
        return v
    }()

    static func reference(_ kind: ActivationKind, _ x: Double) -> Double {
        switch kind {
        case .elu: x > 0 ? x : _cexpm1(x)
        case .tanh: _ctanh(x)
        case .sigmoid: 1 / (1 + _cexp(-x))
        default: max(x, 0) + _clog1p(_cexp(-abs(x)))
        }
    }

    @Test("Single precision matches the C library to a few ulp", arguments: kinds)
    func forwardAccuracy(_ kind: ActivationKind) {
        for kernel in Runtime.CPULevel.allCases where kernel.isSupported {
            let x = Self.inputs
            var y = [Float](repeating: .nan, count: x.count)
            withCPULevel(kernel) { Activations.forward(kind, x: x, y: &y, count: x.count) }
            var worst = 0.0
            for (xi, yi) in zip(x, y) {
                let want = Self.reference(kind, Double(xi))
                worst = max(worst, abs(Double(yi) - want) / max(abs(want), 1e-30))
                if abs(want) < 1e-30 { worst = max(worst, abs(Double(yi))) }
            }
            #expect(worst < 2e-6, "\(kernel)")
        }
    }

    @Test func softplusBackwardIsSigmoidTimesUpstream() {
        let x = Self.inputs
        let dy = x.indices.map { Float($0 % 7) - 3 }
        var dx = [Float](repeating: .nan, count: x.count)
        Activations.backward(.softplus, x: x, y: x, dy: dy, dx: &dx, count: x.count)
        let want = zip(x, dy).map { Double($1) / (1 + _cexp(-Double($0))) }
        #expect(maxError(dx, want) < 2e-6)
    }
}
