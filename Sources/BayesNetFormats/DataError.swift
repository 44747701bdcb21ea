#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem with a data, input or checkpoint file: which file, what kind of problem, and what is wrong with it.
public struct DataError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What callers may act on without reading the message.
    public enum Kind: Sendable, Equatable {
        /// The content is not what the format allows (most problems).
        case invalid
        /// Larger than `--max-file-size` (for a gzip file, its decompressed content).
        case overFileSizeLimit
        /// An array larger than `--memory-budget`.
        case overMemoryBudget
        /// A gzip stream that stops before its end: the file was cut short.
        case truncatedGzip
        /// A gzip stream that is damaged: bad header, bad compressed data, checksum mismatch, or bytes after its end.
        case corruptGzip
        /// An example held NaN or an infinity (`predict --allow-nonfinite` can mark it instead).
        case nonFinite(example: Int)
    }

    /// The file as the user named it (nil when decoding bytes that came from elsewhere).
    public var file: String?
    public var kind: Kind
    public var message: String

    public init(file: String?, _ message: String, kind: Kind = .invalid) {
        self.file = file
        self.kind = kind
        self.message = message
    }

    public var description: String {
        if let file { return "\(file): \(message)" }
        return message
    }

    package func named(_ file: String) -> DataError {
        DataError(file: self.file ?? file, message, kind: kind)
    }
}

/// Bounds on what a reader accepts, checked before anything large is allocated. Every error that one of them
/// causes names the limit and the command-line option that raises it.
public struct DataLimits: Sendable, Equatable {
    /// Largest file read, in bytes. `--max-file-size`.
    public var maxFileBytes: Int
    /// Largest number of elements in one array: the memory budget, 4 bytes each once converted to Float.
    /// `--memory-budget` (in bytes).
    public var maxElements: Int

    public init(maxFileBytes: Int = 2 << 30, maxElements: Int = 1 << 29) {
        self.maxFileBytes = maxFileBytes
        self.maxElements = maxElements
    }

    /// Limits from byte sizes as the options give them: the budget counts 4 bytes per element.
    public init(maxFileBytes: Int, memoryBudget: Int) {
        self.init(maxFileBytes: maxFileBytes, maxElements: max(memoryBudget / 4, 0))
    }

    public static let `default` = DataLimits()

    /// The options that raise each limit (the `bayesnet` commands that read data accept them).
    public enum Option {
        public static let maxFileBytes = "--max-file-size"
        public static let memoryBudget = "--memory-budget"
    }

    /// The memory budget as bytes of float32 values.
    public var memoryBudget: Int { maxElements.multipliedReportingOverflow(by: 4).overflow ? .max : maxElements * 4 }

    /// "more than the memory budget of 4 KiB (1000 float32 values; raise it with --memory-budget)".
    package func overBudget() -> String {
        "more than the memory budget of \(byteText(memoryBudget)) (\(maxElements) float32 values; raise it with \(Option.memoryBudget))"
    }

    /// Product of `dims`, or an error when a dimension is 0 (unless `allowZero`), the product overflows, or it
    /// exceeds the memory budget.
    package func elementCount(_ dims: [Int], file: String?, allowZero: Bool = false) throws(DataError) -> Int {
        var n = 1
        for d in dims {
            guard d >= 0 else { throw DataError(file: file, "negative dimension \(d) in shape \(dims)") }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw DataError(file: file, "shape \(dims) has more elements than can be counted (the product overflows)")
            }
            n = p
        }
        if !allowZero, let k = dims.firstIndex(of: 0) {
            throw DataError(file: file, "shape \(dims) has a dimension of 0 (dimension \(k + 1)), so the array holds no values")
        }
        guard n <= maxElements else {
            throw DataError(file: file, "shape \(dims) has \(n) elements, \(overBudget())", kind: .overMemoryBudget)
        }
        return n
    }
}

/// `1536` → "1.5 KiB".
package func byteText(_ bytes: Int) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes), unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    if unit == 0 { return "\(bytes) bytes" }
    let tenths = (value * 10).rounded()
    return tenths.truncatingRemainder(dividingBy: 10) == 0 ? "\(Int(tenths / 10)) \(units[unit])" : "\(tenths / 10) \(units[unit])"
}

/// Whole-file reads with the size checked first.
package enum DataFile {
    package static func read(_ path: String, limits: DataLimits) throws(DataError) -> [UInt8] {
        try read(path, limits: limits, upTo: .max).bytes
    }

    /// The first `upTo` bytes of the file (all of it when shorter) and the file's size.
    package static func read(_ path: String, limits: DataLimits, upTo: Int) throws(DataError) -> (bytes: [UInt8], size: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw DataError(file: path, "no such file") }
            throw DataError(file: path, "cannot open: \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw DataError(file: path, "cannot read its size: \(String(cString: strerror(errno)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw DataError(file: path, "is a folder, not a file") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw DataError(file: path, "is not a regular file") }
        let fileSize = Int(st.st_size)
        guard fileSize <= limits.maxFileBytes else {
            throw DataError(file: path, "file is \(fileSize) bytes, larger than the limit of \(byteText(limits.maxFileBytes)) (raise it with \(DataLimits.Option.maxFileBytes))", kind: .overFileSizeLimit)
        }
        let size = min(fileSize, upTo)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        // The buffer closures rethrow untyped errors: the failure is carried out instead.
        var failure: DataError?
        bytes.withUnsafeMutableBytes { buffer in
            while done < size {
                let n = systemRead(fd, buffer.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = DataError(file: path, "read failed: \(String(cString: strerror(errno)))")
                    return
                }
                if n == 0 { break }
                done += n
            }
        }
        if let failure { throw failure }
        guard done == size else { throw DataError(file: path, "file shrank while being read") }
        return (bytes, fileSize)
    }
}

private func systemRead(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, p, n)
    #elseif canImport(Musl)
    return Musl.read(fd, p, n)
    #else
    return Darwin.read(fd, p, n)
    #endif
}
