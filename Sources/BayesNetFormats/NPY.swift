/// NumPy's `.npy` format (versions 1.0-3.0): little-endian, C-order arrays of float32, float64, uint8, int8,
/// int16, int32 or int64. Anything else (big-endian, Fortran order, structured or object dtypes) is refused
/// with a message that says how to re-save the file.
public enum NPY {
    package static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
    /// Longest header read.
    public static let maxHeaderBytes = 65536

    /// The array's shape and its values converted to Float (integers exactly up to 2^24).
    public static func read(path: String, limits: DataLimits = .default) throws(DataError) -> (shape: [Int], values: [Float]) {
        let array = try readArray(path: path, limits: limits)
        return (array.shape, array.floats())
    }

    /// The array with the element type it has in the file (plain or gzip-compressed).
    public static func readArray(path: String, limits: DataLimits = .default) throws(DataError) -> NumericArray {
        let bytes = try DataFile.read(path, limits: limits)
        do {
            return try decode(consume bytes, limits: limits)
        } catch {
            throw error.named(path)
        }
    }

    /// Decodes NPY bytes, inflating them first when they are gzip-compressed (as `gzip x.npy` leaves them).
    public static func decode(_ bytes: consuming [UInt8], limits: DataLimits = .default) throws(DataError) -> NumericArray {
        if Gzip.isCompressed(bytes) {
            bytes = try Gzip.inflate(bytes, limits: limits) { (head) throws(DataError) in try layout(head, limits: limits, complete: false)?.totalBytes }
        }
        let declared = try layout(bytes, limits: limits, complete: true)!
        let (count, dataStart) = (declared.count, declared.dataStart)
        let available = bytes.count - dataStart
        guard declared.totalBytes - dataStart == available else {
            let size = declared.totalBytes == .max ? "too many" : String(declared.totalBytes - dataStart)
            throw DataError(file: nil, "NPY header says shape \(shapeText(declared.header.shape)) of '\(declared.header.descr)' (\(size) bytes) but the file holds \(available) bytes of data")
        }
        let storage: NumericArray.Storage
        switch declared.kind {
        case "u1":
            bytes.removeFirst(dataStart)
            storage = .uint8(bytes)
        case "i1": storage = .int8(bytes[dataStart...].map { Int8(bitPattern: $0) })
        case "i2": storage = .int16(ByteOrderLoad.integers(bytes, offset: dataStart, count: count, as: Int16.self, bigEndian: false))
        case "i4": storage = .int32(ByteOrderLoad.integers(bytes, offset: dataStart, count: count, as: Int32.self, bigEndian: false))
        case "i8": storage = .int64(ByteOrderLoad.integers(bytes, offset: dataStart, count: count, as: Int64.self, bigEndian: false))
        case "f4": storage = .float32(ByteOrderLoad.floats(bytes, offset: dataStart, count: count, bigEndian: false))
        default: storage = .float64(ByteOrderLoad.doubles(bytes, offset: dataStart, count: count, bigEndian: false))
        }
        return NumericArray(shape: declared.header.shape, storage: storage)
    }

    /// What an NPY header declares.
    package struct Layout {
        package var header: NPYHeader
        package var kind: String
        package var count: Int
        package var dataStart: Int
        /// Header and data; `Int.max` when the data's size overflows.
        package var totalBytes: Int
    }

    /// The header at the start of `bytes`, checked against the limits. When `bytes` ends inside the header this
    /// is an error if `complete`, and nil (more bytes needed) if not.
    package static func layout(_ bytes: [UInt8], limits: DataLimits, complete: Bool) throws(DataError) -> Layout? {
        if !complete, bytes.count < 12 { return nil }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw DataError(file: nil, "not an NPY file: it does not start with the magic string \\x93NUMPY")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw DataError(file: nil, "NPY file ends inside its header length") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw DataError(file: nil, "unsupported NPY format version \(major).\(bytes[7]) (supported: 1.0, 2.0, 3.0)")
        }
        // numpy itself refuses headers over 10000 bytes by default; a supported array's header is a few dozen.
        // Bounded before parsing, which holds the header as an array of code points (4 bytes each).
        guard headerLength <= maxHeaderBytes else {
            throw DataError(file: nil, "NPY header length \(headerLength) is over the limit of \(maxHeaderBytes) bytes (numpy's np.load refuses more than 10000 by default); an array of a supported dtype has a header of a few dozen bytes")
        }
        guard headerLength <= bytes.count - headerStart else {
            if !complete { return nil }
            throw DataError(file: nil, "NPY header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let dataStart = headerStart + headerLength
        guard let text = String(validating: bytes[headerStart..<dataStart], as: UTF8.self) else {
            throw DataError(file: nil, "NPY header is not valid text")
        }
        let header = try NPYHeader.parse(text)
        guard !header.fortranOrder else {
            throw DataError(file: nil, "NPY array is in Fortran (column-major) order; only C order is supported (numpy: np.save(path, np.ascontiguousarray(a)))")
        }
        let (width, kind) = try elementType(header.descr)
        let count = try limits.elementCount(header.shape, file: nil)
        let (dataBytes, overflow) = count.multipliedReportingOverflow(by: width)
        let total = overflow || dataBytes > Int.max - dataStart ? Int.max : dataStart + dataBytes
        return Layout(header: header, kind: kind, count: count, dataStart: dataStart, totalBytes: total)
    }

    package static let supported = "float32 '<f4', float64 '<f8', uint8 '|u1', int8 '|i1', int16 '<i2', int32 '<i4', int64 '<i8'"

    /// (bytes per element, kind) for a dtype string such as '<f4'.
    package static func elementType(_ descr: String) throws(DataError) -> (Int, String) {
        let chars = Array(descr)
        guard chars.count == 3 else {
            throw DataError(file: nil, "unsupported NPY dtype '\(descr)' (supported: \(supported))")
        }
        let order = chars[0], kind = String(chars[1...])
        let width: Int
        switch kind {
        case "u1", "i1": width = 1
        case "i2": width = 2
        case "i4", "f4": width = 4
        case "i8", "f8": width = 8
        default: throw DataError(file: nil, "unsupported NPY dtype '\(descr)' (supported: \(supported))")
        }
        if order == ">" && width > 1 {
            throw DataError(file: nil, "NPY data is big-endian ('\(descr)'); only little-endian is supported (numpy: a.astype(a.dtype.newbyteorder('<')))")
        }
        guard order == "<" || order == "|" || (order == ">" && width == 1) else {
            throw DataError(file: nil, "unsupported NPY dtype '\(descr)' (supported: \(supported))")
        }
        return (width, kind)
    }

    package static func shapeText(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// Version 1.0 `.npy` bytes, header padded so the data starts on a 64-byte boundary as numpy does.
    public static func encode(_ array: NumericArray) -> [UInt8] {
        let descr: String, width: Int
        switch array.storage {
        case .uint8: (descr, width) = ("|u1", 1)
        case .int8: (descr, width) = ("|i1", 1)
        case .int16: (descr, width) = ("<i2", 2)
        case .int32: (descr, width) = ("<i4", 4)
        case .int64: (descr, width) = ("<i8", 8)
        case .float32: (descr, width) = ("<f4", 4)
        case .float64: (descr, width) = ("<f8", 8)
        }
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText(array.shape)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = header.utf8.count
        // One buffer of the final size: a large array (a run's test inputs) is not copied a second time.
        var out: [UInt8] = []
        out.reserveCapacity(10 + length + array.count * width)
        out += magic + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)]
        out += Array(header.utf8)
        func append<T: FixedWidthInteger>(_ values: [T]) {
            for v in values {
                withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
            }
        }
        switch array.storage {
        case .uint8(let a): out += a
        case .int8(let a): for v in a { out.append(UInt8(bitPattern: v)) }
        case .int16(let a): append(a)
        case .int32(let a): append(a)
        case .int64(let a): append(a)
        case .float32(let a): for v in a { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case .float64(let a): for v in a { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// Writes an array as `.npy` atomically (temporary file, then rename).
    public static func write(_ array: NumericArray, to path: String) throws {
        try AtomicFile.write(encode(array), to: path)
    }

    /// Writes float32 values of the given shape as `.npy`, atomically.
    public static func writeFloat32(_ values: [Float], shape: [Int], to path: String) throws {
        try write(NumericArray(shape: shape, floats: values), to: path)
    }
}

/// The Python dict literal of an NPY header: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
package struct NPYHeader {
    package var descr: String
    package var fortranOrder: Bool
    package var shape: [Int]

    package static func parse(_ text: String) throws(DataError) -> NPYHeader {
        var p = Parser(chars: Array(text.unicodeScalars))
        var descr: String?, fortran: Bool?, shape: [Int]?
        p.skipSpace()
        try p.expect("{")
        while true {
            p.skipSpace()
            if p.take("}") { break }
            let key = try p.string()
            p.skipSpace()
            try p.expect(":")
            p.skipSpace()
            switch key {
            case "descr":
                guard p.peek == "'" || p.peek == "\"" else {
                    throw DataError(file: nil, "NPY dtype is not a plain string (structured dtypes are not supported; supported: \(NPY.supported))")
                }
                descr = try p.string()
            case "fortran_order": fortran = try p.bool()
            case "shape": shape = try p.tuple()
            default: throw DataError(file: nil, "NPY header has an unexpected key '\(key)'")
            }
            p.skipSpace()
            if p.take(",") { continue }
            p.skipSpace()
            try p.expect("}")
            break
        }
        guard let descr, let fortran, let shape else {
            throw DataError(file: nil, "NPY header lacks one of 'descr', 'fortran_order' and 'shape'")
        }
        return NPYHeader(descr: descr, fortranOrder: fortran, shape: shape)
    }

    package struct Parser {
        package var chars: [Unicode.Scalar]
        package var i = 0

        package var peek: Unicode.Scalar? { i < chars.count ? chars[i] : nil }

        package mutating func skipSpace() {
            while let c = peek, c == " " || c == "\t" || c == "\n" || c == "\r" { i += 1 }
        }

        package mutating func take(_ c: Unicode.Scalar) -> Bool {
            if peek == c { i += 1; return true }
            return false
        }

        package mutating func expect(_ c: Unicode.Scalar) throws(DataError) {
            guard take(c) else { throw bad("expected '\(c)'") }
        }

        package func bad(_ what: String) -> DataError {
            let found = peek.map { "'\($0)'" } ?? "the end"
            return DataError(file: nil, "malformed NPY header: \(what) at character \(i), found \(found)")
        }

        package mutating func string() throws(DataError) -> String {
            guard let q = peek, q == "'" || q == "\"" else { throw bad("expected a quoted string") }
            i += 1
            var s = ""
            while let c = peek, c != q {
                s.unicodeScalars.append(c)
                i += 1
                if s.unicodeScalars.count > 256 { throw bad("string too long") }
            }
            try expect(q)
            return s
        }

        package mutating func bool() throws(DataError) -> Bool {
            for (word, value) in [("True", true), ("False", false)] {
                let w = Array(word.unicodeScalars)
                if i + w.count <= chars.count, Array(chars[i..<(i + w.count)]) == w {
                    i += w.count
                    return value
                }
            }
            throw bad("expected True or False")
        }

        package mutating func tuple() throws(DataError) -> [Int] {
            try expect("(")
            var dims: [Int] = []
            while true {
                skipSpace()
                if take(")") { return dims }
                var digits = 0
                var value = 0
                while let c = peek, let d = Int(String(c)), c.isASCII {
                    let (m, o1) = value.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(d)
                    guard !o1, !o2 else { throw DataError(file: nil, "NPY shape has a dimension too large to count") }
                    value = a
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { throw bad("expected a non-negative dimension") }
                if take("L") {}  // Python 2 long suffix
                dims.append(value)
                if dims.count > 64 { throw bad("too many dimensions") }
                skipSpace()
                if take(",") { continue }
                skipSpace()
                try expect(")")
                return dims
            }
        }
    }
}
