import Foundation
@testable import BayesNetRuntime

/// SplitMix64: a small deterministic generator so every test sees the same numbers.
struct TestRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53)
    }

    mutating func array<S: TensorScalar>(_ count: Int, _ lo: Double = -1, _ hi: Double = 1) -> [S] {
        (0..<count).map { _ in S(uniform(lo, hi)) }
    }
}

/// Central-difference derivative of `loss` with respect to every element of `values`.
func numericGradient(_ values: [Double], step: Double = 1e-6, _ loss: ([Double]) -> Double) -> [Double] {
    var v = values
    var g = [Double](repeating: 0, count: values.count)
    for i in values.indices {
        let saved = v[i]
        v[i] = saved + step
        let up = loss(v)
        v[i] = saved - step
        let down = loss(v)
        v[i] = saved
        g[i] = (up - down) / (2 * step)
    }
    return g
}

/// max |a - b| / max(|b|, 1) over elements.
func maxError<S: TensorScalar, T: TensorScalar>(_ a: [S], _ b: [T]) -> Double {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let e = abs(Double(x) - Double(y)) / max(abs(Double(y)), 1)
        if e.isNaN { return .infinity }
        worst = max(worst, e)
    }
    return worst
}

func dot(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
}

/// The instruction-set level is process-wide and suites run in parallel: tests that switch it, and tests that
/// compare bits between runs, hold this lock, so that no switch lands between the runs they compare.
let cpuLevelLock = NSLock()

/// Runs `body` at `level`, restoring the previous level, holding `cpuLevelLock`.
func withCPULevel<R>(_ level: Runtime.CPULevel, _ body: () throws -> R) rethrows -> R {
    cpuLevelLock.lock()
    defer { cpuLevelLock.unlock() }
    let saved = Runtime.cpuLevel
    Runtime.cpuLevel = level
    defer { Runtime.cpuLevel = saved }
    return try body()
}

/// Runs `body` with the runtime's thread count set to `n`, restoring it afterwards.
func withThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
    let saved = Runtime.threadCount
    Runtime.threadCount = n
    defer { Runtime.threadCount = saved }
    return try body()
}
