import Testing
@testable import BayesNetRuntime

@Suite("Fast normal draws")
struct FastNormalTests {
    @Test(arguments: [(0, 1), (0, 2), (1, 1), (3, 130), (7, 1000), (64, 129), (1 << 33, 21)])
    func sameBitsAsTheStream(_ offset: Int, _ count: Int) {
        let stream = RandomStream(seed: 99, name: "fast-normals", step: 12_345_678_901)
        var reference = [Float](repeating: 0, count: count)
        var fast = [Float](repeating: .nan, count: count)
        stream.fillNormal(&reference, count: count, offset: offset)
        stream.fillNormalFast(&fast, count: count, offset: offset)
        #expect(reference.map(\.bitPattern) == fast.map(\.bitPattern))
    }

    @Test func fallbackPairsMatchToo() {
        // About 4.6% of pairs need the Box-Muller fallback; 20000 values hold several hundred of them.
        let stream = RandomStream(seed: 5, name: "fallback", step: 3)
        var reference = [Float](repeating: 0, count: 20_000)
        var fast = reference
        stream.fillNormal(&reference, count: reference.count)
        stream.fillNormalFast(&fast, count: fast.count)
        #expect(reference.map(\.bitPattern) == fast.map(\.bitPattern))
    }
}
