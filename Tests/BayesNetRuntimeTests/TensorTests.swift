import Testing
@testable import BayesNetRuntime

@Suite struct TensorTests {
    @Test func subscriptIsRowMajor() {
        let t = Tensor<Float>(shape: [2, 3], data: [0, 1, 2, 3, 4, 5])
        #expect(t[1, 0] == 3)
        #expect(t[0, 2] == 2)
        #expect(t.strides == [3, 1])
    }

    @Test func repeatingFillsEveryElement() {
        let t = Tensor<Double>(shape: [2, 2, 2], repeating: 1.5)
        #expect(t.count == 8)
        #expect(t.scalars.allSatisfy { $0 == 1.5 })
    }

    @Test func reshapeKeepsTheElements() {
        var t = Tensor<Float>(shape: [2, 2, 3], repeating: 0)
        t[1, 1, 2] = 7
        let flat = t.reshaped([2, 6])
        #expect(flat[1, 5] == 7)
    }

    @Test func copiesAreIndependentValues() {
        var a = Tensor<Float>(shape: [2], data: [1, 2])
        let b = a
        a.withUnsafeMutableBufferPointer { $0[0] = 9 }
        #expect(b.scalars == [1, 2])
        #expect(a.scalars == [9, 2])
    }
}
