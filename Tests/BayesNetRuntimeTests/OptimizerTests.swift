import Testing
@testable import BayesNetRuntime

private func adam<S: BinaryFloatingPoint>(
    _ theta: inout [S], _ m: inout [S], _ v: inout [S], gradients: [S], step: Int,
    learningRate: Double = 0.1, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-7
) {
    let n = theta.count
    theta.withUnsafeMutableBufferPointer { p in
        m.withUnsafeMutableBufferPointer { mp in
            v.withUnsafeMutableBufferPointer { vp in
                gradients.withUnsafeBufferPointer { g in
                    Optimizers.adamStep(
                        parameters: p.baseAddress!, gradients: g.baseAddress!, m: mp.baseAddress!,
                        v: vp.baseAddress!, count: n, step: step, learningRate: learningRate,
                        beta1: beta1, beta2: beta2, epsilon: epsilon)
                }
            }
        }
    }
}

private func sgd(_ theta: inout [Double], _ velocity: inout [Double], gradients: [Double], learningRate: Double, momentum: Double) {
    let n = theta.count
    theta.withUnsafeMutableBufferPointer { p in
        velocity.withUnsafeMutableBufferPointer { vp in
            gradients.withUnsafeBufferPointer { g in
                Optimizers.sgdStep(parameters: p.baseAddress!, gradients: g.baseAddress!, velocity: vp.baseAddress!,
                                   count: n, learningRate: learningRate, momentum: momentum)
            }
        }
    }
}

@Suite struct AdamTests {
    @Test func firstStepMatchesHandComputation() {
        // t = 1, g = 0.5: m = 0.05, v = 0.00025, alpha = 0.1 * sqrt(1 - 0.999) / (1 - 0.9) = sqrt(0.001);
        // theta = 1 - sqrt(0.001) * 0.05 / (sqrt(0.00025) + 1e-7) = 0.90000063245...
        var theta = [1.0, -2.0], m = [0.0, 0.0], v = [0.0, 0.0]
        adam(&theta, &m, &v, gradients: [0.5, -3.0], step: 1)
        #expect(abs(m[0] - 0.05) < 1e-15 && abs(v[0] - 0.00025) < 1e-15)
        #expect(abs(m[1] + 0.3) < 1e-15 && abs(v[1] - 0.009) < 1e-15)
        #expect(abs(theta[0] - 0.900_000_632_451_532_1) < 1e-13)
        #expect(abs(theta[1] - -1.900_000_105_409_144_2) < 1e-13)
    }

    @Test func secondStepMatchesHandComputation() {
        // t = 2, g = -0.2 after 0.5: m = 0.9 * 0.05 + 0.1 * (-0.2) = 0.025, v = 0.999 * 0.00025 + 0.001 * 0.04 = 0.00028975,
        // alpha = 0.1 * sqrt(1 - 0.999^2) / (1 - 0.81); theta = 0.9000006... - alpha * 0.025 / (sqrt(v) + 1e-7).
        var theta = [1.0, -2.0], m = [0.0, 0.0], v = [0.0, 0.0]
        adam(&theta, &m, &v, gradients: [0.5, -3.0], step: 1)
        adam(&theta, &m, &v, gradients: [-0.2, 1.0], step: 2)
        #expect(abs(m[0] - 0.025) < 1e-15 && abs(v[0] - 0.000_289_75) < 1e-15)
        #expect(abs(theta[0] - 0.865_440_250_693_355_8) < 1e-13)
        #expect(abs(theta[1] - -1.859_978_288_253_541) < 1e-13)
    }

    @Test func firstStepMovesByLearningRateWhateverTheGradientSize() {
        var theta = [0.0, 0.0, 0.0], m = [0.0, 0.0, 0.0], v = [0.0, 0.0, 0.0]
        adam(&theta, &m, &v, gradients: [1e-2, 10, -1e4], step: 1, learningRate: 0.01)
        #expect(abs(theta[0] + 0.01) < 1e-5 && abs(theta[1] + 0.01) < 1e-8 && abs(theta[2] - 0.01) < 1e-8)
    }

    @Test func zeroGradientLeavesParametersInPlace() {
        var theta: [Float] = [0.25, -4], m: [Float] = [0, 0], v: [Float] = [0, 0]
        adam(&theta, &m, &v, gradients: [0, 0], step: 1)
        #expect(theta == [0.25, -4])
    }

    @Test func floatStepAgreesWithDouble() {
        var td = [1.0, -2.0], md = [0.0, 0.0], vd = [0.0, 0.0]
        var tf: [Float] = [1, -2], mf: [Float] = [0, 0], vf: [Float] = [0, 0]
        for (t, g) in [(1, [0.5, -3.0]), (2, [-0.2, 1.0]), (3, [0.7, 0.1])] {
            adam(&td, &md, &vd, gradients: g, step: t)
            adam(&tf, &mf, &vf, gradients: g.map(Float.init), step: t)
        }
        #expect(abs(Double(tf[0]) - td[0]) < 1e-6 && abs(Double(tf[1]) - td[1]) < 1e-6)
    }
}

@Suite struct SGDTests {
    @Test func withoutMomentumStepsAgainstTheGradient() {
        var theta = [1.0, -1.0], vel = [0.0, 0.0]
        sgd(&theta, &vel, gradients: [0.5, -2.0], learningRate: 0.1, momentum: 0)
        #expect(abs(theta[0] - 0.95) < 1e-15 && abs(theta[1] + 0.8) < 1e-15)
    }

    @Test func momentumAccumulatesVelocity() {
        // v1 = -0.1 * 0.5 = -0.05, theta1 = 0.95; v2 = 0.9 * -0.05 - 0.1 * 0.5 = -0.095, theta2 = 0.855.
        var theta = [1.0], vel = [0.0]
        sgd(&theta, &vel, gradients: [0.5], learningRate: 0.1, momentum: 0.9)
        sgd(&theta, &vel, gradients: [0.5], learningRate: 0.1, momentum: 0.9)
        #expect(abs(vel[0] + 0.095) < 1e-15)
        #expect(abs(theta[0] - 0.855) < 1e-15)
    }
}

/// The training step's updates run split over the threads; each element must get the sequential loop's bits.
@Suite(.serialized) struct ParallelUpdateTests {
    static let count = 100_003

    static func state(_ seed: UInt64) -> (theta: [Float], g: [Float], slot: [Float]) {
        var rng = TestRandom(seed)
        return (rng.array(count), rng.array(count), rng.array(count))
    }

    @Test func sgdOnThreeThreadsMatchesTheSequentialLoop() {
        let start = Self.state(5), g = start.g
        var theta = start.theta, velocity = start.slot, expected = start.theta, expectedVelocity = start.slot
        Optimizers.sgdStep(parameters: &expected, gradients: g, velocity: &expectedVelocity, count: Self.count,
                           learningRate: 0.01, momentum: 0.9)
        withThreads(3) {
            WeightLoops.sgdStep(parameters: &theta, gradients: g, velocity: &velocity, count: Self.count,
                                learningRate: 0.01, momentum: 0.9)
        }
        #expect(theta.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(velocity.map(\.bitPattern) == expectedVelocity.map(\.bitPattern))
    }

    @Test func adamOnThreeThreadsMatchesTheSequentialLoop() {
        let start = Self.state(6), g = start.g
        var theta = start.theta, m = start.slot, v = start.slot.map { $0 * $0 }
        var expected = theta, expectedM = m, expectedV = v
        Optimizers.adamStep(parameters: &expected, gradients: g, m: &expectedM, v: &expectedV, count: Self.count,
                            step: 3, learningRate: 0.001)
        withThreads(3) {
            WeightLoops.adamStep(parameters: &theta, gradients: g, m: &m, v: &v, count: Self.count, step: 3,
                                 learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7)
        }
        #expect(theta.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(m.map(\.bitPattern) == expectedM.map(\.bitPattern))
        #expect(v.map(\.bitPattern) == expectedV.map(\.bitPattern))
    }
}

/// At the AVX-512 level Float steps run in a C kernel; each weight must get the Swift loop's bits.
@Suite struct VectorOptimizerTests {
    static func inputs(_ n: Int) -> (theta: [Float], g: [Float], m: [Float], v: [Float]) {
        var r = TestRandom(77)
        return (r.array(n), r.array(n, -3, 3), r.array(n, -0.1, 0.1), r.array(n, 0, 0.2))
    }

    @Test func adamMatchesTheLoop() throws {
        try #require(Runtime.CPULevel.avx512.isSupported)
        let n = 1037
        let inputs = Self.inputs(n)
        var theta = inputs.theta, m = inputs.m, v = inputs.v
        let g = inputs.g
        var (theta2, m2, v2) = (theta, m, v)
        withCPULevel(.avx512) {
            Optimizers.adamStep(parameters: &theta, gradients: g, m: &m, v: &v, count: n, step: 7,
                                learningRate: 0.003, beta1: 0.9, beta2: 0.999, epsilon: 1e-7)
        }
        Optimizers.adamUpdate(parameters: &theta2, gradients: g, m: &m2, v: &v2, count: n, step: 7,
                              learningRate: 0.003, beta1: 0.9, beta2: 0.999, epsilon: 1e-7)
        #expect(theta.map(\.bitPattern) == theta2.map(\.bitPattern))
        #expect(m.map(\.bitPattern) == m2.map(\.bitPattern))
        #expect(v.map(\.bitPattern) == v2.map(\.bitPattern))
    }

    @Test func sgdMatchesTheLoop() throws {
        try #require(Runtime.CPULevel.avx512.isSupported)
        let n = 1037
        let inputs = Self.inputs(n)
        var theta = inputs.theta, velocity = inputs.m
        let g = inputs.g
        var (theta2, velocity2) = (theta, velocity)
        withCPULevel(.avx512) {
            Optimizers.sgdStep(parameters: &theta, gradients: g, velocity: &velocity, count: n, learningRate: 0.01,
                               momentum: 0.9)
        }
        Optimizers.sgdUpdate(parameters: &theta2, gradients: g, velocity: &velocity2, count: n, learningRate: 0.01,
                             momentum: 0.9)
        #expect(theta.map(\.bitPattern) == theta2.map(\.bitPattern))
        #expect(velocity.map(\.bitPattern) == velocity2.map(\.bitPattern))
    }
}
