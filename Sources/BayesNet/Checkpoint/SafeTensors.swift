import BayesNetFormats

/// The safetensors format (Hugging Face), so that checkpoints open in Python with `safetensors.numpy.load_file`:
/// an 8-byte little-endian header length, a JSON header mapping each tensor name to its dtype, shape and
/// [begin, end) byte offsets in the data that follows, an optional `__metadata__` map of strings, then the
/// tensors' little-endian bytes. Decoding checks every header field against the real size before use.
public enum SafeTensors {
    public struct Entry: Sendable, Equatable {
        public var name: String
        /// "F32", "F64", "I64", ... (see `byteWidth(dtype:)`).
        public var dtype: String
        public var shape: [Int]
        /// Little-endian, row-major.
        public var bytes: [UInt8]

        public init(name: String, dtype: String, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public init(name: String, floats: [Float], shape: [Int]) {
            self.init(name: name, dtype: "F32", shape: shape, bytes: littleEndianBytes(floats.map(\.bitPattern)))
        }

        public init(name: String, doubles: [Double], shape: [Int]) {
            self.init(name: name, dtype: "F64", shape: shape, bytes: littleEndianBytes(doubles.map(\.bitPattern)))
        }

        public init(name: String, int64s: [Int64], shape: [Int]) {
            self.init(name: name, dtype: "I64", shape: shape, bytes: littleEndianBytes(int64s))
        }

        public var elementCount: Int { shape.reduce(1, *) }

        /// The values of an F32 or F64 tensor as Float.
        public func floats() throws -> [Float] {
            switch dtype {
            case "F32": return ByteOrderLoad.floats(bytes, offset: 0, count: bytes.count / 4, bigEndian: false)
            case "F64": return ByteOrderLoad.doubles(bytes, offset: 0, count: bytes.count / 8, bigEndian: false).map(Float.init)
            default: throw DataError(file: nil, "tensor '\(name)' has dtype \(dtype), expected F32 or F64")
            }
        }

        /// The values of an F32 or F64 tensor as Double.
        public func doubles() throws -> [Double] {
            switch dtype {
            case "F64": return ByteOrderLoad.doubles(bytes, offset: 0, count: bytes.count / 8, bigEndian: false)
            case "F32": return ByteOrderLoad.floats(bytes, offset: 0, count: bytes.count / 4, bigEndian: false).map(Double.init)
            default: throw DataError(file: nil, "tensor '\(name)' has dtype \(dtype), expected F32 or F64")
            }
        }

        public func int64s() throws -> [Int64] {
            guard dtype == "I64" else { throw DataError(file: nil, "tensor '\(name)' has dtype \(dtype), expected I64") }
            return ByteOrderLoad.integers(bytes, offset: 0, count: bytes.count / 8, as: Int64.self, bigEndian: false)
        }
    }

    /// Bytes per element of a safetensors dtype, nil for an unknown one.
    public static func byteWidth(dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64", "U64": return 8
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": return 1
        default: return nil
        }
    }

    /// Largest header accepted (the reference implementation's limit).
    public static let maxHeaderBytes = 100_000_000

    /// The file's bytes. Tensors are stored in the order given, metadata keys sorted, so equal input gives equal
    /// bytes. Entries must be consistent (bytes = element count × dtype width, names unique, not `__metadata__`).
    public static func encode(_ entries: [Entry], metadata: [String: String]) -> [UInt8] {
        var header = "{"
        var first = true
        func member(_ key: String, _ value: String) {
            header += (first ? "" : ",") + HeaderJSON.quote(key) + ":" + value
            first = false
        }
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { HeaderJSON.quote($0) + ":" + HeaderJSON.quote(metadata[$0]!) }
            member("__metadata__", "{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        var names = Set<String>()
        for e in entries {
            precondition(byteWidth(dtype: e.dtype).map { $0 * e.elementCount } == e.bytes.count,
                         "safetensors entry '\(e.name)': \(e.bytes.count) bytes do not match \(e.dtype) × \(e.shape)")
            precondition(e.name != "__metadata__" && names.insert(e.name).inserted, "safetensors entry name '\(e.name)' repeated or reserved")
            let shape = "[" + e.shape.map(String.init).joined(separator: ",") + "]"
            member(e.name, "{\"dtype\":\"\(e.dtype)\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + e.bytes.count)]}")
            offset += e.bytes.count
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)
        var out = littleEndianBytes([UInt64(headerBytes.count)])
        out.reserveCapacity(8 + headerBytes.count + offset)
        out += headerBytes
        for e in entries { out += e.bytes }
        return out
    }

    public static func decode(
        _ bytes: [UInt8], limits: DataLimits = .default
    ) throws -> (entries: [Entry], metadata: [String: String]) {
        func fail(_ message: String) -> DataError { DataError(file: nil, message) }
        guard bytes.count >= 8 else {
            throw fail("not a safetensors file: \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let declared = ByteOrderLoad.littleEndianUInt64(bytes, 0)
        guard declared <= UInt64(maxHeaderBytes) else {
            throw fail("safetensors header length \(declared) exceeds the limit of \(maxHeaderBytes) bytes")
        }
        let headerLength = Int(declared)
        guard headerLength <= bytes.count - 8 else {
            throw fail("safetensors header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        guard headerLength >= 2, bytes[8] == UInt8(ascii: "{") else {
            throw fail("safetensors header is not a JSON object")
        }
        let json: HeaderJSON
        do {
            json = try HeaderJSON.parse(bytes[8..<(8 + headerLength)])
        } catch let e as HeaderJSON.ParseError {
            throw fail("safetensors header is not valid JSON: \(e.message) at header byte \(e.offset)")
        }
        guard case .object(let members) = json else { throw fail("safetensors header is not a JSON object") }

        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var seen = Set<String>()
        var spans: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in members {
            guard seen.insert(name).inserted else { throw fail("safetensors header names '\(name)' twice") }
            if name == "__metadata__" {
                guard case .object(let pairs) = value else { throw fail("safetensors __metadata__ is not an object of strings") }
                for (k, v) in pairs {
                    guard case .string(let s) = v else { throw fail("safetensors __metadata__ value of '\(k)' is not a string") }
                    guard metadata.updateValue(s, forKey: k) == nil else { throw fail("safetensors __metadata__ names '\(k)' twice") }
                }
                continue
            }
            guard case .object(let fields) = value else { throw fail("tensor '\(name)': header entry is not an object") }
            func field(_ key: String) -> HeaderJSON? { fields.first { $0.0 == key }?.1 }
            guard case .string(let dtype)? = field("dtype") else { throw fail("tensor '\(name)': missing or non-string dtype") }
            guard let width = byteWidth(dtype: dtype) else { throw fail("tensor '\(name)': unknown dtype '\(dtype)'") }
            guard case .array(let dims)? = field("shape") else { throw fail("tensor '\(name)': missing shape") }
            let shape = try dims.map { d -> Int in
                guard let n = d.nonNegativeInteger else { throw fail("tensor '\(name)': shape entries must be non-negative integers") }
                return n
            }
            guard case .array(let offsets)? = field("data_offsets"), offsets.count == 2,
                  let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger else {
                throw fail("tensor '\(name)': data_offsets must be two non-negative integers [begin, end]")
            }
            let count: Int
            do {
                count = try limits.elementCount(shape, file: nil, allowZero: true)
            } catch {
                throw fail("tensor '\(name)': \(error.message)")
            }
            let (size, overflow) = count.multipliedReportingOverflow(by: width)
            guard begin <= end, end <= dataLength else {
                throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] lie outside the \(dataLength) data bytes")
            }
            guard !overflow, end - begin == size else {
                throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] span \(end - begin) bytes but \(dtype) × \(shape) needs \(overflow ? "more" : String(size))")
            }
            spans.append((name, dtype, shape, begin, end))
        }
        // The tensors must tile the data exactly: in order, without overlaps or gaps, to the end of the file.
        let ordered = spans.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position = 0
        var previous: String?
        for s in ordered {
            if s.begin < position {
                throw fail("tensors '\(previous ?? "")' and '\(s.name)' overlap (data_offsets begin at \(s.begin), before \(position))")
            }
            if s.begin > position {
                throw fail("\(s.begin - position) bytes before tensor '\(s.name)' belong to no tensor (data_offsets must be contiguous)")
            }
            position = s.end
            previous = s.name
        }
        guard position == dataLength else {
            throw fail("\(dataLength - position) bytes at the end of the file belong to no tensor")
        }
        let entries = spans.map {
            Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: Array(bytes[(dataStart + $0.begin)..<(dataStart + $0.end)]))
        }
        return (entries, metadata)
    }

    public static func read(path: String, limits: DataLimits = .default) throws -> (entries: [Entry], metadata: [String: String]) {
        let bytes = try DataFile.read(path, limits: limits)
        do {
            return try decode(bytes, limits: limits)
        } catch let e as DataError {
            throw e.named(path)
        }
    }

    /// Writes a checkpoint atomically: a run killed mid-write leaves the previous file intact.
    public static func write(_ entries: [Entry], metadata: [String: String], to path: String) throws {
        try AtomicFile.write(encode(entries, metadata: metadata), to: path)
    }
}

private func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(values.count * MemoryLayout<T>.size)
    for v in values {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }
    return out
}
