import BayesNetFormats
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

    /// Writes through the one atomic writer; the problem as a message, or nil.
    static func writeAtomically(_ text: String, to path: String) -> String? {
        do {
            try AtomicFile.write(text, to: path)
            return nil
        } catch {
            return "cannot write \(path): \(error.message)"
        }
    }
}
