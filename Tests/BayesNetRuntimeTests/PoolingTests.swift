import Testing
@testable import BayesNetRuntime

struct PoolCase: Sendable, CustomStringConvertible {
    var input: [Int], channels: Int, window: [Int], strides: [Int], padding: PaddingMode
    var batch = 2
    var geometry: PoolGeometry {
        PoolGeometry(inputSpatial: input, channels: channels, window: window, strides: strides, padding: padding)
    }
    var description: String { "in \(input)x\(channels) w \(window) s \(strides) \(padding)" }

    static let all: [PoolCase] = [
        PoolCase(input: [7], channels: 2, window: [2], strides: [2], padding: .same),
        PoolCase(input: [8], channels: 1, window: [3], strides: [2], padding: .valid),
        PoolCase(input: [5, 7], channels: 2, window: [3, 2], strides: [2, 3], padding: .same),
        PoolCase(input: [6, 5], channels: 3, window: [2, 2], strides: [1, 2], padding: .valid),
        PoolCase(input: [3, 5, 4], channels: 2, window: [2, 3, 2], strides: [2, 2, 1], padding: .same),
        PoolCase(input: [4, 3, 5], channels: 1, window: [2, 2, 3], strides: [1, 1, 2], padding: .valid),
    ]
}

@Suite struct PoolingTests {
    static func loss(_ c: PoolCase, max: Bool, x: [Double], r: [Double]) -> Double {
        var y = [Double](repeating: 0, count: c.batch * c.geometry.outputCount)
        if max {
            Pooling.maxForward(x: x, y: &y, batch: c.batch, geometry: c.geometry)
        } else {
            Pooling.averageForward(x: x, y: &y, batch: c.batch, geometry: c.geometry)
        }
        return dot(y, r)
    }

    @Test("Max pooling gradient equals finite differences", arguments: PoolCase.all)
    func maxGradient(_ c: PoolCase) {
        var rng = TestRandom(11)
        let x: [Double] = rng.array(c.batch * c.geometry.inputCount)
        let r: [Double] = rng.array(c.batch * c.geometry.outputCount)
        var y = [Double](repeating: 0, count: r.count)
        Pooling.maxForward(x: x, y: &y, batch: c.batch, geometry: c.geometry)
        var dx = [Double](repeating: .nan, count: x.count)
        Pooling.maxBackward(x: x, y: y, dy: r, dx: &dx, batch: c.batch, geometry: c.geometry)
        let numeric = numericGradient(x) { Self.loss(c, max: true, x: $0, r: r) }
        #expect(maxError(dx, numeric) < 1e-7)
    }

    @Test("Average pooling gradient equals finite differences", arguments: PoolCase.all)
    func averageGradient(_ c: PoolCase) {
        var rng = TestRandom(12)
        let x: [Double] = rng.array(c.batch * c.geometry.inputCount)
        let r: [Double] = rng.array(c.batch * c.geometry.outputCount)
        var dx = [Double](repeating: .nan, count: x.count)
        Pooling.averageBackward(dy: r, dx: &dx, batch: c.batch, geometry: c.geometry)
        let numeric = numericGradient(x) { Self.loss(c, max: false, x: $0, r: r) }
        #expect(maxError(dx, numeric) < 1e-7)
    }

    @Test func sameAverageDividesByRealElementsOnly() {
        // 1-d, window 3, stride 1, SAME: the edge windows cover two real elements.
        let g = PoolGeometry(inputSpatial: [4], channels: 1, window: [3], strides: [1], padding: .same)
        let x: [Float] = [1, 2, 3, 4]
        var y = [Float](repeating: 0, count: 4)
        Pooling.averageForward(x: x, y: &y, batch: 1, geometry: g)
        #expect(y == [1.5, 2, 3, 3.5])
    }

    @Test func samePaddingNeverWinsMax() {
        let g = PoolGeometry(inputSpatial: [3], channels: 1, window: [2], strides: [2], padding: .same)
        let x: [Float] = [-3, -2, -1]
        var y = [Float](repeating: 0, count: 2)
        Pooling.maxForward(x: x, y: &y, batch: 1, geometry: g)
        #expect(y == [-2, -1])
    }

    @Test func maxBackwardRoutesTiesToFirstMaximum() {
        let g = PoolGeometry(inputSpatial: [4], channels: 1, window: [4], strides: [1], padding: .valid)
        let x: [Float] = [1, 5, 5, 2]
        var y: [Float] = [0]
        Pooling.maxForward(x: x, y: &y, batch: 1, geometry: g)
        var dx = [Float](repeating: 9, count: 4)
        Pooling.maxBackward(x: x, y: y, dy: [1], dx: &dx, batch: 1, geometry: g)
        #expect(dx == [0, 1, 0, 0])
    }
}

@Suite struct MaxPoolingRoutingTests {
    @Test func backwardFindsTheMaximumFromTheInputAlone() {
        let g = PoolGeometry(inputSpatial: [4], channels: 1, window: [2], strides: [2], padding: .valid)
        let x: [Float] = [1, 3, 4, 2]
        // A y that no longer holds the maxima (say it was overwritten) must not change where gradients go.
        let staleY: [Float] = [0, 0]
        var dx = [Float](repeating: 9, count: 4)
        Pooling.maxBackward(x: x, y: staleY, dy: [1, 2], dx: &dx, batch: 1, geometry: g)
        #expect(dx == [0, 1, 2, 0])
    }
}
