import BayesNetFormats
import Foundation
import Testing
@testable import BayesNet

private func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(v >> (8 * UInt64($0)) & 0xFF) } }

/// A safetensors file with a hand-written JSON header and `data` after it.
private func file(_ header: String, data: [UInt8] = []) -> [UInt8] {
    le64(UInt64(header.utf8.count)) + Array(header.utf8) + data
}

private func decodeError(_ bytes: [UInt8]) -> String {
    dataErrorMessage { _ = try SafeTensors.decode(bytes) }
}

@Suite struct SafeTensorsTests {
    let entries = [
        SafeTensors.Entry(name: "conv1.kernel_posterior_loc", floats: [1, -2.5, 3, 0.125, 5, 6], shape: [1, 2, 3]),
        SafeTensors.Entry(name: "dense.bias", doubles: [1e-300, -0.5], shape: [2]),
        SafeTensors.Entry(name: "optimizer.step", int64s: [12345], shape: []),
        SafeTensors.Entry(name: "empty", floats: [], shape: [0, 4]),
    ]
    let metadata = ["spec": "name: \"net\"\n\tlayers: [] # ünïcödé ✓\u{1}", "format": "bayesnet-1"]

    @Test func encodeThenDecodeRoundTrips() throws {
        let (decoded, meta) = try SafeTensors.decode(SafeTensors.encode(entries, metadata: metadata))
        #expect(decoded == entries)
        #expect(meta == metadata)
        #expect(try decoded[0].floats() == [1, -2.5, 3, 0.125, 5, 6])
        #expect(try decoded[1].doubles() == [1e-300, -0.5])
        #expect(try decoded[2].int64s() == [12345])
    }

    @Test func layoutIsTheReferenceOne() {
        let bytes = SafeTensors.encode(entries, metadata: [:])
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        #expect(headerLength % 8 == 0)
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"conv1.kernel_posterior_loc":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}"#))
        #expect(bytes.count == 8 + headerLength + 24 + 16 + 8)
    }

    @Test func equalInputGivesEqualBytes() {
        let many = Dictionary(uniqueKeysWithValues: (0..<20).map { ("key\($0)", "value\($0)") })
        #expect(SafeTensors.encode(entries, metadata: many) == SafeTensors.encode(entries, metadata: many))
    }

    @Test func wrongDtypeAccessorIsAnError() {
        #expect(dataErrorMessage { _ = try entries[2].floats() } == "tensor 'optimizer.step' has dtype I64, expected F32 or F64")
    }

    @Test func fileShorterThanLengthFieldIsRejected() {
        #expect(decodeError([1, 2, 3]) == "not a safetensors file: 3 bytes, shorter than the 8-byte header length")
    }

    @Test func headerLengthPastTheEndIsRejected() {
        #expect(decodeError(le64(1000) + Array("{}".utf8)) == "safetensors header length 1000 runs past the end of the file (10 bytes)")
    }

    @Test func hugeHeaderLengthIsRejectedBeforeReading() {
        #expect(decodeError(le64(.max) + Array("{}".utf8)).contains("exceeds the limit of 100000000 bytes"))
    }

    @Test func headerMustBeJSONObject() {
        #expect(decodeError(file("[1, 2]")) == "safetensors header is not a JSON object")
        #expect(decodeError(file("{\"a\": ")).hasPrefix("safetensors header is not valid JSON: unexpected end of JSON"))
        #expect(decodeError(file("{\"a\": {}} trailing")).contains("unexpected text after the JSON value"))
    }

    @Test func deepNestingIsRejected() {
        let deep = "{\"a\":" + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(decodeError(file(deep)).contains("nested deeper than 64 levels"))
    }

    @Test func duplicateNamesAreRejected() {
        let h = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#
        #expect(decodeError(file(h, data: [1, 2])) == "safetensors header names 'a' twice")
    }

    @Test func unknownDtypeIsRejected() {
        let h = #"{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#
        #expect(decodeError(file(h, data: [UInt8](repeating: 0, count: 16))) == "tensor 'a': unknown dtype 'F128'")
    }

    @Test func shapeEntriesMustBeNonNegativeIntegers() {
        for shape in ["[-1]", "[1.5]", "[\"2\"]", "[99999999999999999999]"] {
            let h = #"{"a":{"dtype":"U8","shape":"# + shape + #","data_offsets":[0,0]}}"#
            #expect(decodeError(file(h)) == "tensor 'a': shape entries must be non-negative integers", "\(shape)")
        }
    }

    @Test func offsetsMustMatchDtypeTimesShape() {
        let h = #"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#
        #expect(decodeError(file(h, data: [UInt8](repeating: 0, count: 20))) == "tensor 'a': data_offsets [0, 20] span 20 bytes but F32 × [2, 3] needs 24")
    }

    @Test func offsetsMustLieInsideTheFile() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(decodeError(file(h, data: [0, 0, 0, 0])) == "tensor 'a': data_offsets [0, 8] lie outside the 4 data bytes")
        let reversed = #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[3,1]}}"#
        #expect(decodeError(file(reversed, data: [0, 0, 0])).contains("data_offsets [3, 1] lie outside"))
    }

    @Test func overlappingTensorsAreRejected() {
        let h = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#
        #expect(decodeError(file(h, data: [UInt8](repeating: 0, count: 6))) == "tensors 'a' and 'b' overlap (data_offsets begin at 2, before 4)")
    }

    @Test func gapsBetweenTensorsAreRejected() {
        let h = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}"#
        #expect(decodeError(file(h, data: [UInt8](repeating: 0, count: 5))) == "1 bytes before tensor 'b' belong to no tensor (data_offsets must be contiguous)")
    }

    @Test func trailingBytesAreRejected() {
        let h = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#
        #expect(decodeError(file(h, data: [1, 2, 3])) == "1 bytes at the end of the file belong to no tensor")
    }

    @Test func missingOffsetsAreRejected() {
        let h = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0]}}"#
        #expect(decodeError(file(h, data: [1, 2])) == "tensor 'a': data_offsets must be two non-negative integers [begin, end]")
    }

    @Test func metadataValuesMustBeStrings() {
        #expect(decodeError(file(#"{"__metadata__":{"epoch":3}}"#)) == "safetensors __metadata__ value of 'epoch' is not a string")
    }

    @Test func elementLimitAppliesToTensorShapes() {
        let h = #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#
        #expect(decodeError(file(h)).contains("tensor 'a': shape [4294967296, 4294967296] has more elements than can be counted"))
    }

    @Test func escapedNamesDecode() throws {
        let h = #"{"caf\u00e9 \ud83d\ude00 \"q\"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
        let (decoded, _) = try SafeTensors.decode(file(h, data: [7]))
        #expect(decoded.map(\.name) == ["café 😀 \"q\""])
        #expect(decodeError(file(#"{"\ud800":{}}"#)).contains("unpaired surrogate"))
    }

    @Test func readNamesTheFileInErrors() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.write("checkpoint.safetensors", [1, 2])
        #expect(dataErrorMessage { _ = try SafeTensors.read(path: path) } == "\(path): not a safetensors file: 2 bytes, shorter than the 8-byte header length")
    }

    @Test func writeThenReadRoundTrips() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try SafeTensors.write(entries, metadata: metadata, to: folder.file("c.safetensors"))
        let (decoded, meta) = try SafeTensors.read(path: folder.file("c.safetensors"))
        #expect(decoded == entries && meta == metadata)
    }
}

@Suite struct AtomicFileTests {
    @Test func writesAndReplacesLeavingNoTemporaryFiles() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("metrics.json")
        try AtomicFile.write("first", to: path)
        try AtomicFile.write("second, longer", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second, longer")
        #expect(folder.contents() == ["metrics.json"])
    }

    @Test func failedWriteKeepsTheOldFileAndCleansUp() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        // The target is a non-empty folder, so the final rename fails after the data was written.
        let target = folder.file("target")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        folder.write("target/keep", text: "previous")
        #expect(throws: FileWriteError.self) { try AtomicFile.write("new", to: target) }
        #expect(try String(contentsOfFile: target + "/keep", encoding: .utf8) == "previous")
        #expect(folder.contents() == ["target"])
    }

    @Test func missingFolderIsAClearError() {
        do {
            try AtomicFile.write("x", to: "/nonexistent-folder/run/summary.json")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/nonexistent-folder/run/summary.json: cannot write: No such file or directory")
        }
    }

    @Test func fullDiskIsAnErrorAndKeepsTheOldFile() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("checkpoint.safetensors")
        try AtomicFile.write("previous checkpoint", to: path)
        // write(2) takes 10 bytes, then reports that the disk is full.
        let full: (Int32, UnsafeRawPointer, Int) -> Int = { fd, p, n in
            if lseek(fd, 0, SEEK_CUR) >= 10 { errno = ENOSPC; return -1 }
            #if canImport(Glibc)
            return Glibc.write(fd, p, min(n, 10))
            #else
            return Darwin.write(fd, p, min(n, 10))
            #endif
        }
        do {
            try AtomicFile.write([UInt8](repeating: 1, count: 4096), to: path, using: full)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(path): cannot write: No space left on device")
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "previous checkpoint")
        #expect(folder.contents() == ["checkpoint.safetensors"])
    }
}
