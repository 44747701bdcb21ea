import Foundation
import Testing
@testable import BayesNetRuntime

@Suite struct PhiloxKnownAnswerTests {
    // Random123's kat_vectors: counter[4] key[2] -> output[4].
    typealias Case = (rounds: Int, counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32),
                      expected: (UInt32, UInt32, UInt32, UInt32))
    static let cases: [Case] = [
        (7, (0, 0, 0, 0), (0, 0), (0x5f6f_b709, 0x0d89_3f64, 0x4f12_1f81, 0x4f73_0a48)),
        (7, (0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff), (0xffff_ffff, 0xffff_ffff),
         (0x5207_ddc2, 0x4516_5e59, 0x4d8e_e751, 0x8c52_f662)),
        (7, (0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), (0xa409_3822, 0x299f_31d0),
         (0x4dfc_caba, 0x190a_87f0, 0xc473_62ba, 0xb6b5_242a)),
        (10, (0, 0, 0, 0), (0, 0), (0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
        (10, (0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff), (0xffff_ffff, 0xffff_ffff),
         (0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
        (10, (0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), (0xa409_3822, 0x299f_31d0),
         (0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
    ]

    @Test(arguments: 0..<6)
    func matchesRandom123KnownAnswers(index: Int) {
        let c = Self.cases[index]
        let out = Philox4x32.rounds(c.rounds, counter: c.counter, key: c.key)
        #expect([out.0, out.1, out.2, out.3] == [c.expected.0, c.expected.1, c.expected.2, c.expected.3])
    }

    @Test func blockUsesTenRounds() {
        let g = Philox4x32(key: (0xa409_3822, 0x299f_31d0))
        let out = g.block((0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344))
        #expect([out.0, out.1, out.2, out.3] == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    @Test func sixtyFourBitKeySplitsLowWordFirst() {
        let g = Philox4x32(key: 0x299f_31d0_a409_3822)
        #expect(g.key.0 == 0xa409_3822 && g.key.1 == 0x299f_31d0)
    }
}

@Suite struct StableHashTests {
    @Test func isFNV1a64() {
        #expect(stableHash("") == 0xcbf2_9ce4_8422_2325)
        #expect(stableHash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(stableHash("foobar") == 0x8594_4171_f739_67e8)
    }

    @Test func distinguishesLayerPurposes() {
        #expect(stableHash("conv1/kernel") != stableHash("conv1/bias"))
    }
}

private func draw<S: BinaryFloatingPoint>(
    _ r: RandomStream, _ count: Int, offset: Int = 0, as: S.Type,
    _ fill: (RandomStream, UnsafeMutablePointer<S>, Int, Int) -> Void
) -> [S] {
    var a = [S](repeating: 0, count: count)
    a.withUnsafeMutableBufferPointer { fill(r, $0.baseAddress!, count, offset) }
    return a
}

private func uniforms<S: BinaryFloatingPoint>(_ r: RandomStream, _ n: Int, offset: Int = 0, as t: S.Type = Double.self) -> [S] {
    draw(r, n, offset: offset, as: t) { $0.fillUniform($1, count: $2, offset: $3) }
}
private func normals<S: BinaryFloatingPoint>(_ r: RandomStream, _ n: Int, offset: Int = 0, as t: S.Type = Double.self) -> [S] {
    draw(r, n, offset: offset, as: t) { $0.fillNormal($1, count: $2, offset: $3) }
}
private func signs<S: BinaryFloatingPoint>(_ r: RandomStream, _ n: Int, offset: Int = 0, as t: S.Type = Double.self) -> [S] {
    draw(r, n, offset: offset, as: t) { $0.fillSigns($1, count: $2, offset: $3) }
}

private func meanAndVariance(_ xs: [Double]) -> (Double, Double) {
    let mean = xs.reduce(0, +) / Double(xs.count)
    let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count - 1)
    return (mean, variance)
}

@Suite struct RandomStreamTests {
    let stream = RandomStream(seed: 42, name: "conv1/kernel_noise", step: 7)

    @Test func sameKeyGivesIdenticalValues() {
        let again = RandomStream(seed: 42, name: "conv1/kernel_noise", step: 7)
        #expect(normals(stream, 1001) == normals(again, 1001))
        #expect(uniforms(stream, 1001) == uniforms(again, 1001))
        #expect(signs(stream, 1001) == signs(again, 1001))
        #expect(stream.permutation(100) == again.permutation(100))
    }

    @Test func seedStreamAndStepEachChangeTheValues() {
        let base = normals(stream, 64)
        #expect(normals(RandomStream(seed: 43, name: "conv1/kernel_noise", step: 7), 64) != base)
        #expect(normals(RandomStream(seed: 42, name: "conv2/kernel_noise", step: 7), 64) != base)
        #expect(normals(RandomStream(seed: 42, name: "conv1/kernel_noise", step: 8), 64) != base)
    }

    @Test func chunkedFillsEqualOneFill() {
        let n = 1000
        let whole = (normals(stream, n), uniforms(stream, n), signs(stream, n))
        var parts: ([Double], [Double], [Double]) = ([], [], [])
        var offset = 0
        for size in [1, 2, 3, 127, 128, 129, 5, 300, 200, 105] {  // odd sizes, starts in mid-block
            parts.0 += normals(stream, size, offset: offset)
            parts.1 += uniforms(stream, size, offset: offset)
            parts.2 += signs(stream, size, offset: offset)
            offset += size
        }
        #expect(offset == n)
        #expect(parts.0 == whole.0)
        #expect(parts.1 == whole.1)
        #expect(parts.2 == whole.2)
    }

    @Test func singleValuesMatchFills() {
        let n = 300
        let z: [Double] = normals(stream, n), u: [Double] = uniforms(stream, n), s: [Double] = signs(stream, n)
        for i in 0..<n {
            #expect(stream.normal(at: i) == z[i])
            #expect(stream.uniform(at: i) == u[i])
            #expect(Double(stream.sign(at: i)) == s[i])
        }
    }

    @Test func concurrentFillsEqualSequentialFill() {
        let n = 100_000, chunks = 7
        let expected: [Double] = normals(stream, n)
        var result = [Double](repeating: .nan, count: n)
        let stream = self.stream
        result.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let base = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let start = c * n / chunks, end = (c + 1) * n / chunks
                stream.fillNormal(base + start, count: end - start, offset: start)
            }
        }
        #expect(result == expected)
    }

    @Test func floatAndDoubleNormalsAgree() {
        let d: [Double] = normals(stream, 100)
        let f: [Float] = normals(stream, 100, as: Float.self)
        #expect(zip(d, f).allSatisfy { Float($0) == $1 })
    }

    @Test func uniformsLieInUnitIntervalWithRightMoments() {
        let u: [Double] = uniforms(stream, 200_000)
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        let (mean, variance) = meanAndVariance(u)
        // Standard error of the mean: sqrt(1/12 / n) ≈ 6.5e-4.
        #expect(abs(mean - 0.5) < 0.004)
        #expect(abs(variance - 1.0 / 12) < 0.002)
    }

    @Test func floatUniformsNeverRoundUpToOne() {
        let u: [Float] = uniforms(stream, 200_000, as: Float.self)
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    @Test func normalsHaveStandardMomentsAndTails() {
        let z: [Double] = normals(stream, 200_000)
        let (mean, variance) = meanAndVariance(z)
        #expect(abs(mean) < 0.012)           // SE ≈ 0.0022
        #expect(abs(variance - 1) < 0.02)    // SE ≈ 0.0032
        let within1 = Double(z.filter { abs($0) < 1 }.count) / Double(z.count)
        let within2 = Double(z.filter { abs($0) < 2 }.count) / Double(z.count)
        #expect(abs(within1 - 0.682_689) < 0.006)
        #expect(abs(within2 - 0.954_500) < 0.003)
        #expect(z.allSatisfy { $0.isFinite })
    }

    @Test func normalsHaveNormalSkewAndKurtosis() {
        let z: [Double] = normals(stream, 400_000)
        let n = Double(z.count)
        let skew = z.reduce(0) { $0 + $1 * $1 * $1 } / n
        let kurtosis = z.reduce(0) { $0 + $1 * $1 * $1 * $1 } / n
        #expect(abs(skew) < 0.02)            // SE ≈ sqrt(15 / n) ≈ 0.006
        #expect(abs(kurtosis - 3) < 0.08)    // SE ≈ sqrt(96 / n) ≈ 0.015
    }

    @Test func normalCDFMatchesAtQuantiles() {
        let z: [Double] = normals(stream, 400_000)
        // Φ at -2.5, -1.5, -0.5, 0.3, 1.2, 3.
        for (x, phi) in [(-2.5, 0.006_209_7), (-1.5, 0.066_807_2), (-0.5, 0.308_537_5), (0.3, 0.617_911_4), (1.2, 0.884_930_3), (3, 0.998_650_1)] {
            let fraction = Double(z.filter { $0 < x }.count) / Double(z.count)
            #expect(abs(fraction - phi) < 5 * (phi * (1 - phi) / Double(z.count)).squareRoot() + 1e-4, "at \(x)")
        }
    }

    @Test func normalPairsAreUncorrelated() {
        let z: [Double] = normals(stream, 100_000)
        var product = 0.0
        for i in stride(from: 0, to: z.count, by: 2) { product += z[i] * z[i + 1] }
        #expect(abs(product / 50_000) < 0.025)  // SE ≈ 0.0045
    }

    @Test func signsAreExactlyPlusOrMinusOneAndBalanced() {
        let s: [Float] = signs(stream, 100_001, as: Float.self)
        #expect(s.allSatisfy { $0 == 1 || $0 == -1 })
        let plus = s.filter { $0 == 1 }.count
        // Binomial(100001, 1/2): SD ≈ 158.
        #expect(abs(Double(plus) - 50_000.5) < 800)
    }

    @Test func neighbouringSignsAreIndependent() {
        let s: [Double] = signs(stream, 100_000)
        var agree = 0
        for i in 1..<s.count where s[i] == s[i - 1] { agree += 1 }
        #expect(abs(Double(agree) - 49_999.5) < 800)
    }

    @Test func permutationContainsEveryIndexOnce() {
        let p = stream.permutation(1000)
        #expect(p.sorted() == Array(0..<1000))
        #expect(p != Array(0..<1000))
        #expect(stream.permutation(0).isEmpty)
        #expect(stream.permutation(1) == [0])
    }

    @Test func permutationsAreUniformOverPositions() {
        // Over many steps, each of 5 items lands first about 1/5 of the time.
        var firsts = [Int](repeating: 0, count: 5)
        for step in 0..<20_000 {
            firsts[RandomStream(seed: 1, name: "shuffle", step: UInt64(step)).permutation(5)[0]] += 1
        }
        #expect(firsts.allSatisfy { abs($0 - 4000) < 300 })  // SD ≈ 57
    }
}
