import ArgumentParser
import BayesNetSpec
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Terminal output shared by the spec commands.
enum Console {
    static func out(_ s: String) { write(s + "\n", to: 1) }

    static func err(_ s: String) { write(s + "\n", to: 2) }

    private static func write(_ s: String, to fd: Int32) {
        let bytes = Array(s.utf8)
        var done = 0
        while done < bytes.count {
            #if canImport(Glibc)
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            #else
            let n = bytes[done...].withUnsafeBytes { Darwin.write(fd, $0.baseAddress, $0.count) }
            #endif
            if n <= 0 { return }
            done += n
        }
    }

    /// Color only for a terminal, and never when NO_COLOR is set.
    static var stderrColor: Bool { isatty(2) == 1 && getenv("NO_COLOR") == nil }

    /// Prints a spec's diagnostics as text on standard error.
    static func report(_ result: SpecLoadResult) {
        for d in result.diagnostics { err(d.rendered(source: result.source, color: stderrColor)) }
    }

    /// A document ending in a newline: to `output` atomically (exit 1 when it cannot be written), else to stdout.
    static func emit(_ text: String, to output: String?) throws {
        guard let output else { return out(String(text.dropLast())) }
        if let problem = writeAtomically(text, to: output) {
            err("error: \(problem)")
            throw ExitCode(1)
        }
    }

    /// Writes to a temporary name in the same folder, then renames, so a reader never sees half a file.
    static func writeAtomically(_ text: String, to path: String) -> String? {
        let temp = path + ".tmp-\(getpid())"
        guard let f = fopen(temp, "wb") else { return "cannot write \(path): \(String(cString: strerror(errno)))" }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
        fclose(f)
        guard written == bytes.count, flushed, rename(temp, path) == 0 else {
            let message = "cannot write \(path): \(String(cString: strerror(errno)))"
            unlink(temp)
            return message
        }
        return nil
    }
}
