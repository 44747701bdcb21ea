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
            // libyaml counts columns in code points.
            let prefix = String(line.unicodeScalars.prefix(max(0, location.column - 1)).map { $0 == "\t" ? "\t" : " " })
            out += "\n    \(line)\n    \(prefix)\(color ? "\u{1B}[1;32m" : "")^\(reset)"
        }
        if let help { out += "\n\(color ? "\u{1B}[1;36m" : "")help:\(reset) \(help)" }
        return out
    }

    /// The 1-based `n`th line of `text`, or nil. Lines break where libyaml breaks them: LF, CR, CR LF,
    /// NEL, LS and PS.
    static func line(_ n: Int, of text: String) -> String? {
        guard n >= 1 else { return nil }
        var current = 1
        var line = String.UnicodeScalarView()
        var previousCR = false
        for u in text.unicodeScalars {
            let isBreak = u == "\n" || u == "\r" || u == "\u{85}" || u == "\u{2028}" || u == "\u{2029}"
            defer { previousCR = u == "\r" }
            if u == "\n" && previousCR { continue }
            if isBreak {
                if current == n { return String(line) }
                current += 1
                continue
            }
            if current == n { line.append(u) }
        }
        return current == n ? String(line) : nil
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
