import BayesNetFormats
import CZlib
import Foundation
import Testing
@testable import BayesNet

/// `bytes` as a gzip stream, compressed here with zlib so that the reader is checked against an independent writer.
func gzipped(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
    var stream = z_stream()
    // 15 + 16: a gzip wrapper, as the gzip tool writes.
    precondition(deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    defer { deflateEnd(&stream) }
    var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 32)
    var input = bytes
    let written = input.withUnsafeMutableBufferPointer { inBuffer in
        out.withUnsafeMutableBufferPointer { outBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            stream.next_out = outBuffer.baseAddress
            stream.avail_out = UInt32(outBuffer.count)
            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
            return outBuffer.count - Int(stream.avail_out)
        }
    }
    return Array(out[..<written])
}

/// The error `body` throws, or nil.
func dataError(_ body: () throws -> Void) -> DataError? {
    do {
        try body()
        return nil
    } catch {
        return error as? DataError
    }
}

@Suite struct GzipTests {
    static let images = NumericArray(shape: [3, 4, 5], storage: .uint8((0..<60).map { UInt8($0 * 4) }))
    static let floats = NumericArray(shape: [2, 3], floats: [0.5, -1, 3.25, 1e-7, 1e9, 0])

    @Test func gzipIDXReadsAsTheUncompressedFile() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for array in [Self.images, Self.floats] {
            let plain = IDX.encode(array)
            let path = folder.write("x.idx.gz", gzipped(plain))
            #expect(try IDX.read(path: path) == IDX.decode(plain))
            #expect(try IDX.read(path: path) == array)
        }
    }

    @Test func gzipNPYReadsAsTheUncompressedFile() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for array in [Self.images, Self.floats, NumericArray(shape: [4], storage: .int64([1, -2, 3, 1 << 40]))] {
            let plain = NPY.encode(array)
            let path = folder.write("x.npy.gz", gzipped(plain))
            #expect(try NPY.readArray(path: path) == NPY.decode(plain))
            #expect(try NPY.readArray(path: path) == array)
        }
    }

    @Test func concatenatedMembersAreOneContent() throws {
        let plain = IDX.encode(Self.images)
        let bytes = gzipped(Array(plain[..<30])) + gzipped(Array(plain[30...]))
        #expect(try IDX.decode(bytes) == Self.images)
    }

    @Test(arguments: [0.25, 0.5, 0.9])
    func truncatedStreamIsRefusedAsTruncated(fraction: Double) {
        let bytes = gzipped(IDX.encode(Self.images))
        let cut = Array(bytes[..<Int(Double(bytes.count) * fraction)])
        let error = dataError { _ = try IDX.decode(cut) }
        #expect(error?.kind == .truncatedGzip)
        #expect(error?.message == "gzip stream is cut short: it ends after \(cut.count) bytes, before its end marker (the file is truncated)")
    }

    @Test func streamMissingItsTrailerIsRefusedAsTruncated() {
        // Every content byte is there; the CRC-32 and length that end the stream are not.
        let bytes = gzipped(NPY.encode(Self.floats))
        #expect(dataError { _ = try NPY.decode(Array(bytes.dropLast(8))) }?.kind == .truncatedGzip)
    }

    @Test func truncatedFileIsNamedInTheError() {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.write("x.npy.gz", Array(gzipped(NPY.encode(Self.floats)).dropLast(3)))
        let error = dataError { _ = try NPY.readArray(path: path) }
        #expect(error?.kind == .truncatedGzip && error?.file == path)
    }

    @Test func checksumMismatchIsRefusedAsCorrupt() {
        var bytes = gzipped(IDX.encode(Self.images))
        bytes[bytes.count - 8] ^= 0xFF  // first byte of the CRC-32
        let error = dataError { _ = try IDX.decode(bytes) }
        #expect(error?.kind == .corruptGzip)
        #expect(error?.message == "gzip stream is damaged: incorrect data check")
    }

    @Test func damagedCompressedDataIsRefusedAsCorrupt() {
        var bytes = gzipped(NPY.encode(Self.floats))
        bytes[3] = 0xE0  // reserved header flag bits, which a gzip reader must refuse
        let error = dataError { _ = try NPY.decode(bytes) }
        #expect(error?.kind == .corruptGzip)
        #expect(error?.message == "gzip stream is damaged: unknown header flags set")
    }

    @Test func bytesAfterTheStreamAreRefusedAsCorrupt() {
        let bytes = gzipped(IDX.encode(Self.images)) + [0, 0, 0]
        let error = dataError { _ = try IDX.decode(bytes) }
        #expect(error?.kind == .corruptGzip)
        #expect(error?.message == "gzip stream is damaged: 3 bytes follow its end")
    }

    @Test func contentShorterThanItsHeaderGetsTheReadersError() {
        var plain = IDX.encode(Self.images)
        plain.removeLast(10)
        #expect(dataError { _ = try IDX.decode(gzipped(plain)) }?.message
            == "IDX header says 3 × 4 × 5 unsigned bytes (60 bytes) but the file holds 50 bytes after the 16-byte header")
    }

    // MARK: decompression bombs

    /// 64 MiB of zeros behind an NPY header declaring them: about 64 KiB compressed.
    static let bomb: [UInt8] = {
        let header = NPY.encode(NumericArray(shape: [64 << 20], storage: .uint8([])))
        return gzipped(header + [UInt8](repeating: 0, count: 64 << 20), level: 9)
    }()

    @Test func contentOverTheFileSizeLimitIsRefusedFromItsHeader() {
        #expect(Self.bomb.count < 256 << 10)
        let limits = DataLimits(maxFileBytes: 1 << 20)
        let error = dataError { _ = try NPY.decode(Self.bomb, limits: limits) }
        #expect(error?.kind == .overFileSizeLimit)
        #expect(error?.message == "gzip content declares \((64 << 20) + 128) bytes, larger than the limit of 1 MiB (raise it with --max-file-size)")
    }

    @Test func contentOverTheFileSizeLimitIsRefusedWhenItIsShort() {
        // Inflated whole in the first step (under 4 KiB), still refused for a 1 KiB limit.
        let plain = IDX.encode(NumericArray(shape: [3000], storage: .uint8(Array(repeating: 1, count: 3000))))
        let error = dataError { _ = try IDX.decode(gzipped(plain), limits: DataLimits(maxFileBytes: 1024)) }
        #expect(error?.kind == .overFileSizeLimit)
        #expect(error?.message == "gzip content holds 3008 bytes, larger than the limit of 1 KiB (raise it with --max-file-size)")
    }

    @Test func contentOverTheMemoryBudgetIsRefusedFromItsHeader() {
        let error = dataError { _ = try NPY.decode(Self.bomb, limits: DataLimits(maxElements: 1 << 20)) }
        #expect(error?.kind == .overMemoryBudget)
    }

    @Test func contentRunningPastItsHeaderIsRefusedWithoutInflatingTheRest() {
        // The header declares 16 values; 64 MiB follow. Reading stops one byte past the declared size.
        let plain = IDX.encode(NumericArray(shape: [16], storage: .uint8(Array(repeating: 7, count: 16))))
        let bytes = gzipped(plain + [UInt8](repeating: 0, count: 64 << 20), level: 9)
        let error = dataError { _ = try IDX.decode(bytes) }
        #expect(error?.kind == .invalid)
        #expect(error?.message == "gzip content runs past the 24 bytes its header declares")
    }
}
