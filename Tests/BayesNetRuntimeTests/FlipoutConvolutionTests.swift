import Testing
@testable import BayesNetRuntime

/// The fused Flipout convolution against its definition, two convolutions:
/// y = conv(x, μ) + s_out ⊙ conv(s_in ⊙ x, ΔW) + b, and the matching gradients.
@Suite("Flipout convolution")
struct FlipoutConvolutionTests {
    struct Case {
        var geometry: ConvGeometry
        var batch: Int
    }

    static let cases: [Case] = [
        // Unit strides, many input channels: the input gradient runs as a convolution.
        Case(geometry: ConvGeometry(inputSpatial: [7, 6], inChannels: 9, outChannels: 5, filter: [3, 3],
                                    strides: [1, 1], dilations: [1, 1], padding: .same), batch: 5),
        // Few input channels: the scatter form.
        Case(geometry: ConvGeometry(inputSpatial: [8, 8], inChannels: 3, outChannels: 6, filter: [5, 5],
                                    strides: [1, 1], dilations: [1, 1], padding: .same), batch: 3),
        // Strides and VALID padding.
        Case(geometry: ConvGeometry(inputSpatial: [9, 7], inChannels: 10, outChannels: 4, filter: [3, 2],
                                    strides: [2, 1], dilations: [1, 1], padding: .valid), batch: 4),
        // Rank 1, dilated, as the sequence workload.
        Case(geometry: ConvGeometry(inputSpatial: [40], inChannels: 8, outChannels: 16, filter: [9],
                                    strides: [1], dilations: [2], padding: .same), batch: 3),
        // Rank 3, as the volume workload; one example (rows of one example split over threads).
        Case(geometry: ConvGeometry(inputSpatial: [6, 5, 4], inChannels: 8, outChannels: 16, filter: [3, 3, 3],
                                    strides: [1, 1, 1], dilations: [1, 1, 1], padding: .same), batch: 1),
    ]

    struct Inputs {
        var x: [Double], mean: [Double], delta: [Double], bias: [Double], signIn: [Double], signOut: [Double]
        var dy: [Double]
    }

    static func inputs(_ c: Case, seed: UInt64) -> Inputs {
        var r = TestRandom(seed)
        let g = c.geometry
        func signs(_ n: Int) -> [Double] { (0..<n).map { _ in r.next() & 1 == 0 ? 1 : -1 } }
        return Inputs(x: r.array(c.batch * g.inputCount), mean: r.array(g.kernelCount),
                      delta: r.array(g.kernelCount, -0.3, 0.3), bias: r.array(g.outChannels),
                      signIn: signs(c.batch * g.inChannels), signOut: signs(c.batch * g.outChannels),
                      dy: r.array(c.batch * g.outputCount))
    }

    /// s ⊙ v with one sign per (example, channel), channels last.
    static func flip(_ v: [Double], _ signs: [Double], batch: Int, channels: Int) -> [Double] {
        let per = v.count / batch
        return v.indices.map { i in v[i] * signs[(i / per) * channels + i % channels] }
    }

    /// The two-convolution definition in double precision.
    static func reference(_ c: Case, _ t: Inputs) -> (y: [Double], dx: [Double], dMean: [Double], dDelta: [Double]) {
        let g = c.geometry, b = c.batch
        var y = [Double](repeating: 0, count: b * g.outputCount)
        var p = y
        let xf = flip(t.x, t.signIn, batch: b, channels: g.inChannels)
        Convolution.forward(x: t.x, kernel: t.mean, bias: t.bias, y: &y, batch: b, geometry: g)
        Convolution.forward(x: xf, kernel: t.delta, bias: nil, y: &p, batch: b, geometry: g)
        let pf = flip(p, t.signOut, batch: b, channels: g.outChannels)
        for i in y.indices { y[i] += pf[i] }
        let dyf = flip(t.dy, t.signOut, batch: b, channels: g.outChannels)
        var dx = [Double](repeating: 0, count: b * g.inputCount), dxf = dx
        Convolution.backwardInput(dy: t.dy, kernel: t.mean, dx: &dx, batch: b, geometry: g, accumulate: false)
        Convolution.backwardInput(dy: dyf, kernel: t.delta, dx: &dxf, batch: b, geometry: g, accumulate: false)
        let back = flip(dxf, t.signIn, batch: b, channels: g.inChannels)
        for i in dx.indices { dx[i] += back[i] }
        var dMean = [Double](repeating: 0, count: g.kernelCount), dDelta = dMean
        Convolution.backwardKernel(x: t.x, dy: t.dy, dkernel: &dMean, batch: b, geometry: g, accumulate: false)
        Convolution.backwardKernel(x: xf, dy: dyf, dkernel: &dDelta, batch: b, geometry: g, accumulate: false)
        return (y, dx, dMean, dDelta)
    }

    /// The fused path in precision S.
    static func fused<S: TensorScalar>(_ c: Case, _ t: Inputs, as _: S.Type, dMeanStart: [Double])
        -> (y: [S], dx: [S], dMean: [S], dDelta: [S]) {
        let g = c.geometry, b = c.batch
        func cast(_ v: [Double]) -> [S] { v.map { S($0) } }
        let x = cast(t.x), mean = cast(t.mean), delta = cast(t.delta), bias = cast(t.bias)
        let signIn = cast(t.signIn), signOut = cast(t.signOut), dy = cast(t.dy)
        let ws = FlipoutConvolution.Workspace<S>(geometry: g, maxBatch: b)
        var y = [S](repeating: 0, count: b * g.outputCount)
        var dx = [S](repeating: 7, count: b * g.inputCount)
        var dMean = cast(dMeanStart)
        var dDelta = [S](repeating: 7, count: g.kernelCount)
        FlipoutConvolution.forward(x: x, mean: mean, delta: delta, bias: bias, signIn: signIn, signOut: signOut,
                                   y: &y, batch: b, workspace: ws)
        FlipoutConvolution.backwardInput(dy: dy, mean: mean, delta: delta, signIn: signIn, signOut: signOut,
                                         dx: &dx, batch: b, workspace: ws)
        FlipoutConvolution.backwardKernel(x: x, dy: dy, signIn: signIn, signOut: signOut, dMean: &dMean,
                                          dDelta: &dDelta, batch: b, workspace: ws)
        return (y, dx, dMean, dDelta)
    }

    @Test(arguments: 0..<cases.count)
    func matchesTwoConvolutionsInDoublePrecision(_ index: Int) {
        let c = Self.cases[index]
        let t = Self.inputs(c, seed: UInt64(100 + index))
        let r = Self.reference(c, t)
        let start = (0..<c.geometry.kernelCount).map { Double($0 % 5) }
        let f = Self.fused(c, t, as: Double.self, dMeanStart: start)
        #expect(maxError(f.y, r.y) < 1e-12)
        #expect(maxError(f.dx, r.dx) < 1e-12)
        // dμ is added to what the gradient held; dΔW is overwritten.
        #expect(maxError(f.dMean, zip(r.dMean, start).map { $0 + $1 }) < 1e-12)
        #expect(maxError(f.dDelta, r.dDelta) < 1e-12)
    }

    @Test(arguments: 0..<cases.count)
    func matchesTwoConvolutionsInSinglePrecisionToRounding(_ index: Int) {
        let c = Self.cases[index]
        let t = Self.inputs(c, seed: UInt64(200 + index))
        let r = Self.reference(c, t)
        let zero = [Double](repeating: 0, count: c.geometry.kernelCount)
        let f = Self.fused(c, t, as: Float.self, dMeanStart: zero)
        #expect(maxError(f.y, r.y) < 1e-5)
        #expect(maxError(f.dx, r.dx) < 1e-5)
        #expect(maxError(f.dMean, r.dMean) < 1e-5)
        #expect(maxError(f.dDelta, r.dDelta) < 1e-5)
    }

    @Test func resultsDoNotDependOnTheThreadCount() {
        let c = Self.cases[0]
        let t = Self.inputs(c, seed: 300)
        let zero = [Double](repeating: 0, count: c.geometry.kernelCount)
        let one = withThreads(1) { Self.fused(c, t, as: Float.self, dMeanStart: zero) }
        let two = withThreads(2) { Self.fused(c, t, as: Float.self, dMeanStart: zero) }
        #expect(one.y == two.y)
        #expect(one.dx == two.dx)
        #expect(one.dMean == two.dMean)
        #expect(one.dDelta == two.dDelta)
    }
}
