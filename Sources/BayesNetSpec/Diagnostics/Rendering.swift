extension Diagnostic {
    /// `file:line:col: error: message`, the source line, a caret under the column, `help:` when there is one,
    /// then each note the same way.
    public func rendered(source: SpecSource, color: Bool = false) -> String {
        let bold = color ? "\u{1B}[1m" : "", reset = color ? "\u{1B}[0m" : ""
        let tint: String
        switch severity {
        case .error: tint = color ? "\u{1B}[1;31m" : ""
        case .warning: tint = color ? "\u{1B}[1;35m" : ""
        case .note: tint = color ? "\u{1B}[1;36m" : ""
        }
        var out = "\(bold)\(Self.visible(location.description)):\(reset) \(tint)\(severity.rawValue):\(reset) \(bold)\(Self.visible(message))\(reset)"
        out += Self.quoted(location, source: source, color: color)
        if let help { out += "\n\(color ? "\u{1B}[1;36m" : "")help:\(reset) \(Self.visible(help))" }
        for note in notes {
            out += "\n\(bold)\(Self.visible(note.location.description)):\(reset) \(color ? "\u{1B}[1;36m" : "")note:\(reset) \(Self.visible(note.message))"
            out += Self.quoted(note.location, source: source, color: color)
        }
        return out
    }

    /// The source line at `location` with a caret under its column, when the location is in `source`.
    static func quoted(_ location: SourceLocation, source: SpecSource, color: Bool) -> String {
        guard location.file == source.path, !source.text.isEmpty, let line = line(location.line, of: source.text) else { return "" }
        let (shown, before) = excerpt(line, column: location.column)
        // libyaml counts columns in code points.
        let prefix = String(String.UnicodeScalarView(before.map { $0 == "\t" ? "\t" : " " }))
        return "\n    \(visible(shown, keepingWidth: true))\n    \(prefix)\(color ? "\u{1B}[1;32m" : "")^\(color ? "\u{1B}[0m" : "")"
    }

    /// Longest source line shown whole, in bytes; longer ones show a window around the column, so that
    /// hundreds of diagnostics on one long line do not each print all of it.
    static let maxShownLine = 160

    /// The line as shown under the message, and the code points before the caret (tabs kept so it lines up).
    static func excerpt(_ line: String, column: Int) -> (String, [Unicode.Scalar]) {
        let before = max(0, column - 1)
        let u = line.unicodeScalars
        if line.utf8.count <= maxShownLine { return (line, Array(u.prefix(before))) }
        let from = u.index(u.startIndex, offsetBy: max(0, before - 60), limitedBy: u.endIndex) ?? u.endIndex
        let to = u.index(from, offsetBy: 120, limitedBy: u.endIndex) ?? u.endIndex
        let lead = from > u.startIndex ? "…" : "", trail = to < u.endIndex ? "…" : ""
        let skipped = u.distance(from: u.startIndex, to: from)
        let window = u[from..<to]
        let caret: [Unicode.Scalar] = (lead.isEmpty ? [] : [" "]) + Array(window.prefix(max(0, before - skipped)))
        return (lead + String(Substring(window)) + trail, caret)
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
    /// A JSON array of `{id, severity, message, file, line, column, help, notes}` objects, for other tools;
    /// each note is `{message, file, line, column}`.
    public static func json(_ ds: [Diagnostic]) -> String {
        var w = JSONWriter()
        w.array(ds) { w, d in
            w.object { o in
                o.field("id", string: d.id.rawValue)
                o.field("severity", string: d.severity.rawValue)
                o.field("message", string: d.message)
                o.field("file", string: d.location.file)
                o.field("line", int: d.location.line)
                o.field("column", int: d.location.column)
                if let h = d.help { o.field("help", string: h) } else { o.fieldNull("help") }
                o.field("notes") { w in
                    w.array(d.notes) { w, n in
                        w.object { o in
                            o.field("message", string: n.message)
                            o.field("file", string: n.location.file)
                            o.field("line", int: n.location.line)
                            o.field("column", int: n.location.column)
                        }
                    }
                }
            }
        }
        return w.text
    }
}
