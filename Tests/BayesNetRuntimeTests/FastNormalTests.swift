import Testing
@testable import BayesNetRuntime

/// Single-precision `fillNormal` runs the C loop; it must give the Swift generator's bits.
@Suite("Fast normal draws")
struct FastNormalTests {
    @Test(arguments: [(0, 1), (0, 2), (1, 1), (3, 130), (7, 1000), (64, 129), (1 << 33, 21)])
    func sameBitsAsTheStream(_ offset: Int, _ count: Int) {
        let stream = RandomStream(seed: 99, name: "fast-normals", step: 12_345_678_901)
        var reference = [Float](repeating: 0, count: count)
        var fast = [Float](repeating: .nan, count: count)
        reference.withUnsafeMutableBufferPointer { stream.writeNormal($0.baseAddress!, count: count, offset: offset) }
        stream.fillNormal(&fast, count: count, offset: offset)
        #expect(reference.map(\.bitPattern) == fast.map(\.bitPattern))
    }

    @Test func fallbackPairsMatchToo() {
        // About 4.6% of pairs need the Box-Muller fallback; 20000 values hold several hundred of them.
        let stream = RandomStream(seed: 5, name: "fallback", step: 3)
        var reference = [Float](repeating: 0, count: 20_000)
        var fast = reference
        reference.withUnsafeMutableBufferPointer { stream.writeNormal($0.baseAddress!, count: $0.count, offset: 0) }
        stream.fillNormal(&fast, count: fast.count)
        #expect(reference.map(\.bitPattern) == fast.map(\.bitPattern))
    }
}
