import Testing
import BayesNetRuntime

/// The finiteness check that guards every training step's gradients.
@Suite struct FiniteTests {
    static func check<S: TensorScalar>(_ values: [S]) -> Bool {
        values.withUnsafeBufferPointer { Finite.all($0.baseAddress!, count: $0.count) }
    }

    @Test func extremeFiniteValuesPass() {
        let f: [Float] = [0, -0, .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude,
                          -.greatestFiniteMagnitude, 1, -3.5]
        let d: [Double] = [0, -0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        #expect(Self.check(f))
        #expect(Self.check(d))
    }

    @Test(arguments: [Float.infinity, -.infinity, .nan, -.nan, .signalingNaN])
    func oneNonFiniteFloatAnywhereFails(bad: Float) {
        for position in [0, 17, 999] {
            var values = [Float](repeating: 0.25, count: 1000)
            values[position] = bad
            #expect(!Self.check(values), "\(bad) at \(position)")
        }
    }

    @Test(arguments: [Double.infinity, -.infinity, .nan])
    func oneNonFiniteDoubleAnywhereFails(bad: Double) {
        var values = [Double](repeating: -1e300, count: 333)
        values[332] = bad
        #expect(!Self.check(values))
    }

    @Test func anEmptyBufferIsFinite() {
        let one: [Float] = [.nan]
        #expect(one.withUnsafeBufferPointer { Finite.all($0.baseAddress!, count: 0) })
    }
}
