import BayesNetFormats
import Foundation
import Testing
@testable import BayesNet

/// Reader inputs kept from hardening the readers, and a replay of the fuzz seed corpus (Fuzz/corpus/) through
/// the properties the fuzz targets check, so that CI checks them on every run without a fuzzing toolchain.
@Suite struct ReaderRegressionTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fuzz/corpus").standardized.path

    static func seeds(_ target: String) -> [[UInt8]] {
        let folder = corpus + "/" + target
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder))?.sorted() ?? []
        return names.compactMap { FileManager.default.contents(atPath: folder + "/" + $0).map { [UInt8]($0) } }
    }

    /// A version 2.0 header may declare up to 4 GiB; parsing holds it as code points, 4 bytes each, so a large
    /// file of spaces became 4× its size in memory before any check. The header is now bounded first.
    @Test func npyHeaderOverTheLimitIsRefusedBeforeParsing() {
        let length = 1 << 20
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }" + String(repeating: " ", count: length - 58) + "\n"
        let bytes = NPY.magic + [2, 0, 0, 0, 0x10, 0] + Array(header.utf8) + [0, 0, 0x80, 0x3F]
        #expect(header.utf8.count == length)
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) }
            == "NPY header length 1048576 is over the limit of 65536 bytes (numpy's np.load refuses more than 10000 by default); an array of a supported dtype has a header of a few dozen bytes")
    }

    @Test func npyHeaderAtTheLimitIsRead() throws {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }" + String(repeating: " ", count: 65536 - 58) + "\n"
        let bytes = NPY.magic + [2, 0, 0, 0, 1, 0] + Array(header.utf8) + [0, 0, 0x80, 0x3F]
        #expect(header.utf8.count == NPY.maxHeaderBytes)
        #expect(try NPY.decode(bytes) == NumericArray(shape: [1], floats: [1]))
    }

    @Test func seedCorpusIsPresent() {
        for target in ["idx", "npy", "safetensors", "csv", "spec"] { #expect(!Self.seeds(target).isEmpty, "Fuzz/corpus/\(target)") }
    }

    @Test func idxSeedsRoundTripExactly() throws {
        var compressed = 0
        for bytes in Self.seeds("idx") {
            let array = try IDX.decode(bytes)
            if Gzip.isCompressed(bytes) {
                #expect(try IDX.decode(IDX.encode(array)) == array)
                compressed += 1
            } else {
                #expect(IDX.encode(array) == bytes)
            }
        }
        #expect(compressed >= 2)
    }

    @Test func npySeedsDecodeOrAreRefusedWithAReason() {
        var decoded = 0
        for bytes in Self.seeds("npy") {
            do {
                let array = try NPY.decode(bytes)
                #expect(try NPY.decode(NPY.encode(array)) == array)
                decoded += 1
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
        #expect(decoded >= 8)
    }

    @Test func safetensorsSeedsRoundTrip() throws {
        for bytes in Self.seeds("safetensors") {
            let (entries, metadata) = try SafeTensors.decode(bytes)
            let again = try SafeTensors.decode(SafeTensors.encode(entries, metadata: metadata))
            #expect(again.metadata == metadata)
            #expect(again.entries.sorted { $0.name < $1.name } == entries.sorted { $0.name < $1.name })
        }
    }

    @Test func csvSeedsHoldRowsTimesColumnsValues() throws {
        for bytes in Self.seeds("csv") {
            let table = try CSVData.decode(bytes)
            #expect(table.values.count == table.rows * table.columns)
            #expect(table.rows >= 1)
        }
    }
}
