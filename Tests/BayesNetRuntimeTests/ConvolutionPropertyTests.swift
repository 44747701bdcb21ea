import Testing
@testable import BayesNetRuntime

@Suite struct ConvolutionPropertyTests {
    @Test("A 1x1 convolution is a matrix multiply", arguments: [[9], [4, 5], [3, 2, 5]])
    func pointwiseIsMatrixMultiply(_ spatial: [Int]) {
        let cin = 6, cout = 5, batch = 3
        let ones = spatial.map { _ in 1 }
        let g = ConvGeometry(inputSpatial: spatial, inChannels: cin, outChannels: cout, filter: ones, strides: ones,
                             dilations: ones, padding: .same)
        var rng = TestRandom(61)
        let x: [Float] = rng.array(batch * g.inputCount), k: [Float] = rng.array(cin * cout)
        var y = [Float](repeating: .nan, count: batch * g.outputCount)
        Convolution.forward(x: x, kernel: k, bias: nil, y: &y, batch: batch, geometry: g)
        let rows = batch * g.inputPositions
        var want = [Double](repeating: 0, count: rows * cout)
        for r in 0..<rows {
            for o in 0..<cout {
                for i in 0..<cin { want[r * cout + o] += Double(x[r * cin + i]) * Double(k[i * cout + o]) }
            }
        }
        #expect(maxError(y, want) < 1e-5)
    }

    @Test("SAME with stride 1 keeps the spatial size", arguments: [1, 2, 3])
    func sameStrideOneKeepsSize(_ rank: Int) {
        for size in [1, 2, 5, 8] {
            for filter in [1, 2, 3, 4, 7] {
                for dilation in [1, 2, 3] {
                    let g = ConvGeometry(inputSpatial: Array(repeating: size, count: rank), inChannels: 1,
                                         outChannels: 1, filter: Array(repeating: filter, count: rank),
                                         strides: Array(repeating: 1, count: rank),
                                         dilations: Array(repeating: dilation, count: rank), padding: .same)
                    #expect(g.outputSpatial == g.inputSpatial)
                    #expect(g.outputCount == g.inputCount)
                }
            }
        }
    }

    struct DilationCase: Sendable, CustomStringConvertible {
        var input: [Int], filter: [Int], strides: [Int], dilations: [Int], padding: PaddingMode
        var description: String { "in \(input) k \(filter) s \(strides) d \(dilations) \(padding)" }
    }

    static let dilationCases: [DilationCase] = [
        DilationCase(input: [11], filter: [3], strides: [1], dilations: [2], padding: .same),
        DilationCase(input: [12], filter: [2], strides: [2], dilations: [4], padding: .valid),
        DilationCase(input: [7, 8], filter: [3, 2], strides: [1, 2], dilations: [2, 3], padding: .same),
        DilationCase(input: [9, 7], filter: [2, 3], strides: [2, 1], dilations: [3, 2], padding: .valid),
        DilationCase(input: [5, 6, 7], filter: [2, 2, 3], strides: [1, 1, 2], dilations: [2, 3, 2], padding: .same),
    ]

    @Test("A dilated convolution equals the convolution with the kernel spread out with zeros",
          arguments: dilationCases)
    func dilationIsSpreadKernel(_ c: DilationCase) {
        let cin = 2, cout = 3, batch = 2
        let g = ConvGeometry(inputSpatial: c.input, inChannels: cin, outChannels: cout, filter: c.filter,
                             strides: c.strides, dilations: c.dilations, padding: c.padding)
        let spread = zip(c.filter, c.dilations).map { ($0 - 1) * $1 + 1 }
        let gs = ConvGeometry(inputSpatial: c.input, inChannels: cin, outChannels: cout, filter: spread,
                              strides: c.strides, dilations: c.input.map { _ in 1 }, padding: c.padding)
        var rng = TestRandom(62)
        let x: [Float] = rng.array(batch * g.inputCount), k: [Float] = rng.array(g.kernelCount)
        // Place each tap of k at its dilated position in the larger kernel.
        var ks = [Float](repeating: 0, count: gs.kernelCount)
        let f3 = g.filter3, s3 = gs.filter3, d3 = g.dilation3
        for tz in 0..<f3[0] {
            for ty in 0..<f3[1] {
                for tx in 0..<f3[2] {
                    let src = ((tz * f3[1] + ty) * f3[2] + tx) * cin * cout
                    let dst = (((tz * d3[0]) * s3[1] + ty * d3[1]) * s3[2] + tx * d3[2]) * cin * cout
                    for i in 0..<(cin * cout) { ks[dst + i] = k[src + i] }
                }
            }
        }
        #expect(g.outputSpatial == gs.outputSpatial)
        var y = [Float](repeating: .nan, count: batch * g.outputCount)
        var ys = [Float](repeating: .nan, count: batch * gs.outputCount)
        Convolution.forward(x: x, kernel: k, bias: nil, y: &y, batch: batch, geometry: g)
        Convolution.forward(x: x, kernel: ks, bias: nil, y: &ys, batch: batch, geometry: gs)
        #expect(maxError(y, ys) < 1e-5)
    }

    @Test func rankOneAndTwoAreRankThreeWithUnitDimensions() {
        let g1 = ConvGeometry(inputSpatial: [10], inChannels: 3, outChannels: 2, filter: [3], strides: [2],
                              dilations: [1], padding: .same)
        let g3 = ConvGeometry(inputSpatial: [1, 1, 10], inChannels: 3, outChannels: 2, filter: [1, 1, 3],
                              strides: [1, 1, 2], dilations: [1, 1, 1], padding: .same)
        var rng = TestRandom(63)
        let x: [Float] = rng.array(2 * g1.inputCount), k: [Float] = rng.array(g1.kernelCount), b: [Float] = rng.array(2)
        var y1 = [Float](repeating: 0, count: 2 * g1.outputCount), y3 = y1
        Convolution.forward(x: x, kernel: k, bias: b, y: &y1, batch: 2, geometry: g1)
        Convolution.forward(x: x, kernel: k, bias: b, y: &y3, batch: 2, geometry: g3)
        #expect(y1 == y3)
    }
}

@Suite struct GeometryTests {
    @Test func sameFollowsTensorFlowPadding() {
        // in 8, k 5, s 2: out 4, total pad max(3·2 + 5 - 8, 0) = 3, one before.
        let g = ConvGeometry(inputSpatial: [8], inChannels: 1, outChannels: 1, filter: [5], strides: [2],
                             dilations: [1], padding: .same)
        #expect(g.outputSpatial == [4])
        #expect(g.padBefore == [1])
    }

    @Test func validFollowsTensorFlowSize() {
        // in 13, k 4, d 2 (span 7), s 3: ceil((13 - 6) / 3) = 3.
        let g = ConvGeometry(inputSpatial: [13], inChannels: 1, outChannels: 1, filter: [4], strides: [3],
                             dilations: [2], padding: .valid)
        #expect(g.outputSpatial == [3])
        #expect(g.padBefore == [0])
    }

    @Test func countsAreProductsOfTheShapes() {
        let g = ConvGeometry(inputSpatial: [5, 6, 7], inChannels: 2, outChannels: 3, filter: [2, 3, 1],
                             strides: [1, 2, 3], dilations: [1, 1, 1], padding: .same)
        #expect(g.outputSpatial == [5, 3, 3])
        #expect(g.inputCount == 5 * 6 * 7 * 2)
        #expect(g.outputCount == 5 * 3 * 3 * 3)
        #expect(g.kernelCount == 6 * 2 * 3)
    }

    @Test func poolGeometryUsesTheSamePaddingRule() {
        let g = PoolGeometry(inputSpatial: [7, 5], channels: 3, window: [2, 2], strides: [2, 2], padding: .same)
        #expect(g.outputSpatial == [4, 3])
        #expect(g.padBefore == [0, 0])
        #expect(g.outputCount == 4 * 3 * 3)
    }
}

@Suite struct RandomConvolutionTests {
    /// Seeded random geometries, including deep patches (many channels x taps) whose depth blocks start
    /// in the middle of a channel run.
    static let cases: [ConvCase] = {
        var rng = TestRandom(4242)
        func pick(_ lo: Int, _ hi: Int) -> Int { lo + Int(rng.next() % UInt64(hi - lo + 1)) }
        return (0..<12).map { i in
            let rank = 1 + i % 3
            let input = (0..<rank).map { _ in pick(2, rank == 3 ? 5 : 9) }
            let filter = (0..<rank).map { _ in pick(1, 3) }
            let strides = (0..<rank).map { _ in pick(1, 2) }
            let dilations = (0..<rank).map { _ in pick(1, 2) }
            let padding: PaddingMode = i % 4 == 3 ? .valid : .same
            return ConvCase(input: input, inChannels: [3, 17, 64, 100][i % 4], outChannels: pick(1, 40),
                            filter: filter, strides: strides, dilations: dilations, padding: padding,
                            batch: pick(1, 3))
        }.filter { $0.geometry.outputPositions > 0 } + [
            ConvCase(input: [5, 5], inChannels: 100, outChannels: 33, filter: [3, 3], strides: [1, 1],
                     dilations: [1, 1], padding: .same, batch: 2),
            ConvCase(input: [3, 4, 4], inChannels: 70, outChannels: 5, filter: [3, 3, 2], strides: [1, 2, 1],
                     dilations: [1, 1, 2], padding: .same, batch: 1),
            // Long filter rows (fw·in ≥ 64) read in place: strides, edges on every side, VALID, rank 3.
            ConvCase(input: [7, 9], inChannels: 32, outChannels: 40, filter: [3, 3], strides: [2, 2],
                     dilations: [1, 1], padding: .same, batch: 2),
            ConvCase(input: [6, 7], inChannels: 64, outChannels: 17, filter: [2, 3], strides: [1, 2],
                     dilations: [1, 1], padding: .valid, batch: 3),
            ConvCase(input: [3, 4, 5], inChannels: 24, outChannels: 9, filter: [2, 2, 3], strides: [1, 1, 1],
                     dilations: [2, 1, 1], padding: .same, batch: 2),
            ConvCase(input: [9], inChannels: 90, outChannels: 70, filter: [4], strides: [1], dilations: [1],
                     padding: .same, batch: 4),
        ]
    }()

    @Test("Fast Float and Double paths agree with the plain loops", arguments: cases)
    func agreesWithReference(_ c: ConvCase) {
        let (x, kernel, bias, r) = ConvolutionGradientTests.inputs(c, seed: 99)
        let want = ConvolutionKernelFamilyTests.oracle(c, x, kernel, bias, r)
        let f = ConvolutionKernelFamilyTests.fast(c, x.map(Float.init), kernel.map(Float.init), bias.map(Float.init),
                                                 r.map(Float.init))
        let tolerance = 1e-6 * Double(c.geometry.patchSize).squareRoot() + 1e-6
        #expect(maxError(f.y, want.y) < tolerance)
        #expect(maxError(f.dx, want.dx) < tolerance)
        #expect(maxError(f.dk, want.dk) < tolerance * 4)
        let d = ConvolutionKernelFamilyTests.fast(c, x, kernel, bias, r)
        #expect(maxError(d.y, want.y) < 1e-12)
        #expect(maxError(d.dx, want.dx) < 1e-12)
        #expect(maxError(d.dk, want.dk) < 1e-12)
    }
}
