import BayesNetFormats
import Foundation
import BayesNetSpec

/// The spec text a run folder keeps: the original with every relative data path made absolute, so the copy runs
/// from anywhere (`bayesnet run runs/x/spec.yaml`). Its hash identifies the run, so the original spec and its
/// copy resume the same run.
enum SpecCopy {
    static func text(of spec: ModelSpec) -> String {
        let relative = spec.dataPaths.filter { !$0.path.hasPrefix("/") }
        guard !relative.isEmpty, !spec.source.path.hasPrefix("<") else { return spec.source.text }
        var lines = spec.source.text.split(separator: "\n", omittingEmptySubsequences: false).map { Array(String($0).unicodeScalars) }
        // Last first, so earlier positions stay valid.
        for span in relative.sorted(by: { ($0.start.line, $0.start.column) > ($1.start.line, $1.start.column) }) {
            let l = span.start.line - 1, c = span.start.column - 1
            guard span.end.line == span.start.line, l < lines.count, c <= lines[l].count else { continue }
            let end = min(span.end.column - 1, lines[l].count)
            guard end > c, let absolute = absolutePath(span.path, specPath: spec.source.path) else { continue }
            lines[l].replaceSubrange(c..<end, with: quoted(absolute).unicodeScalars)
        }
        return lines.map { String(String.UnicodeScalarView($0)) }.joined(separator: "\n")
    }

    static func absolutePath(_ path: String, specPath: String) -> String? {
        let resolved = DataLoader.resolve(path, specPath: specPath)
        let full = resolved.hasPrefix("/") ? resolved : FileManager.default.currentDirectoryPath + "/" + resolved
        return URL(fileURLWithPath: full).standardizedFileURL.path
    }

    /// A YAML double-quoted scalar (JSON's escapes are YAML's).
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
