/// MNIST's IDX format: two zero bytes, a type code, the number of dimensions, then each dimension
/// as a big-endian UInt32, then the values in big-endian row-major order.
public enum IDX {
    /// Reads an IDX file, plain or gzip-compressed; the header is checked against the file's real size (or, for
    /// gzip, against the limits before the content is inflated) before any data is read.
    public static func read(path: String, limits: DataLimits = .default) throws(DataError) -> NumericArray {
        let bytes = try DataFile.read(path, limits: limits)
        do {
            return try decode(consume bytes, limits: limits)
        } catch {
            throw error.named(path)
        }
    }

    /// Decodes IDX bytes, inflating them first when they are gzip-compressed. Unsigned bytes keep the buffer
    /// they came in (no second copy of a large image file).
    public static func decode(_ bytes: consuming [UInt8], limits: DataLimits = .default) throws(DataError) -> NumericArray {
        if Gzip.isCompressed(bytes) {
            bytes = try Gzip.inflate(bytes, limits: limits) { (head) throws(DataError) in try layout(head, limits: limits, complete: false)?.totalBytes }
        }
        let declared = try layout(bytes, limits: limits, complete: true)!
        let (count, headerBytes) = (declared.count, declared.headerBytes)
        let available = bytes.count - headerBytes
        guard declared.totalBytes - headerBytes == available else {
            let dims = declared.shape.map(String.init).joined(separator: " × ")
            let size = declared.totalBytes == .max ? "too many" : String(declared.totalBytes - headerBytes)
            throw DataError(file: nil, "IDX header says \(dims) \(declared.typeName) (\(size) bytes) but the file holds \(available) bytes after the \(headerBytes)-byte header")
        }
        let storage: NumericArray.Storage
        switch declared.code {
        case 0x08:
            bytes.removeFirst(headerBytes)
            storage = .uint8(bytes)
        case 0x09: storage = .int8(bytes[headerBytes...].map { Int8(bitPattern: $0) })
        case 0x0B: storage = .int16(ByteOrderLoad.integers(bytes, offset: headerBytes, count: count, as: Int16.self, bigEndian: true))
        case 0x0C: storage = .int32(ByteOrderLoad.integers(bytes, offset: headerBytes, count: count, as: Int32.self, bigEndian: true))
        case 0x0D: storage = .float32(ByteOrderLoad.floats(bytes, offset: headerBytes, count: count, bigEndian: true))
        default: storage = .float64(ByteOrderLoad.doubles(bytes, offset: headerBytes, count: count, bigEndian: true))
        }
        return NumericArray(shape: declared.shape, storage: storage)
    }

    /// What an IDX header declares.
    package struct Layout {
        package var code: UInt8
        package var typeName: String
        package var shape: [Int]
        package var count: Int
        package var headerBytes: Int
        /// Header and data; `Int.max` when the data's size overflows.
        package var totalBytes: Int
    }

    /// The header at the start of `bytes`, checked against the limits. When `bytes` ends inside the header this
    /// is an error if `complete`, and nil (more bytes needed) if not.
    package static func layout(_ bytes: [UInt8], limits: DataLimits, complete: Bool) throws(DataError) -> Layout? {
        guard bytes.count >= 4 else {
            if !complete { return nil }
            throw DataError(file: nil, "not an IDX file: \(bytes.count) bytes, shorter than the 4-byte magic number")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DataError(file: nil, "not an IDX file: wrong magic number \(hex(bytes[0..<4])) (IDX files start with 00 00, a type code and the number of dimensions)")
        }
        let code = bytes[2]
        let width: Int
        let typeName: String
        switch code {
        case 0x08: (width, typeName) = (1, "unsigned bytes")
        case 0x09: (width, typeName) = (1, "signed bytes")
        case 0x0B: (width, typeName) = (2, "16-bit integers")
        case 0x0C: (width, typeName) = (4, "32-bit integers")
        case 0x0D: (width, typeName) = (4, "32-bit floats")
        case 0x0E: (width, typeName) = (8, "64-bit floats")
        default:
            throw DataError(file: nil, "unknown IDX type code 0x\(String(code, radix: 16)) in magic number \(hex(bytes[0..<4])) (known: 08 09 0B 0C 0D 0E)")
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw DataError(file: nil, "IDX header declares 0 dimensions") }
        let headerBytes = 4 + 4 * rank
        guard bytes.count >= headerBytes else {
            if !complete { return nil }
            throw DataError(file: nil, "IDX header declares \(rank) dimensions (\(headerBytes) header bytes) but the file has only \(bytes.count) bytes")
        }
        let shape = (0..<rank).map { Int(ByteOrderLoad.bigEndianUInt32(bytes, 4 + 4 * $0)) }
        let count = try limits.elementCount(shape, file: nil)
        let (dataBytes, overflow) = count.multipliedReportingOverflow(by: width)
        let total = overflow || dataBytes > Int.max - headerBytes ? Int.max : headerBytes + dataBytes
        return Layout(code: code, typeName: typeName, shape: shape, count: count, headerBytes: headerBytes, totalBytes: total)
    }

    /// The IDX bytes of an array (for writing test data and converting datasets).
    public static func encode(_ array: NumericArray) -> [UInt8] {
        let code: UInt8
        var body: [UInt8] = []
        func append<T: FixedWidthInteger>(_ values: [T]) {
            body.reserveCapacity(values.count * MemoryLayout<T>.size)
            for v in values {
                withUnsafeBytes(of: v.bigEndian) { body.append(contentsOf: $0) }
            }
        }
        switch array.storage {
        case .uint8(let a): code = 0x08; body = a
        case .int8(let a): code = 0x09; body = a.map { UInt8(bitPattern: $0) }
        case .int16(let a): code = 0x0B; append(a)
        case .int32(let a): code = 0x0C; append(a)
        case .int64(let a): code = 0x0C; append(a.map { Int32(clamping: $0) })
        case .float32(let a): code = 0x0D; append(a.map(\.bitPattern))
        case .float64(let a): code = 0x0E; append(a.map(\.bitPattern))
        }
        var out: [UInt8] = [0, 0, code, UInt8(array.shape.count)]
        for d in array.shape {
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: d).bigEndian) { out.append(contentsOf: $0) }
        }
        return out + body
    }

    package static func hex<C: Collection>(_ b: C) -> String where C.Element == UInt8 {
        b.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
    }
}
