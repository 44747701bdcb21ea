import Testing
@testable import BayesNetRuntime

/// A convolution configuration small enough for finite differences on every element.
struct ConvCase: Sendable, CustomStringConvertible {
    var input: [Int], inChannels: Int, outChannels: Int
    var filter: [Int], strides: [Int], dilations: [Int], padding: PaddingMode
    var batch = 2

    var geometry: ConvGeometry {
        ConvGeometry(inputSpatial: input, inChannels: inChannels, outChannels: outChannels, filter: filter,
                     strides: strides, dilations: dilations, padding: padding)
    }
    var description: String { "in \(input)x\(inChannels) k \(filter) s \(strides) d \(dilations) \(padding) out \(outChannels)" }

    static let all: [ConvCase] = [
        ConvCase(input: [7], inChannels: 2, outChannels: 3, filter: [3], strides: [2], dilations: [1], padding: .same),
        ConvCase(input: [9], inChannels: 1, outChannels: 2, filter: [2], strides: [1], dilations: [3], padding: .valid),
        ConvCase(input: [6], inChannels: 3, outChannels: 1, filter: [4], strides: [3], dilations: [1], padding: .same),
        ConvCase(input: [5, 6], inChannels: 2, outChannels: 3, filter: [3, 2], strides: [2, 1], dilations: [1, 2],
                 padding: .same),
        ConvCase(input: [7, 5], inChannels: 3, outChannels: 2, filter: [2, 3], strides: [1, 2], dilations: [2, 1],
                 padding: .valid),
        ConvCase(input: [4, 4], inChannels: 1, outChannels: 2, filter: [4, 4], strides: [3, 3], dilations: [1, 1],
                 padding: .same),
        ConvCase(input: [3, 4, 5], inChannels: 2, outChannels: 2, filter: [2, 3, 2], strides: [1, 2, 1],
                 dilations: [1, 1, 2], padding: .same),
        ConvCase(input: [5, 3, 4], inChannels: 1, outChannels: 3, filter: [3, 1, 2], strides: [2, 1, 1],
                 dilations: [1, 1, 1], padding: .valid),
        ConvCase(input: [3, 3, 3], inChannels: 2, outChannels: 1, filter: [3, 3, 3], strides: [2, 2, 2],
                 dilations: [1, 1, 1], padding: .same, batch: 1),
    ]
}

@Suite struct ConvolutionGradientTests {
    /// sum(conv(x, kernel) + bias) · r, a scalar whose gradients the backward passes must reproduce.
    static func loss(_ c: ConvCase, x: [Double], kernel: [Double], bias: [Double], r: [Double]) -> Double {
        var y = [Double](repeating: 0, count: c.batch * c.geometry.outputCount)
        Convolution.forward(x: x, kernel: kernel, bias: bias, y: &y, batch: c.batch, geometry: c.geometry)
        return dot(y, r)
    }

    static func inputs(_ c: ConvCase, seed: UInt64) -> (x: [Double], kernel: [Double], bias: [Double], r: [Double]) {
        var rng = TestRandom(seed)
        let g = c.geometry
        return (rng.array(c.batch * g.inputCount), rng.array(g.kernelCount), rng.array(g.outChannels),
                rng.array(c.batch * g.outputCount))
    }

    @Test("Input gradient equals finite differences", arguments: ConvCase.all)
    func inputGradient(_ c: ConvCase) {
        let (x, kernel, bias, r) = Self.inputs(c, seed: 1)
        var dx = [Double](repeating: .nan, count: x.count)
        Convolution.backwardInput(dy: r, kernel: kernel, dx: &dx, batch: c.batch, geometry: c.geometry, accumulate: false)
        let numeric = numericGradient(x) { Self.loss(c, x: $0, kernel: kernel, bias: bias, r: r) }
        #expect(maxError(dx, numeric) < 1e-7)
    }

    @Test("Kernel gradient equals finite differences", arguments: ConvCase.all)
    func kernelGradient(_ c: ConvCase) {
        let (x, kernel, bias, r) = Self.inputs(c, seed: 2)
        var dk = [Double](repeating: .nan, count: kernel.count)
        Convolution.backwardKernel(x: x, dy: r, dkernel: &dk, batch: c.batch, geometry: c.geometry, accumulate: false)
        let numeric = numericGradient(kernel) { Self.loss(c, x: x, kernel: $0, bias: bias, r: r) }
        #expect(maxError(dk, numeric) < 1e-7)
    }

    @Test("Bias gradient equals finite differences", arguments: ConvCase.all)
    func biasGradient(_ c: ConvCase) {
        let (x, kernel, bias, r) = Self.inputs(c, seed: 3)
        var db = [Double](repeating: .nan, count: bias.count)
        Bias.backward(dy: r, dbias: &db, rows: c.batch * c.geometry.outputPositions,
                                 channels: c.geometry.outChannels, accumulate: false)
        let numeric = numericGradient(bias) { Self.loss(c, x: x, kernel: kernel, bias: $0, r: r) }
        #expect(maxError(db, numeric) < 1e-7)
    }

    @Test("Float gradients agree with Double", arguments: ConvCase.all)
    func floatMatchesDouble(_ c: ConvCase) {
        let (x, kernel, _, r) = Self.inputs(c, seed: 4)
        let g = c.geometry
        var dx = [Double](repeating: 0, count: x.count), dk = [Double](repeating: 0, count: kernel.count)
        Convolution.backwardInput(dy: r, kernel: kernel, dx: &dx, batch: c.batch, geometry: g, accumulate: false)
        Convolution.backwardKernel(x: x, dy: r, dkernel: &dk, batch: c.batch, geometry: g, accumulate: false)
        let xf = x.map(Float.init), kf = kernel.map(Float.init), rf = r.map(Float.init)
        var dxf = [Float](repeating: .nan, count: x.count), dkf = [Float](repeating: .nan, count: kernel.count)
        Convolution.backwardInput(dy: rf, kernel: kf, dx: &dxf, batch: c.batch, geometry: g, accumulate: false)
        Convolution.backwardKernel(x: xf, dy: rf, dkernel: &dkf, batch: c.batch, geometry: g, accumulate: false)
        #expect(maxError(dxf, dx) < 1e-5)
        #expect(maxError(dkf, dk) < 1e-5)
    }

    @Test func accumulateAddsToExistingGradients() {
        let c = ConvCase.all[3]
        let (x, kernel, _, r) = Self.inputs(c, seed: 5)
        var dx = [Float](repeating: 0, count: x.count), dk = [Float](repeating: 0, count: kernel.count)
        let xf = x.map(Float.init), kf = kernel.map(Float.init), rf = r.map(Float.init)
        Convolution.backwardInput(dy: rf, kernel: kf, dx: &dx, batch: c.batch, geometry: c.geometry, accumulate: false)
        Convolution.backwardKernel(x: xf, dy: rf, dkernel: &dk, batch: c.batch, geometry: c.geometry, accumulate: false)
        var dx2 = [Float](repeating: 1, count: x.count), dk2 = [Float](repeating: 1, count: kernel.count)
        Convolution.backwardInput(dy: rf, kernel: kf, dx: &dx2, batch: c.batch, geometry: c.geometry, accumulate: true)
        Convolution.backwardKernel(x: xf, dy: rf, dkernel: &dk2, batch: c.batch, geometry: c.geometry, accumulate: true)
        #expect(maxError(dx2, dx.map { $0 + 1 }) < 1e-6)
        #expect(maxError(dk2, dk.map { $0 + 1 }) < 1e-6)
    }
}

@Suite(.serialized) struct ConvolutionKernelFamilyTests {
    /// Shapes that exercise partial tiles in both directions, several depth blocks, both input-gradient forms.
    static let cases: [ConvCase] = [
        ConvCase(input: [9, 11], inChannels: 5, outChannels: 37, filter: [3, 3], strides: [1, 1], dilations: [1, 1],
                 padding: .same, batch: 3),
        ConvCase(input: [13, 7], inChannels: 24, outChannels: 9, filter: [3, 2], strides: [2, 1], dilations: [1, 2],
                 padding: .valid, batch: 2),
        ConvCase(input: [4, 5, 6], inChannels: 16, outChannels: 20, filter: [2, 3, 3], strides: [1, 1, 1],
                 dilations: [1, 1, 1], padding: .same, batch: 2),
        ConvCase(input: [21], inChannels: 40, outChannels: 6, filter: [5], strides: [1], dilations: [2],
                 padding: .same, batch: 5),
    ]

    /// The plain loops of ConvGeneric, the oracle for the packed C paths.
    static func oracle(_ c: ConvCase, _ x: [Double], _ k: [Double], _ b: [Double], _ r: [Double])
        -> (y: [Double], dx: [Double], dk: [Double]) {
        let g = c.geometry
        var y = [Double](repeating: 0, count: r.count), dx = [Double](repeating: 0, count: x.count)
        var dk = [Double](repeating: 0, count: k.count)
        ConvGeneric.forward(x: x, kernel: k, bias: b, y: &y, batch: c.batch, g: g)
        ConvGeneric.backwardInput(dy: r, kernel: k, dx: &dx, batch: c.batch, g: g, accumulate: false)
        ConvGeneric.backwardKernel(x: x, dy: r, dkernel: &dk, batch: c.batch, g: g, accumulate: false)
        return (y, dx, dk)
    }

    static func fast<S: TensorScalar>(_ c: ConvCase, _ x: [S], _ k: [S], _ b: [S], _ r: [S])
        -> (y: [S], dx: [S], dk: [S]) {
        let g = c.geometry
        var y = [S](repeating: .nan, count: r.count), dx = [S](repeating: .nan, count: x.count)
        var dk = [S](repeating: .nan, count: k.count)
        Convolution.forward(x: x, kernel: k, bias: b, y: &y, batch: c.batch, geometry: g)
        Convolution.backwardInput(dy: r, kernel: k, dx: &dx, batch: c.batch, geometry: g, accumulate: false)
        Convolution.backwardKernel(x: x, dy: r, dkernel: &dk, batch: c.batch, geometry: g, accumulate: false)
        return (y, dx, dk)
    }

    @Test("Every supported micro-kernel gives the reference results in Float and Double", arguments: cases)
    func everyKernelFamily(_ c: ConvCase) {
        let (x, kernel, bias, r) = ConvolutionGradientTests.inputs(c, seed: 81)
        let want = Self.oracle(c, x, kernel, bias, r)
        let xf = x.map(Float.init), kf = kernel.map(Float.init), bf = bias.map(Float.init), rf = r.map(Float.init)
        for family in Runtime.CPULevel.allCases where family.isSupported {
            let (f, d) = withCPULevel(family) { (Self.fast(c, xf, kf, bf, rf), Self.fast(c, x, kernel, bias, r)) }
            #expect(maxError(f.y, want.y) < 1e-5, "\(family)")
            #expect(maxError(f.dx, want.dx) < 1e-5, "\(family)")
            #expect(maxError(f.dk, want.dk) < 1e-5, "\(family)")
            #expect(maxError(d.y, want.y) < 1e-12, "\(family)")
            #expect(maxError(d.dx, want.dx) < 1e-12, "\(family)")
            #expect(maxError(d.dk, want.dk) < 1e-12, "\(family)")
        }
    }
}

/// With at most 8 input channels the AVX-512 level reads patches from a padded copy of the input instead of
/// packing them (few_channels.h); it must give the packed GEMM's bits.
@Suite(.serialized) struct FewChannelConvolutionTests {
    static let cases: [ConvCase] = [
        ConvCase(input: [28, 28], inChannels: 1, outChannels: 6, filter: [5, 5], strides: [1, 1], dilations: [1, 1],
                 padding: .same, batch: 3),
        ConvCase(input: [11, 9], inChannels: 1, outChannels: 40, filter: [3, 4], strides: [2, 1], dilations: [1, 2],
                 padding: .valid, batch: 4),
        ConvCase(input: [6, 7, 5], inChannels: 1, outChannels: 17, filter: [3, 3, 3], strides: [1, 1, 1],
                 dilations: [1, 1, 1], padding: .same, batch: 2),
        ConvCase(input: [300], inChannels: 1, outChannels: 64, filter: [9], strides: [1], dilations: [2],
                 padding: .same, batch: 9),
        ConvCase(input: [9, 10, 8], inChannels: 8, outChannels: 16, filter: [3, 3, 3], strides: [1, 1, 1],
                 dilations: [1, 1, 1], padding: .same, batch: 3),
        ConvCase(input: [13, 12], inChannels: 3, outChannels: 21, filter: [5, 5], strides: [2, 2], dilations: [1, 1],
                 padding: .same, batch: 5),
        ConvCase(input: [14, 14], inChannels: 6, outChannels: 16, filter: [5, 5], strides: [1, 1], dilations: [1, 1],
                 padding: .same, batch: 4),
    ]

    @Test(arguments: cases) func sameBitsAsThePackedGEMM(_ c: ConvCase) throws {
        try #require(Runtime.CPULevel.avx512.isSupported)
        let (x, kernel, bias, r) = ConvolutionGradientTests.inputs(c, seed: 5)
        let xf = x.map(Float.init), kf = kernel.map(Float.init), bf = bias.map(Float.init), rf = r.map(Float.init)
        let (packed, direct) = withCPULevel(.avx512) {
            Runtime.fewChannelKernels = false
            let packed = ConvolutionKernelFamilyTests.fast(c, xf, kf, bf, rf)
            Runtime.fewChannelKernels = true
            return (packed, ConvolutionKernelFamilyTests.fast(c, xf, kf, bf, rf))
        }
        #expect(direct.y.map(\.bitPattern) == packed.y.map(\.bitPattern))
        #expect(direct.dk.map(\.bitPattern) == packed.dk.map(\.bitPattern))
    }
}
