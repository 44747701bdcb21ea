import BayesNetFormats
import Foundation
import Testing
import BayesNetSpec
@testable import BayesNet

private func bigEndian32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

@Suite struct IDXTests {
    @Test func readsUnsignedByteImages() throws {
        let bytes: [UInt8] = [0, 0, 8, 3] + bigEndian32(2) + bigEndian32(2) + bigEndian32(3) + Array(0..<12)
        let a = try IDX.decode(bytes)
        #expect(a.shape == [2, 2, 3])
        #expect(a.storage == .uint8(Array(0..<12)))
    }

    @Test func readsBigEndianFloats() throws {
        let bytes: [UInt8] = [0, 0, 0x0D, 1] + bigEndian32(2) + bigEndian32(Float(1.5).bitPattern) + bigEndian32(Float(-2).bitPattern)
        #expect(try IDX.decode(bytes).storage == .float32([1.5, -2]))
    }

    @Test func encodeThenDecodeRoundTrips() throws {
        for a in [NumericArray(shape: [3], storage: .int32([1, -2, 70000])), NumericArray(shape: [1, 2], doubles: [0.25, -1e300]),
                  NumericArray(shape: [2, 1], storage: .int16([-3, 4])), NumericArray(shape: [2], storage: .int8([-1, 1]))] {
            #expect(try IDX.decode(IDX.encode(a)) == a)
        }
    }

    @Test func missingFileIsNamed() {
        let message = dataErrorMessage { _ = try IDX.read(path: "/nonexistent/images.idx") }
        #expect(message == "/nonexistent/images.idx: no such file")
    }

    @Test func wrongMagicIsReported() {
        // A zip archive's magic (gzip's, 1f 8b, is read as a compressed IDX file).
        let message = dataErrorMessage { _ = try IDX.decode([0x50, 0x4B, 3, 4, 0, 0, 0, 0]) }
        #expect(message.contains("wrong magic number 50 4b 03 04"))
    }

    @Test func unknownTypeCodeIsReported() {
        let message = dataErrorMessage { _ = try IDX.decode([0, 0, 0x42, 1] + bigEndian32(0)) }
        #expect(message.contains("unknown IDX type code 0x42"))
    }

    @Test func headerDimensionsMustMatchFileSize() {
        // 10 images of 28×28 declared, 100 bytes present: a truncated download.
        let bytes: [UInt8] = [0, 0, 8, 3] + bigEndian32(10) + bigEndian32(28) + bigEndian32(28) + [UInt8](repeating: 0, count: 100)
        let message = dataErrorMessage { _ = try IDX.decode(bytes) }
        #expect(message == "IDX header says 10 × 28 × 28 unsigned bytes (7840 bytes) but the file holds 100 bytes after the 16-byte header")
    }

    @Test func headerLongerThanFileIsReported() {
        let message = dataErrorMessage { _ = try IDX.decode([0, 0, 8, 200, 0, 0]) }
        #expect(message.contains("declares 200 dimensions (804 header bytes) but the file has only 6 bytes"))
    }

    @Test func overflowingDimensionsAreRefusedBeforeAllocating() {
        let bytes: [UInt8] = [0, 0, 8, 4] + bigEndian32(.max) + bigEndian32(.max) + bigEndian32(.max) + bigEndian32(.max)
        #expect(dataErrorMessage { _ = try IDX.decode(bytes) }.contains("the product overflows"))
    }

    @Test func elementLimitIsNamed() {
        let bytes: [UInt8] = [0, 0, 8, 1] + bigEndian32(1000) + [UInt8](repeating: 0, count: 1000)
        let message = dataErrorMessage { _ = try IDX.decode(bytes, limits: DataLimits(maxElements: 999)) }
        #expect(message == "shape [1000] has 1000 elements, more than the memory budget of 3.9 KiB (999 float32 values; raise it with --memory-budget)")
    }

    @Test func fileSizeLimitIsCheckedBeforeReading() {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.write("big.idx", [0, 0, 8, 1] + bigEndian32(100) + [UInt8](repeating: 0, count: 100))
        let message = dataErrorMessage { _ = try IDX.read(path: path, limits: DataLimits(maxFileBytes: 50)) }
        #expect(message == "\(path): file is 108 bytes, larger than the limit of 50 bytes (raise it with --max-file-size)")
    }

    @Test func aFolderIsNotAFile() {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        #expect(dataErrorMessage { _ = try IDX.read(path: folder.path) }.hasSuffix("is a folder, not a file"))
    }
}

@Suite struct NPYTests {
    @Test(arguments: [
        NumericArray(shape: [2, 3], floats: [1, 2, 3, 4, 5, -6.5]),
        NumericArray(shape: [3], doubles: [0.1, -1e-300, 7]),
        NumericArray(shape: [2, 2], storage: .uint8([0, 1, 254, 255])),
        NumericArray(shape: [1, 2, 1], storage: .int32([-5, Int32.max])),
        NumericArray(shape: [2], storage: .int64([Int64.min, 9_007_199_254_740_993])),
        NumericArray(shape: [], doubles: [3.25]),
    ])
    func encodeThenDecodeRoundTrips(array: NumericArray) throws {
        let bytes = NPY.encode(array)
        #expect(try NPY.decode(bytes) == array)
        // Data starts on a 64-byte boundary, header ends with a newline, as numpy writes them.
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0 && bytes[9 + headerLength] == 0x0A)
    }

    @Test func headerTextMatchesNumpys() {
        let bytes = NPY.encode(NumericArray(shape: [3], floats: [1, 2, 3]))
        let header = String(decoding: bytes[10..<(10 + Int(bytes[8]))], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"))
    }

    /// An NPY file with a hand-written header (version 1.0 unless `major` says otherwise).
    private func npy(_ header: String, data: [UInt8], major: UInt8 = 1) -> [UInt8] {
        let h = Array(header.utf8)
        let length = major == 1 ? [UInt8(h.count & 0xFF), UInt8(h.count >> 8)] : [UInt8(h.count & 0xFF), UInt8(h.count >> 8), 0, 0]
        return NPY.magic + [major, 0] + length + h + data
    }

    @Test func readsVersionTwoHeadersAndDoubleQuotes() throws {
        let bytes = npy("{\"descr\": \"|u1\", \"shape\": (2, 1), \"fortran_order\": False}\n", data: [7, 9], major: 2)
        #expect(try NPY.decode(bytes) == NumericArray(shape: [2, 1], storage: .uint8([7, 9])))
    }

    @Test func fortranOrderIsRefusedWithAFix() {
        let bytes = npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }\n", data: [0, 0, 0, 0])
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) }.contains("Fortran (column-major) order; only C order is supported"))
    }

    @Test func bigEndianIsRefused() {
        let bytes = npy("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }\n", data: [UInt8](repeating: 0, count: 8))
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) }.contains("big-endian ('>f8'); only little-endian is supported"))
    }

    @Test func unsupportedDtypeListsTheSupportedOnes() {
        let bytes = npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n", data: [UInt8](repeating: 0, count: 8))
        let message = dataErrorMessage { _ = try NPY.decode(bytes) }
        #expect(message.contains("unsupported NPY dtype '<c8'") && message.contains("float32 '<f4'"))
    }

    @Test func structuredDtypeIsRefused() {
        let bytes = npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n", data: [0, 0, 0, 0])
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) }.contains("structured dtypes are not supported"))
    }

    @Test func shapeMustMatchDataSize() {
        let bytes = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", data: [UInt8](repeating: 0, count: 20))
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) } == "NPY header says shape (2, 3) of '<f4' (24 bytes) but the file holds 20 bytes of data")
    }

    @Test func overflowingShapeIsRefused() {
        let bytes = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", data: [])
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) }.contains("the product overflows"))
        let huge = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }\n", data: [])
        #expect(dataErrorMessage { _ = try NPY.decode(huge) }.contains("too large to count"))
    }

    @Test func headerLengthPastTheEndIsReported() {
        let bytes = NPY.magic + [1, 0, 0xFF, 0xFF] + Array("{'descr'".utf8)
        #expect(dataErrorMessage { _ = try NPY.decode(bytes) }.contains("header length 65535 runs past the end of the file"))
    }

    @Test func wrongMagicIsReported() {
        #expect(dataErrorMessage { _ = try NPY.decode(Array("PK\u{3}\u{4} a zip file".utf8)) }.contains("not an NPY file"))
    }

    @Test func malformedHeadersAreReported() {
        for header in ["{'descr': '<f4', 'fortran_order': False}", "{'descr': '<f4', 'fortran_order': Maybe, 'shape': ()}",
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "not a dict", "{'descr': '<f4',"] {
            let message = dataErrorMessage { _ = try NPY.decode(npy(header, data: [])) }
            #expect(message.contains("NPY header"), "\(header): \(message)")
        }
    }

    @Test func writeCreatesAReadableFile() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let a = NumericArray(shape: [2, 2], floats: [1, 2, 3, 4])
        try NPY.write(a, to: folder.file("a.npy"))
        #expect(try NPY.readArray(path: folder.file("a.npy")) == a)
        #expect(folder.contents() == ["a.npy"])
    }

    @Test func floatReadConvertsEveryType() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try NPY.write(NumericArray(shape: [3, 1], storage: .int64([-2, 0, 300])), to: folder.file("i.npy"))
        let (shape, values) = try NPY.read(path: folder.file("i.npy"))
        #expect(shape == [3, 1] && values == [-2, 0, 300])
        try NPY.writeFloat32([0.5, 1.5], shape: [1, 2], to: folder.file("f.npy"))
        #expect(try NPY.readArray(path: folder.file("f.npy")) == NumericArray(shape: [1, 2], floats: [0.5, 1.5]))
    }
}

@Suite struct CSVTests {
    @Test func readsNumbersWithAHeader() throws {
        let t = try CSVData.decode(Array("x1, \"x2\",y\r\n1,2.5,0\n\n-3e2, 4 ,1\n".utf8))
        #expect(t.header == ["x1", "x2", "y"])
        #expect(t.rows == 2 && t.columns == 3)
        #expect(t.values == [1, 2.5, 0, -300, 4, 1])
    }

    @Test func readsNumbersWithoutAHeader() throws {
        let t = try CSVData.decode(Array("1,2\n3,4".utf8))
        #expect(t.header == nil && t.rows == 2 && t.values == [1, 2, 3, 4])
    }

    @Test func raggedRowNamesTheLine() {
        let message = dataErrorMessage { _ = try CSVData.decode(Array("a,b\n1,2\n3\n".utf8)) }
        #expect(message == "line 3 has 1 fields but the header has 2")
    }

    @Test func nonNumericCellNamesLineAndColumn() {
        #expect(dataErrorMessage { _ = try CSVData.decode(Array("1,2\n3,four\n".utf8)) } == "line 2, column 2: 'four' is not a finite number")
        #expect(dataErrorMessage { _ = try CSVData.decode(Array("1,2\n3,nan\n".utf8)) } == "line 2, column 2: 'nan' is not a finite number")
    }
}

@Suite struct DataLoaderTests {
    @Test func builtinDigitsAreScaledToUnitInterval() throws {
        let train = try DataLoader.builtinDigits(split: "train")
        #expect(train.count == 1500 && train.exampleShape == [8, 8, 1] && train.inputs.count == 1500 * 64)
        #expect(train.inputs.min() == 0 && train.inputs.max() == 1)
        #expect(train.inputs.allSatisfy { ($0 * 16).rounded() == $0 * 16 })  // grey levels 0...16, divided by 16
        let labels = try #require(train.labels)
        #expect(Set(labels) == Set(0...9))
        #expect(try DataLoader.builtinDigits(split: "test").count == 297)
    }

    @Test func builtinSourceFollowsTheSpec() throws {
        let data = try DataLoader.load(.builtin(name: "digits", split: "test"), spec: makeSpec(inputShape: [8, 8, 1]), classes: 10)
        #expect(data.count == 297 && data.labels?.count == 297)
        let flat = try DataLoader.load(.builtin(name: "digits", split: "test"), spec: makeSpec(inputShape: [64]), classes: 10)
        #expect(flat.exampleShape == [64] && flat.inputs == data.inputs)
    }

    @Test func builtinErrorsNameWhatExists() {
        #expect(dataErrorMessage { _ = try DataLoader.builtinDigits(split: "validation") } == "builtin digits has no split 'validation' (available: train, test)")
        #expect(dataErrorMessage { _ = try DataLoader.load(.builtin(name: "cifar10", split: "train"), spec: makeSpec(inputShape: [8, 8, 1]), classes: 10) }
            == "unknown builtin dataset 'cifar10' (available: digits, mnist)")
        #expect(dataErrorMessage { _ = try DataLoader.load(.builtin(name: "digits", split: "train"), spec: makeSpec(inputShape: [28, 28, 1]), classes: 10) }
            == "builtin digits examples have shape [8, 8, 1] but input.shape is [28, 28, 1]")
        #expect(dataErrorMessage { _ = try DataLoader.load(.builtin(name: "digits", split: "train"), spec: makeSpec(inputShape: [8, 8, 1]), classes: 5) }
            .contains("is outside 0...4 (the model has 5 classes)"))
    }

    @Test func builtinMNISTHasThePublishedSplitsAndLabelCounts() throws {
        let train = try DataLoader.builtin(.mnist, split: "train")
        let test = try DataLoader.builtin(.mnist, split: "test")
        #expect(train.count == 60000 && train.inputs.count == 60000 * 784 && train.exampleShape == [28, 28, 1])
        #expect(test.count == 10000 && test.inputs.count == 10000 * 784)
        func counts(_ labels: [Int32]?) -> [Int] {
            var c = [Int](repeating: 0, count: 10)
            for l in labels ?? [] { c[Int(l)] += 1 }
            return c
        }
        #expect(counts(train.labels) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        #expect(counts(test.labels) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        // Grey levels 0...255 divided by 255.
        #expect(test.inputs.min() == 0 && test.inputs.max() == 1)
        #expect(test.inputs.allSatisfy { abs($0 * 255 - ($0 * 255).rounded()) < 1e-3 })
    }

    @Test func builtinImagesAreHeldAsBytesAndReadAsTheirFloats() throws {
        let data = try DataLoader.builtin(.mnist, split: "test")
        guard case .bytes(let bytes, _) = data.storage else { Issue.record("MNIST is not held as bytes"); return }
        #expect(bytes.count == 10000 * 784)
        let floats = Dataset(exampleShape: data.exampleShape, count: data.count, inputs: data.inputs, labels: data.labels)
        #expect(data == floats)
        let rows: ArraySlice<Int> = [9999, 0, 4321]
        var fromBytes = [Double](repeating: .nan, count: 3 * 784), fromFloats = fromBytes
        fromBytes.withUnsafeMutableBufferPointer { data.copyExamples(rows, to: $0.baseAddress!, size: 784) }
        fromFloats.withUnsafeMutableBufferPointer { floats.copyExamples(rows, to: $0.baseAddress!, size: 784) }
        #expect(fromBytes == fromFloats)
        #expect(fromBytes[784..<1568].map(Float.init) == Array(data.inputs[0..<784]))
    }

    @Test func builtinMNISTServesAFlatInput() throws {
        let flat = try DataLoader.load(.builtin(name: "mnist", split: "test"), spec: makeSpec(inputShape: [784]), classes: 10)
        #expect(flat.exampleShape == [784] && flat.count == 10000)
    }

    @Test func npyFilesRelativeToTheSpecAreScaled() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try NPY.write(NumericArray(shape: [2, 2, 1], storage: .uint8([0, 255, 51, 102])), to: folder.file("x.npy"))
        try NPY.write(NumericArray(shape: [2], storage: .int64([1, 0])), to: folder.file("y.npy"))
        let spec = makeSpec(inputShape: [2, 1], specPath: folder.file("model.yaml"))
        let data = try DataLoader.load(.files(format: .npy, x: "x.npy", y: "y.npy", scale: 1.0 / 255), spec: spec, classes: 2)
        #expect(data.count == 2 && data.exampleShape == [2, 1])
        #expect(data.inputs == [0, 1, 0.2, 0.4])
        #expect(data.labels == [1, 0])
    }

    @Test func mnistStyleIDXServesAChannelInput() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let x = folder.write("x.idx", IDX.encode(NumericArray(shape: [3, 2, 2], storage: .uint8(Array(0..<12)))))
        let y = folder.write("y.idx", IDX.encode(NumericArray(shape: [3], storage: .uint8([2, 0, 1]))))
        let data = try DataLoader.load(format: .idx, x: x, y: y, scale: nil, spec: makeSpec(inputShape: [2, 2, 1]), classes: 3)
        #expect(data.inputs == (0..<12).map(Float.init) && data.labels == [2, 0, 1])
    }

    @Test func channelsFirstInputIsConvertedToChannelsLast() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        // One example, 2 channels × 3 positions on disk: channel 0 = [1, 2, 3], channel 1 = [10, 20, 30].
        let x = folder.write("x.npy", NPY.encode(NumericArray(shape: [1, 2, 3], floats: [1, 2, 3, 10, 20, 30])))
        let data = try DataLoader.load(format: .npy, x: x, y: nil, scale: nil, spec: makeSpec(inputShape: [3, 2], layout: .channelsFirst), classes: nil)
        #expect(data.inputs == [1, 10, 2, 20, 3, 30])
    }

    @Test func shapeMismatchNamesFileAndShapes() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let x = folder.write("x.npy", NPY.encode(NumericArray(shape: [2, 3, 3], floats: [Float](repeating: 0, count: 18))))
        let message = dataErrorMessage { _ = try DataLoader.load(format: .npy, x: x, y: nil, scale: nil, spec: makeSpec(inputShape: [4, 4, 1]), classes: 10) }
        #expect(message == "\(x): examples have shape [3, 3] but input.shape is [4, 4, 1]")
    }

    @Test func labelsOutOfRangeAreReported() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let x = folder.write("x.npy", NPY.encode(NumericArray(shape: [3, 1], floats: [0, 0, 0])))
        let y = folder.write("y.npy", NPY.encode(NumericArray(shape: [3], storage: .int32([0, 10, 1]))))
        let message = dataErrorMessage { _ = try DataLoader.load(format: .npy, x: x, y: y, scale: nil, spec: makeSpec(inputShape: [1]), classes: 10) }
        #expect(message == "\(y): label 10 of example 1 is outside 0...9 (the model has 10 classes)")
    }

    @Test func fractionalLabelsAreReported() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let x = folder.write("x.npy", NPY.encode(NumericArray(shape: [2, 1], floats: [0, 0])))
        let y = folder.write("y.npy", NPY.encode(NumericArray(shape: [2], floats: [1, 0.5])))
        #expect(dataErrorMessage { _ = try DataLoader.load(format: .npy, x: x, y: y, scale: nil, spec: makeSpec(inputShape: [1]), classes: 2) }
            == "\(y): label of example 1 is 0.5, not a class index")
    }

    @Test func exampleCountsMustAgree() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let x = folder.write("x.npy", NPY.encode(NumericArray(shape: [3, 1], floats: [0, 0, 0])))
        let y = folder.write("y.npy", NPY.encode(NumericArray(shape: [2], storage: .uint8([0, 1]))))
        #expect(dataErrorMessage { _ = try DataLoader.load(format: .npy, x: x, y: y, scale: nil, spec: makeSpec(inputShape: [1]), classes: 2) }
            == "\(y): holds 2 labels but \(x) holds 3 examples")
    }

    @Test func emptyDataIsReported() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let x = folder.write("x.npy", NPY.encode(NumericArray(shape: [0, 4], floats: [])))
        #expect(dataErrorMessage { _ = try DataLoader.load(format: .npy, x: x, y: nil, scale: nil, spec: makeSpec(inputShape: [4]), classes: nil) }
            == "\(x): shape [0, 4] has a dimension of 0 (dimension 1), so the array holds no values")
        let csv = folder.write("x.csv", text: "a,b,c,d\n")
        #expect(dataErrorMessage { _ = try DataLoader.load(format: .csv, x: csv, y: nil, scale: nil, spec: makeSpec(inputShape: [4]), classes: nil) }
            == "\(csv): holds no examples")
    }

    @Test func csvColumnsMustMatchTheInputSize() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let x = folder.write("x.csv", text: "1,2,3\n4,5,6\n")
        #expect(dataErrorMessage { _ = try DataLoader.load(format: .csv, x: x, y: nil, scale: nil, spec: makeSpec(inputShape: [2, 2]), classes: nil) }
            == "\(x): rows have 3 values but input.shape [2, 2] needs 4")
    }

    @Test func csvRegressionTargetsMatchTheOutputShape() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        // No layers: the output shape is the input shape [2], so each target row has 2 values.
        let x = folder.write("x.csv", text: "a,b\n1,2\n3,4\n")
        let y = folder.write("y.csv", text: "t1,t2\n0.5,1\n-1,2\n")
        let data = try DataLoader.load(format: .csv, x: x, y: y, scale: 0.5, spec: makeSpec(inputShape: [2]), classes: nil)
        #expect(data.inputs == [0.5, 1, 1.5, 2])
        #expect(data.targets == [0.5, 1, -1, 2] && data.targetShape == [2])
        let one = folder.write("one.csv", text: "0.5\n-1\n")
        #expect(dataErrorMessage { _ = try DataLoader.load(format: .csv, x: x, y: one, scale: nil, spec: makeSpec(inputShape: [2]), classes: nil) }
            == "\(one): targets have shape [2, 1] but the model's output shape is [2], so 2 values per example were expected")
    }

    @Test func missingLabelFileIsNamed() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let x = folder.write("x.npy", NPY.encode(NumericArray(shape: [1, 1], floats: [0])))
        let y = folder.file("labels.npy")
        #expect(dataErrorMessage { _ = try DataLoader.load(format: .npy, x: x, y: y, scale: nil, spec: makeSpec(inputShape: [1]), classes: 2) }
            == "\(y): no such file")
    }

    @Test func pathsResolveAgainstTheSpecFolder() {
        #expect(DataLoader.resolve("data/x.npy", specPath: "specs/model.yaml") == "specs/data/x.npy")
        #expect(DataLoader.resolve("/abs/x.npy", specPath: "specs/model.yaml") == "/abs/x.npy")
        #expect(DataLoader.resolve("x.npy", specPath: "model.yaml") == "x.npy")
        #expect(DataLoader.resolve("x.npy", specPath: "<string>") == "x.npy")
    }
}
