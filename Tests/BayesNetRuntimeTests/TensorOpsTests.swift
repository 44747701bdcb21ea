import Testing
@testable import BayesNetRuntime

@Suite struct TensorOpsTests {
    static let geometry = ConvGeometry(inputSpatial: [5, 4], inChannels: 2, outChannels: 3, filter: [3, 3],
                                       strides: [2, 1], dilations: [1, 1], padding: .same)

    @Test func convolutionMatchesThePointerForm() throws {
        var rng = TestRandom(91)
        let g = Self.geometry
        let x = Tensor<Float>(shape: [2, 5, 4, 2], data: rng.array(2 * g.inputCount))
        let k = Tensor<Float>(shape: [3, 3, 2, 3], data: rng.array(g.kernelCount))
        let b = Tensor<Float>(shape: [3], data: rng.array(3))
        let y = try Convolution.forward(x, kernel: k, bias: b, geometry: g)
        var want = [Float](repeating: 0, count: 2 * g.outputCount)
        Convolution.forward(x: x.scalars, kernel: k.scalars, bias: b.scalars, y: &want, batch: 2, geometry: g)
        #expect(y.shape == [2, 3, 4, 3])
        #expect(y.scalars == want)
    }

    @Test func wrongInputShapeIsAnError() {
        let x = Tensor<Float>(shape: [2, 5, 5, 2])
        let k = Tensor<Float>(shape: [3, 3, 2, 3])
        #expect(throws: ShapeError("input has shape [2, 5, 5, 2], expected [2, 5, 4, 2]")) {
            try Convolution.forward(x, kernel: k, geometry: Self.geometry)
        }
    }

    @Test func wrongKernelShapeIsAnError() {
        let x = Tensor<Float>(shape: [1, 5, 4, 2])
        #expect(throws: ShapeError.self) {
            try Convolution.forward(x, kernel: Tensor<Float>(shape: [3, 3, 3, 2]), geometry: Self.geometry)
        }
    }

    @Test func emptyValidOutputIsAnError() {
        #expect(throws: ShapeError.self) {
            try ConvGeometry.checked(inputSpatial: [3], inChannels: 1, outChannels: 1, filter: [3], strides: [1],
                                     dilations: [2], padding: .valid)
        }
    }

    @Test func mismatchedFilterRankIsAnError() {
        #expect(throws: ShapeError.self) {
            try ConvGeometry.checked(inputSpatial: [3, 3], inChannels: 1, outChannels: 1, filter: [3], strides: [1, 1],
                                     dilations: [1, 1], padding: .same)
        }
    }

    @Test func labelOutOfRangeIsAnError() {
        let logits = Tensor<Float>(shape: [2, 3])
        #expect(throws: ShapeError("label 3 outside 0..<3")) {
            try Losses.softmaxCrossEntropy(logits: logits, labels: [0, 3])
        }
    }

    @Test func denseTensorFormChecksTheInnerDimension() {
        #expect(throws: ShapeError.self) {
            try Dense.forward(Tensor<Double>(shape: [4, 3]), kernel: Tensor<Double>(shape: [2, 5]))
        }
    }

    @Test func flattenKeepsTheBatch() {
        let t = Tensor<Float>(shape: [3, 2, 2, 5]).flattened()
        #expect(t.shape == [3, 20])
    }

    @Test func poolingTensorFormHasTheOutputShape() throws {
        let g = try PoolGeometry.checked(inputSpatial: [7, 5], channels: 3, window: [2, 2], strides: [2, 2],
                                         padding: .same)
        let y = try Pooling.maxForward(Tensor<Float>(shape: [2, 7, 5, 3], repeating: 1), geometry: g)
        #expect(y.shape == [2, 4, 3, 3])
        #expect(y.scalars.allSatisfy { $0 == 1 })
    }
}
