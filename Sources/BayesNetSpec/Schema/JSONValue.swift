internal import BayesNetFormats
/// A JSON document held in memory, objects keeping their key order: the JSON Schema is built as one,
/// and the catalog states defaults with it. Not `indirect`: arrays already hold their elements apart, and boxed
/// payloads in the catalog's static tables are tagged pointers that LeakSanitizer cannot follow.
enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number as its JSON text, so that integers up to 2^64 - 1 stay exact.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func int(_ v: Int) -> JSONValue { .number(String(v)) }
    static func double(_ v: Double) -> JSONValue { .number(JSONWriter.number(v)) }

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)), (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
        default: return false
        }
    }

    /// Pretty-printed, two spaces per level; lists of scalars stay on one line.
    var text: String {
        var w = JSONWriter()
        write(into: &w)
        return w.text + "\n"
    }

    private var scalarText: String? {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s): return JSONText.quoted(s)
        case .array, .object: return nil
        }
    }

    func write(into w: inout JSONWriter) {
        switch self {
        case .object(let pairs):
            w.object { o in
                for (k, v) in pairs { o.field(k) { v.write(into: &$0) } }
            }
        case .array(let items):
            let scalars = items.compactMap(\.scalarText)
            if scalars.count == items.count, scalars.reduce(0, { $0 + $1.count + 2 }) < 100 {
                w.inlineArray(scalars)
            } else {
                w.array(items) { w, item in item.write(into: &w) }
            }
        default:
            w.raw(scalarText!)
        }
    }
}
