import BayesNetFormats
import Foundation
import Testing
import TestSupport
@testable import BayesNet

/// Every bound on reading a data or checkpoint file is checked against the header and the file's real size
/// before anything large is allocated, and its message names the limit and the option that raises it.
@Suite struct ReaderLimitTests {
    static let tiny = DataLimits(maxFileBytes: 1 << 20, maxElements: 10)

    func npy(_ header: String, data: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        return NPY.magic + [1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h + data
    }

    func safetensors(_ header: String, data: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        return (0..<8).map { UInt8(UInt64(h.count) >> (8 * UInt64($0)) & 0xFF) } + h + data
    }

    func idx(_ dims: [UInt32], data: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = [0, 0, 8, UInt8(dims.count)]
        for d in dims { out += [UInt8(d >> 24), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return out + data
    }

    // MARK: file size

    @Test(arguments: ["x.npy", "x.csv", "x.safetensors"])
    func filesAboveTheSizeLimitAreRefusedBeforeReading(name: String) {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.write(name, [UInt8](repeating: 0x31, count: 2000))
        let limits = DataLimits(maxFileBytes: 1024)
        let message = dataErrorMessage {
            switch name {
            case "x.npy": _ = try NPY.read(path: path, limits: limits)
            case "x.csv": _ = try CSVData.read(path: path, limits: limits)
            default: _ = try SafeTensors.read(path: path, limits: limits)
            }
        }
        #expect(message == "\(path): file is 2000 bytes, larger than the limit of 1 KiB (raise it with --max-file-size)")
    }

    @Test func optionSizesBecomeLimits() {
        let limits = DataLimits(maxFileBytes: 1 << 30, memoryBudget: 4 << 30)
        #expect(limits.maxFileBytes == 1 << 30)
        #expect(limits.maxElements == 1 << 30)
        #expect(limits.memoryBudget == 4 << 30)
    }

    // MARK: memory budget

    @Test func idxArrayOverTheMemoryBudgetIsRefused() {
        let message = dataErrorMessage { _ = try IDX.decode(idx([3, 4], data: Array(repeating: 0, count: 12)), limits: Self.tiny) }
        #expect(message == "shape [3, 4] has 12 elements, more than the memory budget of 40 bytes (10 float32 values; raise it with --memory-budget)")
    }

    @Test func npyShapeOverTheMemoryBudgetIsRefusedFromTheHeaderAlone() {
        // 2^40 elements are declared and none are present: the header is refused before any allocation.
        let bytes = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576), }\n")
        let message = dataErrorMessage { _ = try NPY.decode(bytes) }
        #expect(message == "shape [1048576, 1048576] has 1099511627776 elements, more than the memory budget of 2 GiB (536870912 float32 values; raise it with --memory-budget)")
    }

    @Test func safetensorsTensorOverTheMemoryBudgetIsRefused() {
        let bytes = safetensors(#"{"w":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]}}"#, data: Array(repeating: 0, count: 64))
        let message = dataErrorMessage { _ = try SafeTensors.decode(bytes, limits: Self.tiny) }
        #expect(message == "tensor 'w': shape [4, 4] has 16 elements, more than the memory budget of 40 bytes (10 float32 values; raise it with --memory-budget)")
    }

    @Test func csvTableOverTheMemoryBudgetIsRefusedAsItGrows() {
        let text = (0..<100).map { "\($0),\($0),\($0)" }.joined(separator: "\n")
        let message = dataErrorMessage { _ = try CSVData.decode(Array(text.utf8), limits: Self.tiny) }
        #expect(message == "at line 4 the table holds 12 values, more than the memory budget of 40 bytes (10 float32 values; raise it with --memory-budget)")
    }

    // MARK: element counts that overflow Int

    @Test func npyShapeWhoseProductOverflowsIsRefused() {
        let bytes = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }\n")
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) } == "shape [4294967296, 4294967296, 2] has more elements than can be counted (the product overflows)")
    }

    @Test func npyDimensionTooLargeForIntIsRefused() {
        let bytes = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }\n")
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) } == "NPY shape has a dimension too large to count")
    }

    @Test func safetensorsShapeWhoseProductOverflowsIsRefused() {
        let bytes = safetensors(#"{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8))
        #expect(dataErrorMessage { _ = try SafeTensors.decode(bytes) } == "tensor 'w': shape [4294967296, 4294967296] has more elements than can be counted (the product overflows)")
    }

    @Test func elementCountTimesWidthOverflowIsRefused() {
        // 2^61 elements fit in Int, but not their 8-byte size.
        let bytes = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }\n")
        let message = dataErrorMessage { _ = try NPY.decode(bytes, limits: DataLimits(maxElements: .max)) }
        #expect(message == "NPY header says shape (2305843009213693952,) of '<f8' (too many bytes) but the file holds 0 bytes of data")
    }

    // MARK: dimensions of zero

    @Test func idxDimensionOfZeroIsRefused() {
        #expect(dataErrorMessage { _ = try IDX.decode(idx([5, 0])) } == "shape [5, 0] has a dimension of 0 (dimension 2), so the array holds no values")
    }

    @Test func npyDimensionOfZeroIsRefused() {
        let bytes = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }\n")
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) } == "shape [0, 3] has a dimension of 0 (dimension 1), so the array holds no values")
    }

    @Test func leadingZeroBesideHugeDimensionsIsRefused() {
        // The product is 0, but the size of one example would overflow: refused for the zero.
        let message = dataErrorMessage { _ = try IDX.decode(idx([0, .max, .max, .max])) }
        #expect(message == "shape [0, 4294967295, 4294967295, 4294967295] has a dimension of 0 (dimension 1), so the array holds no values")
    }

    @Test func safetensorsAcceptsAnEmptyTensorAsTheFormatDoes() throws {
        let bytes = safetensors(#"{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}"#)
        let (entries, _) = try SafeTensors.decode(bytes)
        #expect(entries.map(\.shape) == [[0, 3]])
    }

    // MARK: headers against the real size

    @Test func idxDimensionsPromisingMoreThanTheFileHoldsAreRefused() {
        let message = dataErrorMessage { _ = try IDX.decode(idx([1000, 1000], data: [1, 2, 3])) }
        #expect(message == "IDX header says 1000 × 1000 unsigned bytes (1000000 bytes) but the file holds 3 bytes after the 12-byte header")
    }

    @Test func npyHeaderLengthPastTheEndIsRefused() {
        let bytes = NPY.magic + [1, 0, 0xFF, 0xFF] + Array("{}".utf8)
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) } == "NPY header length 65535 runs past the end of the file (12 bytes)")
    }

    @Test func safetensorsHeaderLengthPastTheEndIsRefused() {
        let bytes: [UInt8] = [0xF0, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)
        #expect(dataErrorMessage { _ = try SafeTensors.decode(bytes) } == "safetensors header length 240 runs past the end of the file (10 bytes)")
    }

    @Test func safetensorsOffsetsPastTheEndAreRefused() {
        let bytes = safetensors(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: Array(repeating: 0, count: 8))
        #expect(dataErrorMessage { _ = try SafeTensors.decode(bytes) } == "tensor 'w': data_offsets [0, 16] lie outside the 8 data bytes")
    }

    @Test func safetensorsOverlappingOffsetsAreRefused() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let bytes = safetensors(header, data: Array(repeating: 0, count: 12))
        #expect(dataErrorMessage { _ = try SafeTensors.decode(bytes) } == "tensors 'a' and 'b' overlap (data_offsets begin at 4, before 8)")
    }

    @Test func safetensorsOffsetBeyondIntIsRefused() {
        let bytes = safetensors(#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,99999999999999999999]}}"#, data: [0])
        #expect(dataErrorMessage { _ = try SafeTensors.decode(bytes) } == "tensor 'w': data_offsets must be two non-negative integers [begin, end]")
    }
}

/// The limits as a user meets them: `bayesnet run` with data files past a limit, and the option that raises it.
@Suite(.serialized) struct CommandLineLimitTests {
    static func folder() throws -> (root: String, spec: String) {
        let root = NSTemporaryDirectory() + "bayesnet-limits-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try NPY.write(NumericArray(shape: [100, 4], floats: (0..<400).map { Float($0 % 7) }), to: root + "/x.npy")
        try NPY.write(NumericArray(shape: [100, 1], floats: (0..<100).map { Float($0 % 3) }), to: root + "/y.npy")
        let spec = """
            bayesnet: 1
            name: limits
            seed: 1
            input: {shape: [4]}
            layers:
              - DenseFlipout: {units: 1}
            likelihood: {normal: {scale: 1}}
            data:
              train: {format: npy, x: x.npy, y: y.npy}
            train: {epochs: 1, batch_size: 50}

            """
        try spec.write(toFile: root + "/spec.yaml", atomically: true, encoding: .utf8)
        return (root, root + "/spec.yaml")
    }

    @Test func dataFileAboveMaxFileSizeStopsTheRun() throws {
        let (root, spec) = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try BayesnetProcess.run(["run", spec, "--out", root + "/run", "--quiet", "--max-file-size", "1K"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(root)/x.npy: file is 1728 bytes, larger than the limit of 1 KiB (raise it with --max-file-size)"))
        #expect(!FileManager.default.fileExists(atPath: root + "/run"))
    }

    @Test func arrayOverTheMemoryBudgetStopsTheRun() throws {
        let (root, spec) = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try BayesnetProcess.run(["run", spec, "--out", root + "/run", "--quiet", "--memory-budget", "1K"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(root)/x.npy: shape [100, 4] has 400 elements, more than the memory budget of 1 KiB (256 float32 values; raise it with --memory-budget)"))
    }

    @Test func raisedLimitsLetTheRunThrough() throws {
        let (root, spec) = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try BayesnetProcess.run(["run", spec, "--out", root + "/run", "--quiet", "--max-file-size", "2K", "--memory-budget", "2KiB"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func checkpointAboveMaxFileSizeIsRefusedByPredict() throws {
        let (root, spec) = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try BayesnetProcess.run(["run", spec, "--out", root + "/run", "--quiet"]).status == 0)
        let checkpoint = root + "/run/checkpoint.safetensors"
        let size = try FileManager.default.attributesOfItem(atPath: checkpoint)[.size] as! Int
        try NPY.write(NumericArray(shape: [2, 4], floats: Array(repeating: 1, count: 8)), to: root + "/two.npy")
        let r = try BayesnetProcess.run(["predict", spec, "--weights", checkpoint, "--input", root + "/two.npy",
                                               "--output", root + "/p.npy", "--max-file-size", "500"])
        #expect(size > 500)
        #expect(r.status == 1)
        #expect(r.stderr == "error: \(checkpoint): file is \(size) bytes, larger than the limit of 500 bytes (raise it with --max-file-size)\n")
    }

    @Test func predictNamesAnOversizedInputOnce() throws {
        let (root, spec) = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try BayesnetProcess.run(["predict", spec, "--weights", root + "/none.safetensors", "--input", root + "/x.npy",
                                               "--output", root + "/p.npy", "--max-file-size", "1000"])
        #expect(r.status == 1)
        #expect(r.stderr == "error: \(root)/x.npy: file is 1728 bytes, larger than the limit of 1000 bytes (raise it with --max-file-size)\n")
    }

    @Test func sizeOptionsRejectNonsense() throws {
        let r = try BayesnetProcess.run(["validate", "--max-spec-size", "12X", "x.yaml"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("The value '12X' is invalid for '--max-spec-size <size>'"))
    }
}
