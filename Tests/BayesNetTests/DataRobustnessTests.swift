import BayesNetFormats
import Foundation
import Testing
import BayesNetRuntime
@testable import BayesNet

/// Random damage to a valid file: flipped bytes, overwritten length fields, insertions, deletions, truncation.
/// Every value comes from a keyed RandomStream, so a failing case can be replayed from its iteration number.
func mutate(_ seed: [UInt8], iteration: Int) -> [UInt8] {
    let r = RandomStream(seed: 2026, name: "mutations", step: UInt64(iteration))
    var bytes = seed
    var k = 0
    func next(_ n: Int) -> Int {
        defer { k += 1 }
        return Int(r.bits(at: k) % UInt64(max(n, 1)))
    }
    for _ in 0..<(1 + next(4)) {
        switch next(6) {
        case 0 where !bytes.isEmpty: bytes[next(bytes.count)] ^= UInt8(1 << next(8))
        case 1 where !bytes.isEmpty: bytes[next(bytes.count)] = [0, 0xFF, 0x7F, 0x80, UInt8(ascii: "9"), UInt8(ascii: "{")][next(6)]
        case 2: bytes.insert(UInt8(next(256)), at: next(bytes.count + 1))
        case 3 where !bytes.isEmpty: bytes.remove(at: next(bytes.count))
        case 4: bytes = Array(bytes.prefix(next(bytes.count + 1)))
        default:
            // Overwrite a length-like field (the first 16 bytes) with an extreme value.
            if bytes.count >= 8 {
                let at = next(min(bytes.count - 3, 13))
                for j in 0..<4 { bytes[at + j] = next(2) == 0 ? 0xFF : UInt8(next(256)) }
            }
        }
    }
    return bytes
}

@Suite struct DataRobustnessTests {
    /// Raise with BAYESNET_MUTATION_ITERATIONS for a longer search.
    static let iterations = ProcessInfo.processInfo.environment["BAYESNET_MUTATION_ITERATIONS"].flatMap(Int.init) ?? 3000
    let limits = DataLimits(maxFileBytes: 1 << 20, maxElements: 1 << 20)

    @Test func idxDecoderSurvivesDamagedFiles() {
        let seed = IDX.encode(NumericArray(shape: [3, 2, 2], storage: .uint8(Array(0..<12))))
        let floats = IDX.encode(NumericArray(shape: [2, 2], floats: [1, 2, 3, 4]))
        var rejected = 0
        for i in 0..<Self.iterations {
            guard let a = try? IDX.decode(mutate(i % 2 == 0 ? seed : floats, iteration: i), limits: limits) else {
                rejected += 1
                continue
            }
            #expect(a.count == a.shape.reduce(1, *))
        }
        #expect(rejected > Self.iterations / 2)
    }

    @Test func npyDecoderSurvivesDamagedFiles() {
        let seed = NPY.encode(NumericArray(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]))
        var rejected = 0
        for i in 0..<Self.iterations {
            guard let a = try? NPY.decode(mutate(seed, iteration: i), limits: limits) else {
                rejected += 1
                continue
            }
            #expect(a.count == a.shape.reduce(1, *))
        }
        #expect(rejected > Self.iterations / 2)
    }

    @Test func safetensorsDecoderSurvivesDamagedFiles() {
        let seed = SafeTensors.encode([
            .init(name: "a.kernel", floats: [1, 2, 3, 4], shape: [2, 2]), .init(name: "step", int64s: [3], shape: []),
        ], metadata: ["spec": "x: [1, 2]\n"])
        var rejected = 0
        for i in 0..<Self.iterations {
            guard let (entries, _) = try? SafeTensors.decode(mutate(seed, iteration: i), limits: limits) else {
                rejected += 1
                continue
            }
            #expect(entries.allSatisfy { $0.bytes.count == SafeTensors.byteWidth(dtype: $0.dtype)! * $0.elementCount })
        }
        #expect(rejected > Self.iterations / 2)
    }

    @Test func csvDecoderSurvivesDamagedFiles() {
        let seed = Array("a,b,label\n1.5,-2,0\n3e2,4,1\n".utf8)
        for i in 0..<Self.iterations {
            if let t = try? CSVData.decode(mutate(seed, iteration: i), limits: limits) {
                #expect(t.values.count == t.rows * t.columns && t.values.allSatisfy(\.isFinite))
            }
        }
    }
}
