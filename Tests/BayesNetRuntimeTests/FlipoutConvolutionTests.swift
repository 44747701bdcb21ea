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

/// At the AVX-512 level the fused layer reads patches from padded planes and adds each example's kernel
/// gradient into dμ and dΔW from registers (plane_conv.h); it must give the bits of the packed GEMM with
/// the per-example gradients summed in memory.
@Suite(.serialized) struct FlipoutPlaneKernelTests {
    typealias Case = FlipoutConvolutionTests.Case

    static let cases: [Case] = [
        // w1's third convolution: 49 positions, 400 kernel rows, 120 outputs (three column tiles).
        Case(geometry: ConvGeometry(inputSpatial: [7, 7], inChannels: 16, outChannels: 120, filter: [5, 5],
                                    strides: [1, 1], dilations: [1, 1], padding: .same), batch: 3),
        // More than 256 positions (several depth blocks in the kernel gradient), one input channel.
        Case(geometry: ConvGeometry(inputSpatial: [20, 19], inChannels: 1, outChannels: 6, filter: [5, 5],
                                    strides: [1, 1], dilations: [1, 1], padding: .same), batch: 2),
        // Strides, VALID, a column count that leaves a partial vector.
        Case(geometry: ConvGeometry(inputSpatial: [11, 9], inChannels: 5, outChannels: 40, filter: [3, 4],
                                    strides: [2, 1], dilations: [1, 1], padding: .valid), batch: 3),
        // Rank 1 dilated, filter rows read in place by the GEMM (its depth blocks follow the filter rows).
        Case(geometry: ConvGeometry(inputSpatial: [50], inChannels: 32, outChannels: 64, filter: [9],
                                    strides: [1], dilations: [2], padding: .same), batch: 2),
        // Rank 3.
        Case(geometry: ConvGeometry(inputSpatial: [5, 6, 7], inChannels: 3, outChannels: 33, filter: [3, 3, 3],
                                    strides: [1, 1, 1], dilations: [1, 1, 1], padding: .same), batch: 2),
        // A volume of more than 64 depth blocks of positions in the kernel gradient, 8 outputs (8-lane vectors).
        Case(geometry: ConvGeometry(inputSpatial: [26, 26, 26], inChannels: 2, outChannels: 8, filter: [3, 3, 3],
                                    strides: [1, 1, 1], dilations: [1, 1, 1], padding: .same), batch: 1),
        // Many input channels, few outputs: the input gradient's convolution has 100 columns of depth per tap.
        Case(geometry: ConvGeometry(inputSpatial: [6, 6], inChannels: 100, outChannels: 12, filter: [3, 3],
                                    strides: [1, 1], dilations: [1, 1], padding: .same), batch: 2),
    ]

    @Test(arguments: 0..<cases.count) func sameBitsAsThePackedGEMM(_ index: Int) throws {
        try #require(Runtime.CPULevel.avx512.isSupported)
        let c = Self.cases[index]
        let t = FlipoutConvolutionTests.inputs(c, seed: UInt64(400 + index))
        let start = (0..<c.geometry.kernelCount).map { Double($0 % 7) / 8 }
        let (packed, planes) = withCPULevel(.avx512) {
            Runtime.fewChannelKernels = false
            defer { Runtime.fewChannelKernels = true }
            let packed = FlipoutConvolutionTests.fused(c, t, as: Float.self, dMeanStart: start)
            Runtime.fewChannelKernels = true
            return (packed, FlipoutConvolutionTests.fused(c, t, as: Float.self, dMeanStart: start))
        }
        #expect(planes.y.map(\.bitPattern) == packed.y.map(\.bitPattern))
        // With fewer than 8 input channels and unit strides the input gradient takes the convolution form on
        // the planes and the scatter form when packed: other sums, the same values to rounding.
        let g = c.geometry
        if g.inChannels >= 8 || g.stride3.contains(where: { $0 != 1 }) {
            #expect(planes.dx.map(\.bitPattern) == packed.dx.map(\.bitPattern))
        } else {
            #expect(maxError(planes.dx, packed.dx) < 1e-5)
        }
        #expect(planes.dMean.map(\.bitPattern) == packed.dMean.map(\.bitPattern))
        #expect(planes.dDelta.map(\.bitPattern) == packed.dDelta.map(\.bitPattern))
    }

    @Test func kernelGradientSplitOverThreadsKeepsItsBits() {
        let c = Self.cases[0]
        let t = FlipoutConvolutionTests.inputs(c, seed: 500)
        let zero = [Double](repeating: 0, count: c.geometry.kernelCount)
        let one = withThreads(1) { FlipoutConvolutionTests.fused(c, t, as: Float.self, dMeanStart: zero) }
        let two = withThreads(2) { FlipoutConvolutionTests.fused(c, t, as: Float.self, dMeanStart: zero) }
        #expect(one.dMean.map(\.bitPattern) == two.dMean.map(\.bitPattern))
        #expect(one.dDelta.map(\.bitPattern) == two.dDelta.map(\.bitPattern))
        #expect(one.y.map(\.bitPattern) == two.y.map(\.bitPattern))
    }
}
