import Foundation

/// A little-endian float32 NPY array (format versions 1 to 3), C order: all the report needs of
/// test-inputs.npy.
public struct NPYArray: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    /// Scalars per leading-axis entry (per example).
    /// Zero when any axis is empty, so that a parsed shape like [N, 2^40, 2^40, 0] does not overflow.
    public var exampleSize: Int { shape.dropFirst().contains(0) ? 0 : shape.dropFirst().reduce(1, *) }

    public static func parse(_ data: Data, file: String = RunFolder.testInputsFile) throws(ReportError) -> NPYArray {
        let bytes = [UInt8](data)
        func fail(_ reason: String) -> ReportError { .malformed(file: file, line: nil, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]   // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not an NPY file (bad magic bytes)") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported NPY format version \(major)")
        }
        guard headerStart + headerLength <= bytes.count,
              let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw fail("truncated or unreadable header")
        }
        guard let descr = stringValue(of: "descr", in: header) else { throw fail("header has no 'descr'") }
        guard descr == "<f4" else {
            throw fail("dtype is '\(descr)', expected little-endian float32 ('<f4')")
        }
        guard let fortran = rawValue(of: "fortran_order", in: header) else { throw fail("header has no 'fortran_order'") }
        guard fortran.hasPrefix("False") else { throw fail("Fortran-ordered arrays are not supported") }
        guard let shapeText = rawValue(of: "shape", in: header), shapeText.hasPrefix("("),
              let close = shapeText.firstIndex(of: ")") else { throw fail("header has no 'shape' tuple") }
        var shape: [Int] = []
        for part in shapeText[shapeText.index(after: shapeText.startIndex)..<close].split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let n = Int(trimmed), n >= 0 else { throw fail("bad shape entry '\(trimmed)'") }
            shape.append(n)
        }
        // Per-example size first, then the whole: both are used as Int later, so neither may overflow.
        var count = 1
        for n in shape.reversed() {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow, product <= Int.max / 4 else { throw fail("shape \(shape) is too large") }
            count = product
        }
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == count * 4 else {
            throw fail("shape \(shape) needs \(count * 4) data bytes, the file has \(bytes.count - dataStart)")
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[dataStart..<(dataStart + count * 4)]))
            }
        }
        #if _endian(big)
        values = values.map { Float(bitPattern: $0.bitPattern.byteSwapped) }
        #endif
        return NPYArray(shape: shape, values: values)
    }

    /// The NPY v1 encoding of this array; used to write test fixtures and by other tools.
    public func encoded() -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // Magic (6) + version (2) + length (2) + header + newline, padded to a multiple of 64.
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let length = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        out.append(contentsOf: Array(header.utf8))
        for v in values {
            let bits = v.bitPattern.littleEndian
            out.append(contentsOf: [UInt8(bits & 0xFF), UInt8((bits >> 8) & 0xFF),
                                    UInt8((bits >> 16) & 0xFF), UInt8(bits >> 24)])
        }
        return out
    }

    /// The text after `'key':` in a Python dict literal.
    static func rawValue(of key: String, in header: String) -> Substring? {
        guard let range = header.range(of: "'\(key)'") else { return nil }
        var rest = header[range.upperBound...].drop(while: { $0 == " " })
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop(while: { $0 == " " })
        return rest
    }

    static func stringValue(of key: String, in header: String) -> String? {
        guard let raw = rawValue(of: key, in: header), let quote = raw.first, quote == "'" || quote == "\"" else {
            return nil
        }
        let body = raw.dropFirst()
        guard let end = body.firstIndex(of: quote) else { return nil }
        return String(body[..<end])
    }
}
