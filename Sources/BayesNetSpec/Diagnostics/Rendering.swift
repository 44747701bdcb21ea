#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Diagnostic {
    /// `file:line:col: error: message`, the source line, a caret under the column, and `help:` when there is one.
    public func rendered(source: SpecSource, color: Bool = false) -> String {
        let bold = color ? "\u{1B}[1m" : "", reset = color ? "\u{1B}[0m" : ""
        let tint: String
        switch severity {
        case .error: tint = color ? "\u{1B}[1;31m" : ""
        case .warning: tint = color ? "\u{1B}[1;35m" : ""
        case .note: tint = color ? "\u{1B}[1;36m" : ""
        }
        var out = "\(bold)\(location):\(reset) \(tint)\(severity.rawValue):\(reset) \(bold)\(message)\(reset)"
        if location.file == source.path, !source.text.isEmpty, let line = Self.line(location.line, of: source.text) {
            let (shown, before) = Self.excerpt(line, column: location.column)
            let prefix = before.map { $0 == "\t" ? "\t" : " " }.joined()
            out += "\n    \(shown)\n    \(prefix)\(color ? "\u{1B}[1;32m" : "")^\(reset)"
        }
        if let help { out += "\n\(color ? "\u{1B}[1;36m" : "")help:\(reset) \(help)" }
        return out
    }

    /// Longest source line shown whole, in bytes; longer ones show a window around the column.
    static let maxShownLine = 160

    /// The line as shown under the message, and the characters before the caret (tabs kept so it lines up).
    static func excerpt(_ line: String, column: Int) -> (String, [String]) {
        let before = max(0, column - 1)
        if line.utf8.count <= maxShownLine { return (line, Array(line).prefix(before).map(String.init)) }
        let u = line.unicodeScalars
        let from = u.index(u.startIndex, offsetBy: max(0, before - 60), limitedBy: u.endIndex) ?? u.endIndex
        let to = u.index(from, offsetBy: 120, limitedBy: u.endIndex) ?? u.endIndex
        let lead = from > u.startIndex ? "…" : "", trail = to < u.endIndex ? "…" : ""
        let skipped = u.distance(from: u.startIndex, to: from)
        let window = Array(u[from..<to])
        let caret = (lead.isEmpty ? [] : [" "]) + window.prefix(max(0, before - skipped)).map { String(Character($0)) }
        return (lead + String(String.UnicodeScalarView(window)) + trail, caret)
    }

    /// The 1-based `n`th line of `text` (lines end at "\n"; a "\r" before it is dropped), or nil.
    /// Scans bytes with memchr: it runs once per diagnostic, and a 64 KiB spec can have thousands of them.
    static func line(_ n: Int, of text: String) -> String? {
        guard n >= 1 else { return nil }
        var text = text
        return text.withUTF8 { bytes -> String? in
            guard var p = bytes.baseAddress else { return n == 1 ? "" : nil }
            let end = p + bytes.count
            for _ in 1..<n {
                guard let newline = memchr(p, 0x0A, end - p) else { return nil }
                p = UnsafePointer(newline.assumingMemoryBound(to: UInt8.self)) + 1
            }
            var stop = memchr(p, 0x0A, end - p).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) } ?? end
            if stop > p, stop[-1] == 0x0D { stop -= 1 }
            return String(decoding: UnsafeBufferPointer(start: p, count: stop - p), as: UTF8.self)
        }
    }
}

public enum DiagnosticRenderer {
    /// A JSON array of `{severity, message, file, line, column, help}` objects, for other tools.
    public static func json(_ ds: [Diagnostic]) -> String {
        var w = JSONWriter()
        w.array(ds) { w, d in
            w.object { o in
                o.field("severity", string: d.severity.rawValue)
                o.field("message", string: d.message)
                o.field("file", string: d.location.file)
                o.field("line", int: d.location.line)
                o.field("column", int: d.location.column)
                if let h = d.help { o.field("help", string: h) } else { o.fieldNull("help") }
            }
        }
        return w.text
    }
}
