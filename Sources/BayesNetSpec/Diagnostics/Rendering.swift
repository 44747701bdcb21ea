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
        var out = "\(bold)\(Self.visible(location.description)):\(reset) \(tint)\(severity.rawValue):\(reset) \(bold)\(Self.visible(message))\(reset)"
        if location.file == source.path, !source.text.isEmpty, let line = Self.line(location.line, of: source.text) {
            // libyaml counts columns in code points.
            let prefix = String(line.unicodeScalars.prefix(max(0, location.column - 1)).map { $0 == "\t" ? "\t" : " " })
            out += "\n    \(Self.visible(line, keepingWidth: true))\n    \(prefix)\(color ? "\u{1B}[1;32m" : "")^\(reset)"
        }
        if let help { out += "\n\(color ? "\u{1B}[1;36m" : "")help:\(reset) \(Self.visible(help))" }
        return out
    }

    /// Control characters shown as `\u{1B}` (or, to keep carets aligned under a source line, as `?`), so a
    /// spec cannot send escape sequences to the terminal through a diagnostic.
    static func visible(_ s: String, keepingWidth: Bool = false) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            if isControl(u) {
                out += keepingWidth ? "?" : "\\u{\(String(u.value, radix: 16, uppercase: true))}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    private static func isControl(_ u: Unicode.Scalar) -> Bool {
        u != "\t" && (u.value < 0x20 || (0x7F...0x9F).contains(u.value))
    }

    /// The 1-based `n`th line of `text`, or nil. Lines break where libyaml breaks them: LF, CR, CR LF,
    /// NEL, LS and PS.
    static func line(_ n: Int, of text: String) -> String? {
        guard n >= 1 else { return nil }
        var text = text
        return text.withUTF8 { b -> String? in
            var current = 1, start = 0, i = 0
            while i < b.count {
                // Length of a line break starting at i, or 0.
                var width = 0
                switch b[i] {
                case 0x0A: width = 1
                case 0x0D: width = i + 1 < b.count && b[i + 1] == 0x0A ? 2 : 1
                case 0xC2 where i + 1 < b.count && b[i + 1] == 0x85: width = 2
                case 0xE2 where i + 2 < b.count && b[i + 1] == 0x80 && (b[i + 2] == 0xA8 || b[i + 2] == 0xA9): width = 3
                default: break
                }
                if width > 0 {
                    if current == n { return String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self) }
                    current += 1
                    i += width
                    start = i
                } else {
                    i += 1
                }
            }
            return current == n ? String(decoding: UnsafeBufferPointer(rebasing: b[start..<b.count]), as: UTF8.self) : nil
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
