import Foundation

/// Escapes text for HTML and SVG content and attribute values.
func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for ch in text {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(ch)
        }
    }
    return out
}

/// Number formatting shared by charts, tables and captions (locale-independent).
enum Format {
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var text = String(format: "%.\(max(0, decimals))f", value)
        if text.hasPrefix("-"), Double(text) == 0 { text.removeFirst() }
        return text
    }

    /// Integers with thousands separators: 61,706.
    static func integer(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Four significant digits for small figures such as a penalty weight (6.667e-4).
    static func significant(_ value: Double, _ digits: Int = 4) -> String {
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e-3 && magnitude < 1e6 {
            let decimals = max(0, digits - 1 - Int(floor(log10(magnitude))))
            var text = fixed(value, decimals)
            if text.contains(".") {
                while text.hasSuffix("0") { text.removeLast() }
                if text.hasSuffix(".") { text.removeLast() }
            }
            return text
        }
        return String(format: "%.\(digits - 1)e", value)
    }

    static func seconds(_ s: Double) -> String {
        // Beyond a million minutes (or not a number) whole minutes stop being readable, and Int would trap.
        if !(s < 60 * 1e6) { return significant(s) + " s" }
        if s < 60 { return fixed(s, s < 10 ? 2 : 1) + " s" }
        let minutes = Int(s / 60)
        return "\(minutes) min " + fixed(s - Double(minutes) * 60, 0) + " s"
    }
}

/// Rough width of a label in the page's sans-serif font, used to lay out legends and avoid overlaps.
func textWidth(_ text: String, size: Double) -> Double { Double(text.count) * size * 0.62 }

/// Tick positions at 1, 2 or 5 times a power of ten, covering [low, high].
struct Ticks {
    var values: [Double]
    var decimals: Int
    var low: Double { values.first ?? 0 }
    var high: Double { values.last ?? 1 }

    /// Bounds beyond ±limit are cut to it, so that the span stays finite.
    static let limit = 1e300

    init(low: Double, high: Double, target: Int = 5, integer: Bool = false) {
        var lo = low, hi = high
        if !(lo.isFinite && hi.isFinite) { lo = 0; hi = 1 }
        lo = min(max(lo, -Self.limit), Self.limit)
        hi = min(max(hi, -Self.limit), Self.limit)
        if hi < lo { swap(&lo, &hi) }
        // A span within a billionth of its values' size counts as one value: a step finer than that could be
        // lost to rounding when added to them.
        if hi - lo < max(1e-12, max(abs(lo), abs(hi)) * 1e-9) {
            // At least 1e-12: a tenth of a subnormal value is no wider than the value, and a zero step follows.
            let pad = lo == 0 ? 1 : max(abs(lo) * 0.1, 1e-12)
            lo -= pad; hi += pad
            if low >= 0 && lo < 0 { lo = 0 }
        }
        let raw = (hi - lo) / Double(max(1, target))
        let magnitude = pow(10, floor(log10(raw)))
        let normalized = raw / magnitude
        var step = (normalized < 1.5 ? 1 : normalized < 3 ? 2 : normalized < 7 ? 5 : 10) * magnitude
        if integer { step = max(1, step.rounded()) }
        let first = floor(lo / step + 1e-9) * step
        let last = ceil(hi / step - 1e-9) * step
        let count = Int(((last - first) / step).rounded()) + 1
        self.values = (0..<max(1, count)).map { i in
            let v = first + Double(i) * step
            return abs(v) < step * 1e-9 ? 0 : v
        }
        self.decimals = max(0, -Int(floor(log10(step) + 1e-9)))
    }

    /// Ticks at 1, 2 and 5 times powers of ten (only the powers when the range spans many decades),
    /// for a logarithmic axis; both bounds must be positive.
    init(logLow low: Double, high: Double) {
        // Powers of ten stay normal doubles (10^±300), and a range over many decades keeps about ten of them.
        let lo = min(300, max(-300, Int(floor(log10(low) + 1e-9))))
        let hi = min(300, max(lo, Int(ceil(log10(high) - 1e-9))))
        let multiples: [Double] = hi - lo <= 3 ? [1, 2, 5] : [1]
        let stride = max(1, (hi - lo + 9) / 10)
        var candidates: [Double] = []
        for exponent in Swift.stride(from: lo, through: hi + stride - 1, by: stride) where exponent <= 300 {
            for m in multiples { candidates.append(m * pow(10, Double(exponent))) }
        }
        let first = candidates.last { $0 <= low * (1 + 1e-9) } ?? candidates[0]
        let last = candidates.first { $0 >= high * (1 - 1e-9) } ?? candidates[candidates.count - 1]
        values = candidates.filter { $0 >= first && $0 <= last }
        if values.count < 2 { values = [first, first * 10] }
        decimals = 0
        logarithmic = true
    }

    var logarithmic = false

    /// Fixed-point labels, or scientific ones (with as many digits as tell the ticks apart) for values too
    /// large or steps too fine to write out, which would widen the margin past the chart.
    func label(_ v: Double) -> String {
        if logarithmic {
            if v < 1e-4 || v >= 1e7 { return String(format: "%.0e", v) }
            return Format.fixed(v, max(0, -Int(floor(log10(v) + 1e-9))))
        }
        let largest = values.map(abs).max() ?? 0
        guard decimals > 6 || largest >= 1e9, values.count > 1 else { return Format.fixed(v, decimals) }
        let step = (values[values.count - 1] - values[0]) / Double(values.count - 1)
        let ratio = largest / step
        let digits = ratio.isFinite && ratio >= 1 ? min(17, Int(ceil(log10(ratio))) + 1) : 1
        return String(format: "%.\(digits - 1)e", v)
    }

    func maxLabelWidth(size: Double) -> Double { values.map { textWidth(label($0), size: size) }.max() ?? 0 }
}

/// A linear map from data to pixels.
struct Scale {
    var domain: (Double, Double)
    var range: (Double, Double)
    var logarithmic = false

    /// The scale of an axis with these ticks.
    init(_ ticks: Ticks, range: (Double, Double)) {
        self.init(domain: (ticks.low, ticks.high), range: range, logarithmic: ticks.logarithmic)
    }

    init(domain: (Double, Double), range: (Double, Double), logarithmic: Bool = false) {
        self.domain = domain
        self.range = range
        self.logarithmic = logarithmic
    }

    func callAsFunction(_ v: Double) -> Double {
        let f: (Double) -> Double = logarithmic ? { log10(max($0, 1e-300)) } : { $0 }
        let span = f(domain.1) - f(domain.0)
        let t = span == 0 ? 0.5 : (f(v) - f(domain.0)) / span
        return range.0 + t * (range.1 - range.0)
    }
}

/// Accumulates SVG elements; coordinates are rounded to 0.1 px to keep the page small.
struct SVGCanvas {
    let width: Double
    let height: Double
    private(set) var elements: [String] = []

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// Coordinates far off the canvas (odd values in a run folder) are cut to ±100,000 px, and a coordinate
    /// that is not a number is drawn at 0, so the SVG stays well-formed.
    static func n(_ v: Double) -> String {
        let clamped = v.isNaN ? 0 : min(max(v, -1e5), 1e5)
        let r = (clamped * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    mutating func raw(_ element: String) { elements.append(element) }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String,
                       width: Double = 1, dash: String? = nil, cls: String? = nil) {
        var s = "<line x1=\"\(Self.n(x1))\" y1=\"\(Self.n(y1))\" x2=\"\(Self.n(x2))\" y2=\"\(Self.n(y2))\" "
            + "stroke=\"\(stroke)\" stroke-width=\"\(Self.n(width))\""
        if let dash { s += " stroke-dasharray=\"\(dash)\"" }
        if let cls { s += " class=\"\(cls)\"" }
        elements.append(s + "/>")
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String,
                       opacity: Double? = nil, stroke: String? = nil, cls: String? = nil, title: String? = nil) {
        var s = "<rect x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" width=\"\(Self.n(max(0, w)))\" "
            + "height=\"\(Self.n(max(0, h)))\" fill=\"\(fill)\""
        if let opacity { s += " fill-opacity=\"\(opacity)\"" }
        if let stroke { s += " stroke=\"\(stroke)\" stroke-width=\"1\"" }
        if let cls { s += " class=\"\(cls)\"" }
        if let title { elements.append(s + "><title>\(escape(title))</title></rect>") } else { elements.append(s + "/>") }
    }

    mutating func circle(_ x: Double, _ y: Double, r: Double, fill: String) {
        elements.append("<circle cx=\"\(Self.n(x))\" cy=\"\(Self.n(y))\" r=\"\(Self.n(r))\" fill=\"\(fill)\"/>")
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 2, dash: String? = nil,
                           opacity: Double? = nil, cls: String? = nil) {
        let coords = points.map { "\(Self.n($0.0)),\(Self.n($0.1))" }.joined(separator: " ")
        var s = "<polyline points=\"\(coords)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(Self.n(width))\" "
            + "stroke-linejoin=\"round\""
        if let dash { s += " stroke-dasharray=\"\(dash)\"" }
        if let opacity { s += " stroke-opacity=\"\(opacity)\"" }
        if let cls { s += " class=\"\(cls)\"" }
        elements.append(s + "/>")
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(_ content: String, _ x: Double, _ y: Double, anchor: Anchor = .start, size: Double = 12,
                       fill: String = "#333", weight: String? = nil, rotate: Double? = nil, cls: String? = nil) {
        var s = "<text x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" font-size=\"\(Self.n(size))\" fill=\"\(fill)\""
        if anchor != .start { s += " text-anchor=\"\(anchor.rawValue)\"" }
        if let weight { s += " font-weight=\"\(weight)\"" }
        if let rotate { s += " transform=\"rotate(\(Self.n(rotate)) \(Self.n(x)) \(Self.n(y)))\"" }
        if let cls { s += " class=\"\(cls)\"" }
        elements.append(s + ">\(escape(content))</text>")
    }

    func render(label: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.n(width))\" height=\"\(Self.n(height))\" "
            + "viewBox=\"0 0 \(Self.n(width)) \(Self.n(height))\" role=\"img\" aria-label=\"\(escape(label))\">\n"
            + elements.joined(separator: "\n") + "\n</svg>"
    }
}

/// One legend entry: a line, dashed line, bar, dot or band (a wide translucent line) swatch and its text.
struct LegendItem {
    enum Swatch { case line, dashed, bar, dot, band }
    var text: String
    var color: String
    var swatch: Swatch
    var opacity: Double = 1
}

extension SVGCanvas {
    /// Lays legend items left to right from `x`, wrapping before `maxX`; returns the y below the legend.
    @discardableResult
    mutating func legend(_ items: [LegendItem], x: Double, y: Double, maxX: Double, size: Double = 12) -> Double {
        var cx = x, cy = y
        for item in items {
            let w = 22 + textWidth(item.text, size: size)
            if cx + w > maxX && cx > x { cx = x; cy += size + 8 }
            switch item.swatch {
            case .line: line(cx, cy - 4, cx + 16, cy - 4, stroke: item.color, width: 2.5)
            case .band: polyline([(cx, cy - 4), (cx + 16, cy - 4)], stroke: item.color, width: 7, opacity: item.opacity)
            case .dashed: line(cx, cy - 4, cx + 16, cy - 4, stroke: item.color, width: 2, dash: "4 3")
            case .bar: rect(cx + 2, cy - 10, 12, 11, fill: item.color, opacity: item.opacity)
            case .dot: circle(cx + 8, cy - 4, r: 4, fill: item.color)
            }
            text(item.text, cx + 21, cy, size: size, cls: "legend")
            cx += w + 16
        }
        return cy + 6
    }
}
