internal import BayesNetFormats
/// A small JSON writer with a fixed key order, so outputs are stable and diffable.
struct JSONWriter {
    private(set) var text = ""
    var indent = 0
    private var needsComma: [Bool] = []

    static func quoted(_ s: String) -> String { JSONText.quoted(s) }

    static func number(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return "\(d)"
    }

    private mutating func newline() { text += "\n" + String(repeating: "  ", count: indent) }

    private mutating func beginValue() {
        if let c = needsComma.last {
            if c { text += "," }
            needsComma[needsComma.count - 1] = true
            newline()
        }
    }

    mutating func raw(_ s: String) {
        beginValue()
        text += s
    }

    mutating func object(_ body: (inout JSONWriter) -> Void) {
        beginValue()
        text += "{"
        indent += 1
        needsComma.append(false)
        body(&self)
        let empty = needsComma.removeLast() == false
        indent -= 1
        if !empty { newline() }
        text += "}"
    }

    mutating func array<T>(_ items: [T], _ body: (inout JSONWriter, T) -> Void) {
        beginValue()
        text += "["
        indent += 1
        needsComma.append(false)
        for item in items { body(&self, item) }
        let empty = needsComma.removeLast() == false
        indent -= 1
        if !empty { newline() }
        text += "]"
    }

    /// An array of scalars on one line (shapes, filter sizes).
    mutating func inlineArray(_ items: [String]) {
        raw("[" + items.joined(separator: ", ") + "]")
    }

    private mutating func key(_ k: String) {
        beginValue()
        text += Self.quoted(k) + ": "
        // The value follows on the same line.
        needsComma.append(false)
    }

    private mutating func endKey() { needsComma.removeLast() }

    /// Writes `"key": ` then lets `value` write exactly one value.
    mutating func field(_ k: String, _ value: (inout JSONWriter) -> Void) {
        key(k)
        let saved = needsComma
        needsComma[needsComma.count - 1] = false
        // Suppress the newline before the value: write into a fresh writer at the same indent.
        var inner = JSONWriter()
        inner.indent = indent
        value(&inner)
        needsComma = saved
        text += inner.text
        endKey()
    }

    mutating func field(_ k: String, string: String) { field(k) { $0.text += Self.quoted(string) } }
    mutating func field(_ k: String, int: Int) { field(k) { $0.text += String(int) } }
    mutating func field(_ k: String, double: Double) { field(k) { $0.text += Self.number(double) } }
    mutating func field(_ k: String, bool: Bool) { field(k) { $0.text += bool ? "true" : "false" } }
    mutating func field(_ k: String, ints: [Int]) { field(k) { $0.text += "[" + ints.map(String.init).joined(separator: ", ") + "]" } }
    mutating func fieldNull(_ k: String) { field(k) { $0.text += "null" } }
}
