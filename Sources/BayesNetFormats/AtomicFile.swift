#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be written; the file previously at that path, if any, is unchanged.
public struct FileWriteError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    /// The system's reason (strerror), or why the path cannot be a file.
    public var message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): cannot write: \(message)" }
}

/// Whole-file replacement that never leaves a half-written file behind: the bytes go to a temporary file
/// in the same folder, are flushed to disk, and the temporary file is renamed over the target (an atomic
/// step); then the folder itself is flushed so the rename survives a power loss. A process killed at any
/// moment leaves either the old file or the new one.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(FileWriteError) {
        try write(bytes, to: path, using: systemWrite)
    }

    /// `writeCall` stands in for write(2), so tests can simulate a full disk.
    package static func write(
        _ bytes: [UInt8], to path: String, using writeCall: (Int32, UnsafeRawPointer, Int) -> Int
    ) throws(FileWriteError) {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { throw FileWriteError(path: path, "the path names a folder, not a file") }
        let temporary = folder + "/." + name + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileWriteError(path: path, lastError()) }
        var closed = false
        var renamed = false
        defer {
            if !closed { close(fd) }
            if !renamed { unlink(temporary) }
        }
        // The problem, if any; returned rather than thrown because withUnsafeBytes rethrows untyped.
        let failure: String? = bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = writeCall(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return lastError()
                }
                done += n
            }
            return nil
        }
        if let failure { throw FileWriteError(path: path, failure) }
        guard fsync(fd) == 0 else { throw FileWriteError(path: path, lastError()) }
        closed = true
        guard close(fd) == 0 else { throw FileWriteError(path: path, lastError()) }
        guard rename(temporary, path) == 0 else { throw FileWriteError(path: path, lastError()) }
        renamed = true
        // Persist the rename; a failure here cannot be undone and the new file is already in place.
        let dir = open(folder, O_RDONLY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    public static func write(_ text: String, to path: String) throws(FileWriteError) {
        try write(Array(text.utf8), to: path)
    }

    private static func lastError() -> String {
        String(cString: strerror(errno))
    }
}

private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #elseif canImport(Musl)
    return Musl.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
