import Testing
@testable import BayesNetRuntime

@Suite struct GlobalPoolingTests {
    /// (batch, positions, channels): positions of a rank-1, rank-2 (3 × 4) and rank-3 (2 × 3 × 2) map.
    static let shapes: [[Int]] = [[3, 7, 2], [2, 12, 3], [2, 12, 1]]

    static func forward(max: Bool, _ s: [Int], _ x: [Double]) -> [Double] {
        var y = [Double](repeating: .nan, count: s[0] * s[2])
        if max {
            GlobalPooling.maxForward(x: x, y: &y, batch: s[0], positions: s[1], channels: s[2])
        } else {
            GlobalPooling.averageForward(x: x, y: &y, batch: s[0], positions: s[1], channels: s[2])
        }
        return y
    }

    @Test("Global average pooling gradient equals finite differences", arguments: shapes)
    func averageGradient(_ s: [Int]) {
        var rng = TestRandom(41)
        let x: [Double] = rng.array(s[0] * s[1] * s[2]), r: [Double] = rng.array(s[0] * s[2])
        var dx = [Double](repeating: .nan, count: x.count)
        GlobalPooling.averageBackward(dy: r, dx: &dx, batch: s[0], positions: s[1], channels: s[2], accumulate: false)
        #expect(maxError(dx, numericGradient(x) { dot(Self.forward(max: false, s, $0), r) }) < 1e-9)
    }

    @Test("Global max pooling gradient equals finite differences", arguments: shapes)
    func maxGradient(_ s: [Int]) {
        var rng = TestRandom(42)
        let x: [Double] = rng.array(s[0] * s[1] * s[2]), r: [Double] = rng.array(s[0] * s[2])
        var dx = [Double](repeating: .nan, count: x.count)
        GlobalPooling.maxBackward(x: x, dy: r, dx: &dx, batch: s[0], positions: s[1], channels: s[2],
                                  accumulate: false)
        #expect(maxError(dx, numericGradient(x) { dot(Self.forward(max: true, s, $0), r) }) < 1e-9)
    }

    @Test("Global max pooling shares the gradient evenly between tied maxima")
    func tiesShare() {
        // One example, 4 positions, 2 channels: channel 0 peaks twice at 3, channel 1 is 0 everywhere.
        let x: [Float] = [1, 0, 3, 0, 3, 0, 2, 0]
        var y: [Float] = [.nan, .nan], dx = [Float](repeating: .nan, count: 8)
        GlobalPooling.maxForward(x: x, y: &y, batch: 1, positions: 4, channels: 2)
        GlobalPooling.maxBackward(x: x, dy: [10, 20], dx: &dx, batch: 1, positions: 4, channels: 2, accumulate: false)
        #expect(y == [3, 0])
        #expect(dx == [0, 5, 5, 5, 5, 5, 0, 5])
    }

    @Test("Backward accumulates when asked")
    func accumulation() {
        var dx: [Float] = [1, 1, 1, 1]
        GlobalPooling.averageBackward(dy: [4, 8], dx: &dx, batch: 1, positions: 2, channels: 2, accumulate: true)
        #expect(dx == [3, 5, 3, 5])
        GlobalPooling.maxBackward(x: [1, 2, 0, 3], dy: [4, 8], dx: &dx, batch: 1, positions: 2, channels: 2,
                                  accumulate: true)
        #expect(dx == [7, 5, 3, 13])
    }

    @Test func sameBitsForAnyThreadCount() {
        var rng = TestRandom(43)
        let (batch, positions, channels) = (37, 64, 8)
        let x: [Float] = rng.array(batch * positions * channels), dy: [Float] = rng.array(batch * channels)
        func results() -> [[Float]] {
            var ya = [Float](repeating: .nan, count: batch * channels), ym = ya
            var dxa = [Float](repeating: .nan, count: x.count), dxm = dxa
            GlobalPooling.averageForward(x: x, y: &ya, batch: batch, positions: positions, channels: channels)
            GlobalPooling.maxForward(x: x, y: &ym, batch: batch, positions: positions, channels: channels)
            GlobalPooling.averageBackward(dy: dy, dx: &dxa, batch: batch, positions: positions, channels: channels,
                                          accumulate: false)
            GlobalPooling.maxBackward(x: x, dy: dy, dx: &dxm, batch: batch, positions: positions, channels: channels,
                                      accumulate: false)
            return [ya, ym, dxa, dxm]
        }
        let one = withThreads(1) { results() }
        for threads in [2, 3] {
            let other = withThreads(threads) { results() }
            for (a, b) in zip(one, other) { #expect(a.map(\.bitPattern) == b.map(\.bitPattern)) }
        }
    }
}
