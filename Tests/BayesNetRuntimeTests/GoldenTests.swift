import Testing
@testable import BayesNetRuntime

/// Every TensorFlow reference case, run in the scalar type S: outputs and all gradients within 1e-4.
struct GoldenConvolutionResult<S: TensorScalar> {
    var y: [S], dx: [S], dkernel: [S], dbias: [S]

    init(_ c: GoldenCase) {
        let x = c.tensor("x"), k = c.tensor("kernel")
        let geometry = ConvGeometry(inputSpatial: Swift.Array(x.shape[1...c.rank]), inChannels: x.shape.last!,
                                    outChannels: k.shape.last!, filter: c.ints["filter_shape"]!,
                                    strides: c.ints["strides"]!, dilations: c.ints["dilations"]!, padding: c.padding)
        let batch = x.shape[0]
        let xs = x.data.map { S($0) }, ks = k.data.map { S($0) }
        let bs = c.tensor("bias").data.map { S($0) }, dys = c.tensor("dy").data.map { S($0) }
        y = [S](repeating: .nan, count: batch * geometry.outputCount)
        dx = [S](repeating: .nan, count: xs.count)
        dkernel = [S](repeating: .nan, count: ks.count)
        dbias = [S](repeating: .nan, count: bs.count)
        Convolution.forward(x: xs, kernel: ks, bias: bs, y: &y, batch: batch, geometry: geometry)
        Convolution.backwardInput(dy: dys, kernel: ks, dx: &dx, batch: batch, geometry: geometry, accumulate: false)
        Convolution.backwardKernel(x: xs, dy: dys, dkernel: &dkernel, batch: batch, geometry: geometry,
                                   accumulate: false)
        Bias.backward(dy: dys, dbias: &dbias, rows: batch * geometry.outputPositions,
                                 channels: geometry.outChannels, accumulate: false)
    }
}

@Suite struct GoldenTests {
    static let convCases = GoldenCase.names(op: "conv")
    static let maxPoolCases = GoldenCase.names(op: "max_pool")
    static let avgPoolCases = GoldenCase.names(op: "avg_pool")

    @Test func everyGoldenFileIsUsed() {
        #expect(Self.convCases.count == 13)
        #expect(Self.maxPoolCases.count + Self.avgPoolCases.count == 5)
    }

    @Test("Float convolution matches TensorFlow", arguments: convCases)
    func convolutionFloat(_ file: String) throws {
        let c = try GoldenCase.load(file)
        let r = GoldenConvolutionResult<Float>(c)
        #expect(r.y.count == c.tensor("y").data.count)
        #expect(maxRelativeError(r.y, c.tensor("y").data) < 1e-4)
        #expect(maxRelativeError(r.dx, c.tensor("dx").data) < 1e-4)
        #expect(maxRelativeError(r.dkernel, c.tensor("dkernel").data) < 1e-4)
        #expect(maxRelativeError(r.dbias, c.tensor("dbias").data) < 1e-4)
    }

    @Test("Double convolution matches TensorFlow", arguments: convCases)
    func convolutionDouble(_ file: String) throws {
        let c = try GoldenCase.load(file)
        let r = GoldenConvolutionResult<Double>(c)
        #expect(maxRelativeError(r.y, c.tensor("y").data) < 1e-4)
        #expect(maxRelativeError(r.dx, c.tensor("dx").data) < 1e-4)
        #expect(maxRelativeError(r.dkernel, c.tensor("dkernel").data) < 1e-4)
        #expect(maxRelativeError(r.dbias, c.tensor("dbias").data) < 1e-4)
    }

    static func poolGeometry(_ c: GoldenCase) -> (PoolGeometry, Int) {
        let x = c.tensor("x")
        return (PoolGeometry(inputSpatial: Swift.Array(x.shape[1...c.rank]), channels: x.shape.last!,
                             window: c.ints["pool_size"]!, strides: c.ints["strides"]!, padding: c.padding), x.shape[0])
    }

    @Test("Max pooling matches TensorFlow", arguments: maxPoolCases)
    func maxPool(_ file: String) throws {
        let c = try GoldenCase.load(file)
        let (g, batch) = Self.poolGeometry(c)
        let x = c.tensor("x").data
        var y = [Float](repeating: .nan, count: batch * g.outputCount)
        var dx = [Float](repeating: .nan, count: x.count)
        Pooling.maxForward(x: x, y: &y, batch: batch, geometry: g)
        Pooling.maxBackward(x: x, y: y, dy: c.tensor("dy").data, dx: &dx, batch: batch, geometry: g)
        #expect(y.count == c.tensor("y").data.count)
        #expect(maxRelativeError(y, c.tensor("y").data) < 1e-4)
        #expect(maxRelativeError(dx, c.tensor("dx").data) < 1e-4)
    }

    @Test("Average pooling matches TensorFlow", arguments: avgPoolCases)
    func averagePool(_ file: String) throws {
        let c = try GoldenCase.load(file)
        let (g, batch) = Self.poolGeometry(c)
        let x = c.tensor("x").data
        var y = [Float](repeating: .nan, count: batch * g.outputCount)
        var dx = [Float](repeating: .nan, count: x.count)
        Pooling.averageForward(x: x, y: &y, batch: batch, geometry: g)
        Pooling.averageBackward(dy: c.tensor("dy").data, dx: &dx, batch: batch, geometry: g)
        #expect(y.count == c.tensor("y").data.count)
        #expect(maxRelativeError(y, c.tensor("y").data) < 1e-4)
        #expect(maxRelativeError(dx, c.tensor("dx").data) < 1e-4)
    }
}
