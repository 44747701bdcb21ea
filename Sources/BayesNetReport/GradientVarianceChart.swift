import Foundation

/// `gradient-variance.json`, written by `bayesnet diagnose --gradient-variance`.
public struct GradientVarianceStudy: Decodable, Sendable, Equatable {
    public struct Row: Decodable, Sendable, Equatable {
        public var layer: String
        public var batch: Int
        /// `loc` or `rho`.
        public var parameter: String
        /// `flipout`, `shared` or `independent`.
        public var estimator: String
        /// `nil` where the file holds null (a value that was not finite).
        public var variance: Double?
        public var stderr: Double?

        public init(layer: String, batch: Int, parameter: String, estimator: String, variance: Double?, stderr: Double?) {
            self.layer = layer
            self.batch = batch
            self.parameter = parameter
            self.estimator = estimator
            self.variance = variance
            self.stderr = stderr
        }
    }

    public var spec: String?
    public var draws: Int?
    public var weights: String?
    public var rows: [Row]

    public init(spec: String?, draws: Int?, weights: String?, rows: [Row]) {
        self.spec = spec
        self.draws = draws
        self.weights = weights
        self.rows = rows
    }

    /// The panels a figure draws at most (layers × gradients), the points per line and the rows read: more is
    /// an edited file, and drawing it would take time and page size in proportion.
    static let maxPanels = 64
    static let maxBatches = 64
    static let maxRows = 20_000

    /// The (layer, parameter) pairs in the order the rows first name them, loc before rho.
    var panels: [(layer: String, parameter: String)] {
        var layers: [String] = [], seen: Set<String> = []
        for r in rows.prefix(Self.maxRows) where !seen.contains(r.layer) {
            seen.insert(r.layer)
            layers.append(r.layer)
            if layers.count > Self.maxPanels { break }
        }
        var out: [(String, String)] = []
        for layer in layers {
            for p in ["loc", "rho"] where rows.contains(where: { $0.layer == layer && $0.parameter == p }) {
                out.append((layer, p))
            }
        }
        return Array(out.prefix(Self.maxPanels))
    }

    /// One estimator's (batch, variance, stderr) points in a panel, by batch, positive variances only (log axes).
    func points(layer: String, parameter: String, estimator: String) -> [(batch: Double, variance: Double, stderr: Double)] {
        rows.prefix(Self.maxRows)
            .filter { $0.layer == layer && $0.parameter == parameter && $0.estimator == estimator && $0.batch > 0 }
            .compactMap { r in
                guard let v = r.variance, v.isFinite, v > 0 else { return nil }
                let e = r.stderr.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil } ?? 0
                return (Double(r.batch), v, e)
            }
            .sorted { $0.batch < $1.batch }
            .prefix(Self.maxBatches)
            .map { $0 }
    }

    /// shared ÷ Flipout of the μ gradient at the largest batch both measured, per layer.
    public func locAdvantage() -> [(layer: String, batch: Int, ratio: Double)] {
        panels.filter { $0.parameter == "loc" }.compactMap { panel in
            let flipout = points(layer: panel.layer, parameter: "loc", estimator: "flipout")
            let shared = points(layer: panel.layer, parameter: "loc", estimator: "shared")
            guard let n = Set(flipout.map(\.batch)).intersection(shared.map(\.batch)).max(),
                  let f = flipout.first(where: { $0.batch == n }), let s = shared.first(where: { $0.batch == n }) else {
                return nil
            }
            return (panel.layer, Int(n), s.variance / f.variance)
        }
    }
}

/// The Flipout paper's figure (Wen et al., 2018, Figure 2): gradient variance against batch size on log-log
/// axes, one panel per layer and gradient, one line per estimator with ± one standard error.
public enum GradientVarianceFigure {
    /// Drawn in this order: the independent samples as a wide translucent band underneath, so that Flipout's
    /// line stays visible where it follows them.
    static let estimators: [(key: String, name: String, color: String, band: Bool)] = [
        ("independent", "independent samples per example", Palette.green, true),
        ("shared", "shared sample (reparameterization)", Palette.vermilion, false),
        ("flipout", "Flipout", Palette.blue, false),
    ]
    static let bandOpacity = 0.35

    public static func svg(_ study: GradientVarianceStudy, width: Double = 580) -> String {
        let panels = study.panels
        let columns = panels.contains { $0.parameter == "rho" } && panels.contains { $0.parameter == "loc" } ? 2 : 1
        let panelWidth = width / Double(columns), panelHeight = 250.0
        // One row per layer, its loc panel on the left and its rho panel on the right (one column: one per panel).
        var places: [(row: Int, column: Int)] = []
        var previous: String?
        for panel in panels {
            let row = places.last.map { columns == 1 || panel.layer != previous ? $0.row + 1 : $0.row } ?? 0
            places.append((row, columns == 2 && panel.parameter == "rho" ? 1 : 0))
            previous = panel.layer
        }
        let items = estimators.reversed().map {
            LegendItem(text: $0.name, color: $0.color, swatch: $0.band ? .band : .line, opacity: bandOpacity)
        }
        // The legend wraps the same way on any canvas of this width: measured on a scratch one.
        var scratch = SVGCanvas(width: width, height: 0)
        let legendBottom = scratch.legend(items, x: 12, y: 18, maxX: width - 12) + 8
        let rows = (places.last?.row ?? -1) + 1
        var c = SVGCanvas(width: width, height: legendBottom + Double(rows) * panelHeight)
        c.legend(items, x: 12, y: 18, maxX: width - 12)
        for (panel, place) in zip(panels, places) {
            drawPanel(&c, study: study, panel: panel, x: Double(place.column) * panelWidth,
                      y: legendBottom + Double(place.row) * panelHeight, width: panelWidth, height: panelHeight)
        }
        return c.render(label: "gradient variance against batch size" + (study.spec.map { " for \($0)" } ?? ""))
    }

    static func drawPanel(_ c: inout SVGCanvas, study: GradientVarianceStudy, panel: (layer: String, parameter: String),
                          x: Double, y: Double, width: Double, height: Double) {
        let series = estimators.map { ($0, study.points(layer: panel.layer, parameter: panel.parameter, estimator: $0.key)) }
        let all = series.flatMap(\.1)
        let title = panel.layer + (panel.parameter == "loc" ? ": kernel loc μ" : ": kernel scale ρ")
        c.text(title, x + width / 2 + 14, y + 14, anchor: .middle, size: 12, weight: "bold", cls: "panel-title")
        guard !all.isEmpty else {
            c.text("no positive variance to draw", x + width / 2, y + height / 2, anchor: .middle, size: 11)
            return
        }
        let low = all.map { $0.stderr < $0.variance ? $0.variance - $0.stderr : $0.variance }.min()!
        let high = all.map { $0.variance + $0.stderr }.max()!
        let yTicks = Ticks(logLow: low, high: high)
        let batches = Array(Set(all.map(\.batch))).sorted()
        let left = x + 14 + yTicks.maxLabelWidth(size: 10) + 8, right = x + width - 14
        let top = y + 26, bottom = y + height - 42
        let xScale = Scale(domain: (batches.first!, max(batches.last!, batches.first! * 2)), range: (left, right),
                           logarithmic: true)
        let yScale = Scale(yTicks, range: (bottom, top))
        for v in yTicks.values {
            c.line(left, yScale(v), right, yScale(v), stroke: Palette.grid)
            c.text(yTicks.label(v), left - 5, yScale(v) + 3.5, anchor: .end, size: 10, cls: "tick")
        }
        // Every measured batch size is a tick while they fit; otherwise every other one.
        let step = batches.count > Int((right - left) / 26) ? 2 : 1
        for (i, n) in batches.enumerated() where i % step == 0 {
            c.line(xScale(n), bottom, xScale(n), bottom + 4, stroke: Palette.axis)
            c.text(Format.integer(Int(n)), xScale(n), bottom + 16, anchor: .middle, size: 10, cls: "tick")
        }
        c.line(left, bottom, right, bottom, stroke: Palette.axis)
        c.line(left, top, left, bottom, stroke: Palette.axis)
        c.text("batch size", (left + right) / 2, bottom + 32, anchor: .middle, size: 11, cls: "axis-label")
        c.text("gradient variance", x + 10, (top + bottom) / 2, anchor: .middle, size: 11, rotate: -90, cls: "axis-label")
        for (estimator, points) in series where !points.isEmpty {
            let coordinates = points.map { (xScale($0.batch), yScale($0.variance)) }
            if coordinates.count > 1 {
                c.polyline(coordinates, stroke: estimator.color, width: estimator.band ? 8 : 2,
                           opacity: estimator.band ? bandOpacity : nil, cls: "series")
            }
            for p in points {
                let px = xScale(p.batch)
                if p.stderr > 0 {
                    let lo = p.stderr < p.variance ? p.variance - p.stderr : yTicks.low
                    c.line(px, yScale(lo), px, yScale(p.variance + p.stderr), stroke: estimator.color, width: 1.2,
                           cls: "error-bar")
                }
                if !estimator.band { c.circle(px, yScale(p.variance), r: 2.6, fill: estimator.color) }
            }
        }
    }
}
