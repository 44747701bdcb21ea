import BayesNetFormats
import BayesNetSpec

/// A small, strict JSON reader for file headers (safetensors). Written for hostile input: bounded nesting,
/// integers read exactly with overflow checks, errors instead of traps.
enum HeaderJSON: Equatable {
    case null
    case bool(Bool)
    /// The number's text as written, converted by the caller (`integer`) so that no precision is lost.
    case number(String)
    case string(String)
    case array([HeaderJSON])
    /// Members in file order; duplicates are kept so the caller can reject them.
    case object([(String, HeaderJSON)])

    static func == (a: HeaderJSON, b: HeaderJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    struct ParseError: Error {
        var message: String
        var offset: Int
    }

    static let maxDepth = 64

    static func parse(_ bytes: ArraySlice<UInt8>) throws -> HeaderJSON {
        var p = Parser(b: bytes, i: bytes.startIndex)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.endIndex else { throw ParseError(message: "unexpected text after the JSON value", offset: p.i - bytes.startIndex) }
        return v
    }

    /// The value as an exact non-negative integer, if it is one.
    var nonNegativeInteger: Int? {
        guard case .number(let text) = self, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)  // nil on overflow
    }

    struct Parser {
        let b: ArraySlice<UInt8>
        var i: Int

        func fail(_ message: String) -> ParseError { ParseError(message: message, offset: i - b.startIndex) }

        mutating func skipSpace() {
            while i < b.endIndex, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func literal(_ word: String, _ v: HeaderJSON) throws -> HeaderJSON {
            let w = Array(word.utf8)
            guard b.endIndex - i >= w.count, b[i..<(i + w.count)].elementsEqual(w) else { throw fail("invalid literal") }
            i += w.count
            return v
        }

        mutating func value(depth: Int) throws -> HeaderJSON {
            guard depth < HeaderJSON.maxDepth else { throw fail("nested deeper than \(HeaderJSON.maxDepth) levels") }
            guard i < b.endIndex else { throw fail("unexpected end of JSON") }
            switch b[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(String, HeaderJSON)] = []
                skipSpace()
                if i < b.endIndex, b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard i < b.endIndex, b[i] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                    let key = try string()
                    skipSpace()
                    guard i < b.endIndex, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    i += 1
                    skipSpace()
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < b.endIndex else { throw fail("unexpected end of JSON in an object") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    guard b[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
                    i += 1
                    return .object(members)
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [HeaderJSON] = []
                skipSpace()
                if i < b.endIndex, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < b.endIndex else { throw fail("unexpected end of JSON in an array") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    guard b[i] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
                    i += 1
                    return .array(items)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func number() throws -> HeaderJSON {
            let start = i
            func digits() -> Int {
                let s = i
                while i < b.endIndex, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
                return i - s
            }
            if b[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw fail("invalid number") }
            if i < b.endIndex, b[i] == UInt8(ascii: ".") {
                i += 1
                guard digits() > 0 else { throw fail("invalid number") }
            }
            if i < b.endIndex, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                i += 1
                if i < b.endIndex, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                guard digits() > 0 else { throw fail("invalid number") }
            }
            guard i - start <= 64 else { throw fail("number too long") }
            return .number(String(decoding: b[start..<i], as: UTF8.self))
        }

        mutating func hex4() throws -> UInt32 {
            guard b.endIndex - i >= 4 else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("invalid \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func string() throws -> String {
            i += 1  // opening quote
            var out: [UInt8] = []
            while true {
                guard i < b.endIndex else { throw fail("unterminated string") }
                let c = b[i]
                i += 1
                switch c {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard i < b.endIndex else { throw fail("unterminated escape") }
                    let e = b[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if scalar >= 0xD800 && scalar < 0xDC00 {
                            guard b.endIndex - i >= 2, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                                throw fail("unpaired surrogate in \\u escape")
                            }
                            i += 2
                            let low = try hex4()
                            guard low >= 0xDC00 && low < 0xE000 else { throw fail("unpaired surrogate in \\u escape") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                        out.append(contentsOf: Array(String(Character(u)).utf8))
                    default: throw fail("invalid escape")
                    }
                default:
                    guard c >= 0x20 else { throw fail("control character in a string") }
                    out.append(c)
                }
            }
        }
    }

    /// `s` as a JSON string literal.
    static func quote(_ s: String) -> String { JSONText.quoted(s) }
}
