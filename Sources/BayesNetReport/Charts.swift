import BayesNetFormats
import Foundation

/// Colours chosen to stay apart for the common kinds of colour blindness (Okabe–Ito).
enum Palette {
    static let blue = "#0072B2"
    static let orange = "#E69F00"
    static let green = "#009E73"
    static let vermilion = "#D55E00"
    static let purple = "#CC79A7"
    static let grey = "#666666"
    static let axis = "#444444"
    static let grid = "#e4e4e4"
}

struct LineSeries {
    var name: String
    var points: [(x: Double, y: Double)]
    var color: String
    var onRightAxis = false
    var dashed = false
}

/// A line chart of one or more series against a shared x axis, with an optional right-hand y axis.
struct LineChart {
    var xLabel: String
    var yLabel: String
    var rightLabel: String?
    var series: [LineSeries]
    /// Keeps the left axis inside these bounds (e.g. 0...1 for accuracies).
    var leftBounds: ClosedRange<Double>?
    /// Lets the left axis turn logarithmic when its positive values span more than a factor of 20, so
    /// that an NLL far below a KL-dominated loss still shows its shape.
    var allowLogarithmicLeft = false
    var width = 580.0
    var height = 330.0

    func svg(label: String) -> String {
        var c = SVGCanvas(width: width, height: height)
        let hasRight = rightLabel != nil && series.contains { $0.onRightAxis }

        func yTicks(_ points: [(x: Double, y: Double)], bounds: ClosedRange<Double>?) -> Ticks {
            let ys = points.map(\.y)
            var lo = ys.min() ?? 0, hi = ys.max() ?? 1
            if lo >= 0 && lo < (hi - lo) * 0.5 { lo = 0 }   // start at zero unless that squashes the curves
            var ticks = Ticks(low: lo, high: hi, target: 5)
            if let bounds, ticks.low < bounds.lowerBound || ticks.high > bounds.upperBound {
                ticks = Ticks(low: max(lo, bounds.lowerBound), high: min(hi, bounds.upperBound), target: 5)
                ticks.values = ticks.values.filter { bounds.contains($0) }
            }
            return ticks
        }
        let leftPoints = series.filter { !$0.onRightAxis || !hasRight }.flatMap(\.points)
        let leftYs = leftPoints.map(\.y)
        let leftTicks: Ticks
        if allowLogarithmicLeft, let lo = leftYs.min(), let hi = leftYs.max(), lo > 0, hi / lo > 20 {
            leftTicks = Ticks(logLow: lo, high: hi)
        } else {
            leftTicks = yTicks(leftPoints, bounds: leftBounds)
        }
        let rightTicks = hasRight ? yTicks(series.filter(\.onRightAxis).flatMap(\.points), bounds: nil) : nil
        // Margins wide enough for the longest tick label plus the rotated axis title.
        let left = 34 + leftTicks.maxLabelWidth(size: 11) + 8
        let right = width - (rightTicks.map { 34 + $0.maxLabelWidth(size: 11) + 10 } ?? 20)

        let legendItems = series.map {
            LegendItem(text: $0.name + ($0.onRightAxis && hasRight ? " (right axis)" : ""), color: $0.color,
                       swatch: $0.dashed ? .dashed : .line)
        }
        let top = c.legend(legendItems, x: left, y: 18, maxX: right) + 12
        let bottom = height - 52

        let xs = series.flatMap { $0.points }.map(\.x)
        let xTicks = Ticks(low: xs.min() ?? 1, high: xs.max() ?? 1,
                           target: min(8, Int((right - left) / 50)), integer: true)
        let xScale = Scale(domain: (xTicks.low, xTicks.high), range: (left, right))
        let leftScale = Scale(leftTicks, range: (bottom, top))

        for v in leftTicks.values {
            let y = leftScale(v)
            c.line(left, y, right, y, stroke: Palette.grid)
            c.text(leftTicks.label(v), left - 7, y + 4, anchor: .end, size: 11, cls: "tick")
        }
        for v in xTicks.values {
            let x = xScale(v)
            c.line(x, bottom, x, bottom + 5, stroke: Palette.axis)
            c.text(xTicks.label(v), x, bottom + 18, anchor: .middle, size: 11, cls: "tick")
        }
        c.line(left, bottom, right, bottom, stroke: Palette.axis)
        c.line(left, top, left, bottom, stroke: Palette.axis)
        c.text(xLabel, (left + right) / 2, height - 12, anchor: .middle, size: 12, cls: "axis-label")
        c.text(yLabel + (leftTicks.logarithmic ? " (log scale)" : ""), 16, (top + bottom) / 2, anchor: .middle,
               size: 12, rotate: -90, cls: "axis-label")

        var rightScale: Scale?
        if let ticks = rightTicks, let rightLabel {
            let rightSeries = series.filter(\.onRightAxis)
            let scale = Scale(domain: (ticks.low, ticks.high), range: (bottom, top))
            let color = rightSeries.first?.color ?? Palette.axis
            c.line(right, top, right, bottom, stroke: color)
            for v in ticks.values {
                let y = scale(v)
                c.line(right, y, right + 5, y, stroke: color)
                c.text(ticks.label(v), right + 8, y + 4, size: 11, fill: color, cls: "tick")
            }
            c.text(rightLabel, width - 12, (top + bottom) / 2, anchor: .middle, size: 12, fill: color, rotate: 90,
                   cls: "axis-label")
            rightScale = scale
        }

        for s in series {
            let yScale = s.onRightAxis ? (rightScale ?? leftScale) : leftScale
            let points = s.points.map { (xScale($0.x), yScale($0.y)) }
            if points.count > 1 {
                c.polyline(points, stroke: s.color, width: 2.2, dash: s.dashed ? "6 4" : nil, cls: "series")
            }
            if points.count <= 40 { for p in points { c.circle(p.0, p.1, r: 2.6, fill: s.color) } }
        }
        return c.render(label: label)
    }
}

struct HistogramGroup {
    var name: String
    var values: [Double]
    var color: String
}

/// Histograms of several groups over the same bins, each normalised to its own size so that a small
/// group (the wrong predictions) stays visible next to a large one.
struct GroupedHistogram {
    var xLabel: String
    var groups: [HistogramGroup]
    var bins = 20
    var width = 580.0
    var height = 320.0

    /// Per group, the fraction of its values in each bin, and the bins' upper edge.
    func fractions() -> (fractions: [[Double]], upper: Double) {
        let maxValue = groups.flatMap(\.values).max() ?? 0
        let upper = Ticks(low: 0, high: max(maxValue, 1e-3), target: 5).high
        let fractions = groups.map { group -> [Double] in
            var counts = [Double](repeating: 0, count: bins)
            for v in group.values {
                // Clamped before conversion: a negative or huge value in an edited file is past Int's range here.
                let position = min(Double(bins - 1), max(0, v / upper * Double(bins)))
                counts[Int(position.isNaN ? 0 : position)] += 1
            }
            let n = Double(group.values.count)
            return n > 0 ? counts.map { $0 / n } : counts
        }
        return (fractions, upper)
    }

    func svg(label: String) -> String {
        var c = SVGCanvas(width: width, height: height)
        let (fractions, upper) = fractions()
        let yTicks = Ticks(low: 0, high: max(fractions.flatMap { $0 }.max() ?? 0, 0.01), target: 5)
        let left = 34 + yTicks.maxLabelWidth(size: 11) + 8, right = width - 20
        let items = groups.map {
            LegendItem(text: "\($0.name) (\(Format.integer($0.values.count)))", color: $0.color, swatch: .bar,
                       opacity: 0.85)
        }
        let top = c.legend(items, x: left, y: 18, maxX: right) + 12
        let bottom = height - 52
        let xTicks = Ticks(low: 0, high: upper, target: 6)
        let xScale = Scale(domain: (0, upper), range: (left, right))
        let yScale = Scale(domain: (0, yTicks.high), range: (bottom, top))

        for v in yTicks.values {
            let y = yScale(v)
            c.line(left, y, right, y, stroke: Palette.grid)
            c.text(yTicks.label(v), left - 7, y + 4, anchor: .end, size: 11, cls: "tick")
        }
        let binWidth = (right - left) / Double(bins)
        let barWidth = binWidth * 0.84 / Double(max(1, groups.count))
        for (g, group) in groups.enumerated() {
            for (b, fraction) in fractions[g].enumerated() where fraction > 0 {
                let x = left + Double(b) * binWidth + binWidth * 0.08 + Double(g) * barWidth
                let y = yScale(fraction)
                let lo = Double(b) * upper / Double(bins), hi = Double(b + 1) * upper / Double(bins)
                c.rect(x, y, barWidth, bottom - y, fill: group.color, opacity: 0.85, cls: "bar",
                       title: "\(group.name), \(Format.fixed(lo, 3))–\(Format.fixed(hi, 3)): "
                           + Format.fixed(fraction * 100, 1) + "%")
            }
        }
        for v in xTicks.values {
            let x = xScale(v)
            c.line(x, bottom, x, bottom + 5, stroke: Palette.axis)
            c.text(xTicks.label(v), x, bottom + 18, anchor: .middle, size: 11, cls: "tick")
        }
        c.line(left, bottom, right, bottom, stroke: Palette.axis)
        c.line(left, top, left, bottom, stroke: Palette.axis)
        c.text(xLabel, (left + right) / 2, height - 12, anchor: .middle, size: 12, cls: "axis-label")
        c.text("fraction of the group", 16, (top + bottom) / 2, anchor: .middle, size: 12, rotate: -90,
               cls: "axis-label")
        return c.render(label: label)
    }
}

/// Accuracy against confidence in equal-width bins, with each bin's mean confidence marked and,
/// in a panel below, how many examples fell in each bin.
struct ReliabilityDiagram {
    var reliability: RunSummary.Reliability
    var width = 580.0
    var height = 440.0

    func svg(label: String) -> String {
        var c = SVGCanvas(width: width, height: height)
        let left = 70.0, right = width - 20
        let items = [
            LegendItem(text: "accuracy", color: Palette.blue, swatch: .bar, opacity: 0.85),
            LegendItem(text: "mean confidence", color: Palette.vermilion, swatch: .line),
            LegendItem(text: "perfect calibration", color: Palette.grey, swatch: .dashed),
        ]
        let top = c.legend(items, x: left, y: 18, maxX: right) + 12
        // Laid out from the bottom up so that a wrapped legend shrinks the main panel instead of
        // pushing the axis labels into each other.
        let countBottom = height - 50, countTop = countBottom - 70
        let mainBottom = countTop - 26
        let bins = max(1, reliability.bins)
        let x = Scale(domain: (0, 1), range: (left, right))
        let y = Scale(domain: (0, 1), range: (mainBottom, top))
        let binWidth = (right - left) / Double(bins)

        let yTicks = Ticks(low: 0, high: 1, target: 5)
        for v in yTicks.values {
            c.line(left, y(v), right, y(v), stroke: Palette.grid)
            c.text(yTicks.label(v), left - 7, y(v) + 4, anchor: .end, size: 11, cls: "tick")
        }
        for b in 0..<bins {
            let x0 = left + Double(b) * binWidth + 1.5
            let count = b < reliability.count.count ? reliability.count[b] : 0
            guard count > 0, b < reliability.accuracy.count, let accuracy = reliability.accuracy[b] else { continue }
            // Fractions outside 0...1 (an edited file) are drawn at the panel's edge; the title keeps the value.
            let shownAccuracy = min(1, max(0, accuracy))
            c.rect(x0, y(shownAccuracy), binWidth - 3, mainBottom - y(shownAccuracy), fill: Palette.blue, opacity: 0.85,
                   cls: "bin", title: "bin \(b + 1): accuracy \(Format.fixed(accuracy, 3)), \(count) examples")
            if b < reliability.confidence.count, let confidence = reliability.confidence[b] {
                let shown = min(1, max(0, confidence))
                c.line(x0 - 1, y(shown), x0 + binWidth - 2, y(shown), stroke: Palette.vermilion, width: 3,
                       cls: "confidence")
            }
        }
        c.line(x(0), y(0), x(1), y(1), stroke: Palette.grey, width: 1.5, dash: "5 4")
        c.line(left, mainBottom, right, mainBottom, stroke: Palette.axis)
        c.line(left, top, left, mainBottom, stroke: Palette.axis)
        c.text("accuracy", 16, (top + mainBottom) / 2, anchor: .middle, size: 12, rotate: -90, cls: "axis-label")

        // The counts panel: bars scaled to the largest bin, each labelled with its count.
        let maxCount = max(1, reliability.count.max() ?? 1)
        let countScale = Scale(domain: (0, Double(maxCount)), range: (countBottom, countTop + 14))
        for b in 0..<min(bins, reliability.count.count) {
            let count = reliability.count[b]
            let x0 = left + Double(b) * binWidth + 1.5
            if count > 0 {
                c.rect(x0, countScale(Double(count)), binWidth - 3, countBottom - countScale(Double(count)),
                       fill: Palette.grey, opacity: 0.6)
            }
            let labelSize = min(10.5, (binWidth - 2) / (Double(String(count).count) * 0.62))
            // Bins too narrow for a readable count (hundreds of them) go without; SVG has no negative font size.
            guard labelSize >= 3 else { continue }
            c.text(String(count), x0 + (binWidth - 3) / 2, countScale(Double(count)) - 3, anchor: .middle,
                   size: labelSize, fill: count > 0 ? "#333" : "#999", cls: "bin-count")
        }
        c.line(left, countBottom, right, countBottom, stroke: Palette.axis)
        c.text("examples", 16, (countTop + countBottom) / 2, anchor: .middle, size: 12, rotate: -90,
               cls: "axis-label")
        let xTicks = Ticks(low: 0, high: 1, target: 5)
        for v in xTicks.values {
            c.line(x(v), countBottom, x(v), countBottom + 5, stroke: Palette.axis)
            c.text(xTicks.label(v), x(v), countBottom + 18, anchor: .middle, size: 11, cls: "tick")
        }
        c.text("confidence (predictive probability of the predicted class)", (left + right) / 2, height - 12,
               anchor: .middle, size: 12, cls: "axis-label")
        return c.render(label: label)
    }
}
