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

    @Test func valuesNearAFloatRoundingBoundaryMatchToo() {
        // The vector transform hands a pair to the C library when a value lies within 2^-36 (relative) of a
        // float rounding boundary, about one pair in 1400: a million values hold a few hundred of them.
        let stream = RandomStream(seed: 17, name: "guard", step: 8)
        var reference = [Float](repeating: 0, count: 1_000_000)
        var fast = reference
        reference.withUnsafeMutableBufferPointer { stream.writeNormal($0.baseAddress!, count: $0.count, offset: 0) }
        stream.fillNormal(&fast, count: fast.count)
        #expect(reference.map(\.bitPattern) == fast.map(\.bitPattern))
    }

    @Test(arguments: [(0, 1), (5, 31), (3, 130), (128, 4096), (77, 10_000), (1 << 33, 300)])
    func signsHaveTheStreamsBits(_ offset: Int, _ count: Int) {
        let stream = RandomStream(seed: 3, name: "fast-signs", step: 41)
        var reference = [Float](repeating: 0, count: count)
        var fast = [Float](repeating: .nan, count: count)
        reference.withUnsafeMutableBufferPointer { stream.writeSigns($0.baseAddress!, count: count, offset: offset) }
        stream.fillSigns(&fast, count: count, offset: offset)
        #expect(reference.map(\.bitPattern) == fast.map(\.bitPattern))
    }
}
