import Testing
@testable import BayesNetRuntime

struct GemmCase: Sendable, CustomStringConvertible {
    var m: Int, n: Int, k: Int, transA: Bool, transB: Bool
    var description: String { "\(m)x\(n)x\(k) \(transA ? "T" : "N")\(transB ? "T" : "N")" }

    /// Edge sizes around the micro-tile and block sizes, in every transpose combination.
    static let all: [GemmCase] = {
        // The last two pack B block by block (too large to keep whole) and the first of them spans two
        // column blocks of the driver.
        let shapes = [(1, 1, 1), (5, 7, 3), (13, 33, 17), (37, 65, 300), (150, 20, 9), (3, 200, 70), (64, 64, 513),
                      (20, 1100, 130), (30, 300, 460)]
        return shapes.flatMap { s in
            [(false, false), (true, false), (false, true), (true, true)].map {
                GemmCase(m: s.0, n: s.1, k: s.2, transA: $0.0, transB: $0.1)
            }
        }
    }()
}

@Suite struct GemmTests {
    /// Single-precision rounding grows like the square root of the depth of the sums.
    static func tolerance(_ c: GemmCase) -> Double { 5e-6 + 2e-6 * Double(c.k).squareRoot() }

    /// Double-precision oracle by the definition.
    static func naive(_ c: GemmCase, alpha: Double, a: [Float], b: [Float], beta: Double, c0: [Float]) -> [Double] {
        var out = [Double](repeating: 0, count: c.m * c.n)
        for i in 0..<c.m {
            for j in 0..<c.n {
                var s = 0.0
                for p in 0..<c.k {
                    let av = c.transA ? a[p * c.m + i] : a[i * c.k + p]
                    let bv = c.transB ? b[j * c.k + p] : b[p * c.n + j]
                    s += Double(av) * Double(bv)
                }
                out[i * c.n + j] = alpha * s + (beta == 0 ? 0 : beta * Double(c0[i * c.n + j]))
            }
        }
        return out
    }

    static func run(_ c: GemmCase, kernel: Runtime.CPULevel, beta: Float) -> (got: [Float], want: [Double]) {
        var rng = TestRandom(UInt64(c.m * 1_000_000 + c.n * 1000 + c.k))
        let a: [Float] = rng.array(c.m * c.k), b: [Float] = rng.array(c.k * c.n)
        let c0: [Float] = beta == 0 ? [Float](repeating: .nan, count: c.m * c.n) : rng.array(c.m * c.n)
        var out = c0
        withCPULevel(kernel) {
            Gemm.gemm(transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: 0.75, a: a,
                      lda: c.transA ? c.m : c.k, b: b, ldb: c.transB ? c.k : c.n, beta: beta, c: &out, ldc: c.n)
        }
        return (out, naive(c, alpha: 0.75, a: a, b: b, beta: Double(beta), c0: c0))
    }

    @Test("Every supported kernel matches the definition, beta 0", arguments: GemmCase.all)
    func betaZero(_ c: GemmCase) {
        for kernel in Runtime.CPULevel.allCases where kernel.isSupported {
            let (got, want) = Self.run(c, kernel: kernel, beta: 0)
            #expect(maxError(got, want) < Self.tolerance(c), "\(kernel)")
        }
    }

    @Test("Every supported kernel matches the definition, beta 0.5", arguments: GemmCase.all)
    func betaHalf(_ c: GemmCase) {
        for kernel in Runtime.CPULevel.allCases where kernel.isSupported {
            let (got, want) = Self.run(c, kernel: kernel, beta: 0.5)
            #expect(maxError(got, want) < Self.tolerance(c), "\(kernel)")
        }
    }

    @Test("Every supported kernel matches the definition in Double", arguments: GemmCase.all)
    func doublePrecision(_ c: GemmCase) {
        var rng = TestRandom(UInt64(c.m * 7919 + c.n * 31 + c.k))
        let a: [Double] = rng.array(c.m * c.k), b: [Double] = rng.array(c.k * c.n), c0: [Double] = rng.array(c.m * c.n)
        var want = c0
        Gemm.reference(transA: c.transA, transB: c.transB, rows: 0..<c.m, n: c.n, k: c.k, alpha: 0.75, a: a,
                       lda: c.transA ? c.m : c.k, b: b, ldb: c.transB ? c.k : c.n, beta: 0.5, c: &want, ldc: c.n)
        for kernel in Runtime.CPULevel.allCases where kernel.isSupported {
            var out = c0
            withCPULevel(kernel) {
                Gemm.gemm(transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: 0.75, a: a,
                          lda: c.transA ? c.m : c.k, b: b, ldb: c.transB ? c.k : c.n, beta: 0.5, c: &out, ldc: c.n)
            }
            #expect(maxError(out, want) < 1e-12, "\(kernel)")
        }
    }

    @Test func doubleMatchesTheDefinition() {
        let c = GemmCase(m: 9, n: 11, k: 6, transA: true, transB: true)
        var rng = TestRandom(51)
        let a: [Float] = rng.array(c.m * c.k), b: [Float] = rng.array(c.k * c.n), c0: [Float] = rng.array(c.m * c.n)
        var out = c0.map(Double.init)
        Gemm.gemm(transA: true, transB: true, m: c.m, n: c.n, k: c.k, alpha: 0.75, a: a.map(Double.init), lda: c.m,
                  b: b.map(Double.init), ldb: c.k, beta: 0.5, c: &out, ldc: c.n)
        #expect(maxError(out, Self.naive(c, alpha: 0.75, a: a, b: b, beta: 0.5, c0: c0)) < 1e-12)
    }

    @Test func respectsLeadingDimensionsLargerThanTheMatrix() {
        // A is the left 2x3 block of a 2x5 buffer; C is the left 2x2 block of a 2x4 buffer, whose other columns stay.
        let a: [Float] = [1, 2, 3, 9, 9, 4, 5, 6, 9, 9]
        let b: [Float] = [1, 0, 0, 1, 1, 1]
        var c: [Float] = [7, 7, 7, 7, 7, 7, 7, 7]
        Gemm.gemm(transA: false, transB: false, m: 2, n: 2, k: 3, alpha: 1, a: a, lda: 5, b: b, ldb: 2, beta: 0,
                  c: &c, ldc: 4)
        #expect(c == [4, 5, 7, 7, 10, 11, 7, 7])
    }

    @Test func zeroInnerDimensionScalesC() {
        var c: [Float] = [2, 4]
        Gemm.gemm(transA: false, transB: false, m: 1, n: 2, k: 0, alpha: 1, a: [0], lda: 1, b: [0], ldb: 2, beta: 0.5,
                  c: &c, ldc: 2)
        #expect(c == [1, 2])
    }
}
