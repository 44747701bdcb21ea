import BayesNetFormats
import Foundation

/// Small regular-expression probes over the rendered page, enough to check its structure.
struct HTMLProbe {
    let html: String

    /// Capture group 1 of every match of `pattern`.
    func captures(_ pattern: String, in text: String? = nil) -> [String] {
        let source = text ?? html
        let regex = try! NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
        let range = NSRange(source.startIndex..., in: source)
        return regex.matches(in: source, range: range).compactMap { match in
            guard match.numberOfRanges > 1, let r = Range(match.range(at: 1), in: source) else { return nil }
            return String(source[r])
        }
    }

    func count(_ pattern: String, in text: String? = nil) -> Int {
        let source = text ?? html
        let regex = try! NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
        return regex.numberOfMatches(in: source, range: NSRange(source.startIndex..., in: source))
    }

    /// The markup of the element with this id, up to its closing tag (figures, tables, sections).
    func element(id: String) -> String? {
        guard let start = html.range(of: "id=\"\(id)\"") else { return nil }
        let open = html[..<start.lowerBound].lastIndex(of: "<")!
        let tag = String(html[html.index(after: open)...].prefix(while: { $0.isLetter }))
        // Skip nested elements of the same tag.
        var depth = 1
        var cursor = start.upperBound
        while depth > 0 {
            guard let close = html.range(of: "</\(tag)>", range: cursor..<html.endIndex) else { return nil }
            let opens = html[cursor..<close.lowerBound].components(separatedBy: "<\(tag)").count - 1
            depth += opens - 1
            cursor = close.upperBound
        }
        return String(html[open..<cursor])
    }

    /// The figure caption inside an element.
    func caption(of id: String) -> String? {
        guard let element = element(id: id) else { return nil }
        return captures("<figcaption>(.*?)</figcaption>", in: element).last
    }

    /// Every figure tagged with its summary.json key: (key, exact value, displayed text).
    func taggedNumbers(in text: String? = nil) -> [(key: String, value: String, shown: String)] {
        let source = text ?? html
        let regex = try! NSRegularExpression(
            pattern: "<span class=\"num\" data-key=\"([^\"]+)\" data-value=\"([^\"]+)\">([^<]*)</span>")
        return regex.matches(in: source, range: NSRange(source.startIndex..., in: source)).map { m in
            func group(_ i: Int) -> String { String(source[Range(m.range(at: i), in: source)!]) }
            return (group(1), group(2), group(3))
        }
    }
}


/// Any JSON value. The tests read summary.json through this generic tree (JSONDecoder parses numbers
/// exactly; JSONSerialization on Linux can be off by one unit in the last place).
enum JSONValue: Decodable {
    case number(Double), string(String), bool(Bool), null, array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    var number: Double? { if case .number(let n) = self { return n }; return nil }
    var int: Int? { number.map { Int($0) } }
    var string: String? { if case .string(let s) = self { return s }; return nil }
    var array: [JSONValue] { if case .array(let a) = self { return a }; return [] }

    /// The value at a dotted key such as "evaluation.predictive.ece".
    func at(_ dotted: String) -> JSONValue? {
        var node: JSONValue? = self
        for part in dotted.split(separator: ".") { node = node?[String(part)] }
        return node
    }
}

func readSummaryJSON(_ folder: URL) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: folder.appendingPathComponent("summary.json")))
}
