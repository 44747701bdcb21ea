import BayesNetFormats
import Foundation

/// Builds the report's HTML. Every figure quoted from summary.json goes through `number`, which tags it
/// with its key and exact value so that the page can be checked against the file.
struct ReportPage {
    var run: RunFolder
    static let chartWidth = 560.0

    var summary: RunSummary { run.summary }

    func number(_ key: String, _ value: Double, decimals: Int) -> String {
        "<span class=\"num\" data-key=\"\(key)\" data-value=\"\(value)\">\(Format.fixed(value, decimals))</span>"
    }

    func number(_ key: String, _ value: Int) -> String {
        "<span class=\"num\" data-key=\"\(key)\" data-value=\"\(value)\">\(Format.integer(value))</span>"
    }

    func html() -> String {
        var sections: [String] = [header(), headline()]
        sections.append(training())
        if summary.isCategorical || !run.predictions.isEmpty {
            sections.append(calibration())
            sections.append(uncertainty())
        }
        if let examples = uncertainExamples() { sections.append(examples) }
        if let studies = studies() { sections.append(studies) }
        if let variance = gradientVariance() { sections.append(variance) }
        sections.append(model())
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(summary.name)) · bayesnet run report</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <main>
        \(sections.joined(separator: "\n"))
        <footer>Drawn by <code>bayesnet report</code> from \(sourceFiles).</footer>
        </main>
        </body>
        </html>

        """
    }

    var sourceFiles: String {
        var files = [RunFolder.summaryFile, RunFolder.metricsFile]
        if !run.predictions.isEmpty { files.append(RunFolder.predictionsFile) }
        if run.testInputs != nil { files.append(RunFolder.testInputsFile) }
        return files.dropLast().joined(separator: ", ") + " and " + files.last!
    }

    func header() -> String {
        var facts: [String] = []
        func counted(_ key: String, _ n: Int, _ noun: String) -> String { number(key, n) + " " + noun + (n == 1 ? "" : "s") }
        if let e = summary.epochs { facts.append(counted("epochs", e, "epoch")) }
        if let s = summary.steps { facts.append(counted("steps", s, "step")) }
        if let t = summary.trainingExamples { facts.append(counted("training_examples", t, "training example")) }
        if let n = summary.evaluation?.examples { facts.append(counted("evaluation.examples", n, "test example")) }
        if let s = summary.evaluation?.samples { facts.append(counted("evaluation.samples", s, "posterior sample")) }
        if let w = summary.wallSeconds {
            facts.append("<span class=\"num\" data-key=\"wall_seconds\" data-value=\"\(w)\">\(Format.seconds(w))</span> wall time")
        }
        let warnings = summary.warnings.map { "<p class=\"warning\">warning: \(escape($0))</p>" }.joined()
        return """
        <header><h1>\(escape(summary.name))</h1>
        <p class="subtitle">\(facts.joined(separator: " · "))</p>\(warnings)</header>
        """
    }

    func headline() -> String {
        guard let p = summary.evaluation?.predictive else { return "" }
        let samples = summary.evaluation?.samples.map { " over \($0) samples" } ?? ""
        var cards: [(String, String)] = []
        func add(_ name: String, _ key: String, _ value: Double?, _ decimals: Int) {
            if let value { cards.append((name, number("evaluation.predictive." + key, value, decimals: decimals))) }
        }
        add("test accuracy", "accuracy", p.accuracy, 4)
        add("test NLL (nats)", "nll", p.nll, 4)
        add("ECE", "ece", p.ece, 4)
        add("Brier score", "brier", p.brier, 4)
        add("mean predictive entropy", "entropy", p.entropy, 4)
        add("mean mutual information", "mutual_information", p.mutualInformation, 4)
        add("test RMSE", "rmse", p.rmse, 4)
        add("predictive std", "predictive_std", p.predictiveStd, 4)
        add("CRPS", "crps", p.crps, 4)
        let body = cards.map { "<div class=\"card\"><div class=\"value\">\($0.1)</div><div class=\"name\">\($0.0)</div></div>" }
        return """
        <section id="headline"><div class="cards">\(body.joined())</div>
        <p class="note">Predictive figures on the test set: \(summary.isCategorical ? "the mean of the softmax outputs" : "the predictive distribution")\(samples).</p></section>
        """
    }

    func figure(id: String, svg: String, caption: String) -> String {
        "<figure class=\"chart\" id=\"\(id)\">\n\(svg)\n<figcaption>\(caption)</figcaption>\n</figure>"
    }

    func training() -> String {
        let m = run.metrics
        guard !m.isEmpty else {
            return "<section id=\"training\"><h2>Training</h2><p class=\"note\">metrics.jsonl holds no epochs.</p></section>"
        }
        func points(_ f: (EpochMetrics) -> Double?) -> [(x: Double, y: Double)] {
            m.compactMap { e in f(e).flatMap { $0.isFinite ? (Double(e.epoch), $0) : nil } }
        }
        let loss = LineChart(
            xLabel: "epoch", yLabel: "nats per example", rightLabel: "KL term (nats)",
            series: [
                LineSeries(name: "loss", points: points { $0.loss }, color: Palette.blue),
                LineSeries(name: "NLL", points: points { $0.nll }, color: Palette.orange, dashed: true),
                LineSeries(name: "penalty-weighted KL", points: points { $0.kl }, color: Palette.green, onRightAxis: true),
            ] + (m.contains { $0.testNll != nil }
                ? [LineSeries(name: "test NLL", points: points { $0.testNll }, color: Palette.purple, dashed: true)] : [])
              + (m.contains { $0.validationNll != nil }
                ? [LineSeries(name: "validation NLL", points: points { $0.validationNll }, color: Palette.purple, dashed: true)] : []),
            allowLogarithmicLeft: true,
            width: Self.chartWidth)
        var lossCaption = "Loss = NLL + penalty-weighted KL, means over each epoch's steps; the KL term is on the right axis."
        if m.contains(where: { $0.testNll != nil }) {
            lossCaption += " Test NLL: one posterior sample per test example after each epoch."
        }
        if m.contains(where: { $0.validationNll != nil }) {
            lossCaption += " Validation NLL: one posterior sample per held-out example after each epoch."
        }
        if let f = summary.final {
            var parts: [String] = []
            if let v = f.loss { parts.append("loss " + number("final.loss", v, decimals: 4)) }
            if let v = f.nll { parts.append("NLL " + number("final.nll", v, decimals: 4)) }
            if let v = f.kl { parts.append("KL term " + number("final.kl", v, decimals: 4)) }
            if !parts.isEmpty { lossCaption += " Final: " + parts.joined(separator: ", ") + "." }
        }
        var row = [figure(id: "chart-loss", svg: loss.svg(label: "loss, NLL and KL per epoch"), caption: lossCaption)]

        let train = points { $0.trainAccuracy }, test = points { $0.testAccuracy }, validation = points { $0.validationAccuracy }
        if !train.isEmpty || !test.isEmpty || !validation.isEmpty {
            var series: [LineSeries] = []
            if !train.isEmpty { series.append(LineSeries(name: "train accuracy", points: train, color: Palette.blue)) }
            if !test.isEmpty {
                series.append(LineSeries(name: "test accuracy", points: test, color: Palette.vermilion, dashed: true))
            }
            if !validation.isEmpty {
                series.append(LineSeries(name: "validation accuracy", points: validation, color: Palette.vermilion, dashed: true))
            }
            let chart = LineChart(xLabel: "epoch", yLabel: "accuracy", rightLabel: nil, series: series,
                                  leftBounds: 0...1, width: Self.chartWidth)
            var caption = "Train accuracy: the sampled network on each epoch's batches. Test accuracy: one posterior "
                + "sample per example after each epoch."
            if let a = summary.evaluation?.predictive?.accuracy {
                caption += " Final predictive accuracy"
                if let s = summary.evaluation?.samples { caption += " (" + number("evaluation.samples", s) + " samples)" }
                caption += ": " + number("evaluation.predictive.accuracy", a, decimals: 4) + "."
            }
            row.append(figure(id: "chart-accuracy", svg: chart.svg(label: "train and test accuracy per epoch"),
                              caption: caption))
        }
        return "<section id=\"training\"><h2>Training</h2><div class=\"row\">\n" + row.joined(separator: "\n")
            + "\n</div></section>"
    }

    func calibration() -> String {
        var row: [String] = []
        if let r = summary.evaluation?.reliability {
            let chart = ReliabilityDiagram(reliability: r, width: Self.chartWidth)
            var caption = "Reliability diagram: the accuracy of the test examples in each of "
                + number("evaluation.reliability.bins", r.bins) + " equal-width confidence bins (bars) against their "
                + "mean confidence (marks); below, the number of examples per bin."
            if let ece = summary.evaluation?.predictive?.ece {
                caption += " Expected calibration error (ECE) " + number("evaluation.predictive.ece", ece, decimals: 4)
                if let n = summary.evaluation?.examples { caption += " over " + number("evaluation.examples", n) + " test examples" }
                caption += "."
            }
            row.append(figure(id: "chart-reliability", svg: chart.svg(label: "reliability diagram"), caption: caption))
        }
        row.append(evaluationTable())
        return "<section id=\"calibration\"><h2>Calibration</h2><div class=\"row\">\n" + row.joined(separator: "\n")
            + "\n</div></section>"
    }

    func evaluationTable() -> String {
        let p = summary.evaluation?.predictive, m = summary.evaluation?.posteriorMean
        let rows: [(String, String, KeyPath<RunSummary.Figures, Double?>)] = [
            ("accuracy", "accuracy", \.accuracy), ("NLL (nats)", "nll", \.nll), ("ECE", "ece", \.ece),
            ("Brier score", "brier", \.brier), ("mean entropy (nats)", "entropy", \.entropy),
            ("mean mutual information (nats)", "mutual_information", \.mutualInformation),
            ("RMSE", "rmse", \.rmse), ("predictive std", "predictive_std", \.predictiveStd), ("CRPS", "crps", \.crps),
        ]
        var body: [String] = []
        for (name, key, path) in rows {
            let a = p?[keyPath: path], b = m?[keyPath: path]
            if a == nil && b == nil { continue }
            let cellA = a.map { number("evaluation.predictive." + key, $0, decimals: 4) } ?? "—"
            let cellB = b.map { number("evaluation.posterior_mean." + key, $0, decimals: 4) } ?? "—"
            body.append("<tr><th>\(name)</th><td class=\"n\">\(cellA)</td><td class=\"n\">\(cellB)</td></tr>")
        }
        if let c = p?.coverage {
            for (i, (level, observed)) in zip(c.levels, c.observed).enumerated() where level.isFinite {
                let cell = number("evaluation.predictive.coverage.observed.\(i)", observed, decimals: 3)
                body.append("<tr><th>\(Format.fixed(level * 100, 0))% interval covers</th><td class=\"n\">\(cell)</td><td class=\"n\">—</td></tr>")
            }
        }
        let samples = summary.evaluation?.samples.map { "mean of \($0) sampled softmax outputs" } ?? "mean of sampled outputs"
        return """
        <div class="table-box"><table id="table-evaluation">
        <caption>Test-set figures</caption>
        <thead><tr><th>metric</th><th class="n">predictive</th><th class="n">posterior mean</th></tr></thead>
        <tbody>\(body.joined(separator: "\n"))</tbody></table>
        <p class="note">Predictive: \(samples). Posterior mean: one pass with every variational layer at its
        posterior mean. Mutual information = predictive entropy − expected entropy of the samples.</p></div>
        """
    }

    func uncertainty() -> String {
        let right = run.predictions.filter(\.correct), wrong = run.predictions.filter { !$0.correct }
        func chart(_ label: String, _ f: (Prediction) -> Double) -> String {
            GroupedHistogram(xLabel: label, groups: [
                HistogramGroup(name: "correct", values: right.map(f).filter(\.isFinite), color: Palette.blue),
                HistogramGroup(name: "wrong", values: wrong.map(f).filter(\.isFinite), color: Palette.vermilion),
            ], width: Self.chartWidth).svg(label: label + " histogram")
        }
        let split = "\(Format.integer(right.count)) correct and \(Format.integer(wrong.count)) wrong predictions, "
            + "each group's bars summing to one"
        var entropyCaption = "Predictive entropy per test example, \(split)."
        if let v = summary.evaluation?.predictive?.entropy {
            entropyCaption += " Mean: " + number("evaluation.predictive.entropy", v, decimals: 4) + " nats."
        }
        var miCaption = "Mutual information between prediction and weights (epistemic uncertainty), \(split)."
        if let v = summary.evaluation?.predictive?.mutualInformation {
            miCaption += " Mean: " + number("evaluation.predictive.mutual_information", v, decimals: 4) + " nats."
        }
        return """
        <section id="uncertainty"><h2>Uncertainty on the test set</h2><div class="row">
        \(figure(id: "chart-entropy", svg: chart("predictive entropy (nats)", \.entropy), caption: entropyCaption))
        \(figure(id: "chart-mutual-information", svg: chart("mutual information (nats)", \.mutualInformation), caption: miCaption))
        </div></section>
        """
    }

    /// `evaluate --ood` and `--shift`: entropy and MI in and out of distribution, and metrics against the shift.
    func studies() -> String? {
        var row: [String] = []
        if let o = run.ood {
            func values(_ v: [Double?]) -> [Double] { v.prefix(1_000_000).compactMap { $0 }.filter(\.isFinite) }
            func chart(_ label: String, _ inside: [Double?], _ outside: [Double?]) -> String {
                GroupedHistogram(xLabel: label, groups: [
                    HistogramGroup(name: "test set", values: values(inside), color: Palette.blue),
                    HistogramGroup(name: "out of distribution", values: values(outside), color: Palette.vermilion),
                ], width: Self.chartWidth).svg(label: label + " in and out of distribution")
            }
            func scores(_ s: OODStudy.Separation) -> String {
                "AUROC " + (s.auroc.map { Format.fixed($0, 4) } ?? "—") + ", AUPR " + (s.aupr.map { Format.fixed($0, 4) } ?? "—")
            }
            row.append(figure(id: "chart-ood-entropy", svg: chart("predictive entropy (nats)", o.in.entropy, o.out.entropy),
                              caption: "Predictive entropy of the test set and of the out-of-distribution inputs (each group's bars sum to one); as a detector of the latter: \(scores(o.entropy))."))
            row.append(figure(id: "chart-ood-mutual-information", svg: chart("mutual information (nats)", o.in.mutualInformation, o.out.mutualInformation),
                              caption: "Mutual information (epistemic uncertainty), the same two sets: \(scores(o.mutualInformation))."))
        }
        if let s = run.shift, !s.rows.isEmpty {
            func points(_ f: (ShiftStudy.Row) -> Double?) -> [(x: Double, y: Double)] {
                s.rows.prefix(1000).compactMap { r in
                    guard let x = r.level, let y = f(r), x.isFinite, y.isFinite else { return nil }
                    return (x, y)
                }
            }
            let chart = LineChart(xLabel: "\(s.kind) level", yLabel: "accuracy, ECE", rightLabel: "nats", series: [
                LineSeries(name: "accuracy", points: points { $0.accuracy }, color: Palette.blue),
                LineSeries(name: "ECE", points: points { $0.ece }, color: Palette.orange, dashed: true),
                LineSeries(name: "mean entropy", points: points { $0.entropy }, color: Palette.green, onRightAxis: true),
                LineSeries(name: "mean mutual information", points: points { $0.mutualInformation }, color: Palette.purple, onRightAxis: true, dashed: true),
            ], leftBounds: 0...1, width: Self.chartWidth)
            row.append(figure(id: "chart-shift", svg: chart.svg(label: "metrics against the \(s.kind) shift"),
                              caption: "The test set shifted by `\(escape(s.kind))` at each level: accuracy and ECE (left), mean predictive entropy and mutual information (right)."))
        }
        guard !row.isEmpty else { return nil }
        return "<section id=\"studies\"><h2>Shifted and unseen inputs</h2><div class=\"row\">\n" + row.joined(separator: "\n") + "\n</div></section>"
    }

    /// `diagnose --gradient-variance`: the Flipout paper's figure for this network.
    func gradientVariance() -> String? {
        guard let study = run.gradientVariance, !study.rows.isEmpty else { return nil }
        let draws = study.draws.map { "across \(Format.integer($0)) weight-noise draws " } ?? ""
        let at = study.weights == nil ? "the initial posterior" : "the posterior of \(escape(study.weights!))"
        var caption = "The variance \(draws)of each variational layer's data-term gradient (summed over the kernel, "
            + "± one standard error) against the minibatch size, at \(at): Flipout, one weight sample shared by the "
            + "batch, and an independent sample per example. Where Flipout follows the independent band and the "
            + "shared one levels off, Flipout's gradients are as good as one weight sample per example."
        let advantage = study.locAdvantage()
        if !advantage.isEmpty {
            caption += " Shared ÷ Flipout for μ at the largest batch: " + advantage.map {
                "\(escape($0.layer)) \(Format.significant($0.ratio, 3)) (N = \(Format.integer($0.batch)))"
            }.joined(separator: ", ") + "."
        }
        return "<section id=\"gradient-variance\"><h2>Gradient variance</h2><div class=\"row\">\n"
            + figure(id: "chart-gradient-variance", svg: GradientVarianceFigure.svg(study, width: Self.chartWidth),
                     caption: caption)
            + "\n</div></section>"
    }

    func uncertainExamples() -> String? {
        guard let inputs = run.testInputs, !run.predictions.isEmpty else { return nil }
        guard ImageGrid.imageGeometry(inputs) != nil else {
            return "<section id=\"uncertain-examples\"><h2>Most uncertain test examples</h2><p class=\"note\">"
                + "test-inputs.npy has example shape \(Array(inputs.shape.dropFirst())), not an image.</p></section>"
        }
        let shown = min(16, run.predictions.count)
        return """
        <section id="uncertain-examples"><h2>Most uncertain test examples</h2>
        <figure class="wide" id="chart-uncertain-examples">
        \(ImageGrid.html(inputs: inputs, predictions: run.predictions))
        <figcaption>The \(shown) test examples with the highest mutual information, highest first; \
        wrong predictions in red. Each image is scaled to its own range.</figcaption>
        </figure></section>
        """
    }

    func model() -> String {
        var rows: [String] = []
        for layer in summary.layers {
            let shape = layer.outputShape.map(String.init).joined(separator: " × ")
            let weight = layer.penaltyWeight.map { Format.significant($0) } ?? "—"
            rows.append("<tr class=\"layer\"><td>\(escape(layer.name))</td><td>\(escape(layer.type))</td>"
                + "<td class=\"n\">\(shape)</td><td class=\"n\">\(Format.integer(layer.parameters))</td>"
                + "<td class=\"n\">\(Format.integer(layer.macs))</td><td class=\"n\">\(weight)</td></tr>")
        }
        var foot = ""
        if let t = summary.totals {
            foot = "<tfoot><tr class=\"totals\"><th colspan=\"3\">total</th>"
                + "<td class=\"n\">\(number("totals.parameters", t.parameters))</td>"
                + "<td class=\"n\">\(number("totals.macs", t.macs))</td><td></td></tr></tfoot>"
        }
        var settings: [(String, String)] = []
        settings.append(("name", escape(summary.name)))
        if let v = summary.seed.map({ String($0) }) { settings.append(("seed", "<span class=\"num\" data-key=\"seed\" data-value=\"\(escape(v))\">\(escape(v))</span>")) }
        if let v = summary.specSha256 { settings.append(("spec SHA-256", "<code>\(escape(v))</code>")) }
        if let v = summary.threads { settings.append(("threads", number("threads", v))) }
        if let v = summary.wallSeconds { settings.append(("wall time", number("wall_seconds", v, decimals: 2) + " s")) }
        if let v = summary.trainSeconds { settings.append(("training time", number("train_seconds", v, decimals: 2) + " s")) }
        if let v = summary.epochs { settings.append(("epochs", number("epochs", v))) }
        if let v = summary.steps { settings.append(("optimizer steps", number("steps", v))) }
        if let v = summary.trainingExamples { settings.append(("training examples", number("training_examples", v))) }
        if let v = summary.evaluation?.samples { settings.append(("evaluation samples", number("evaluation.samples", v))) }
        if let v = summary.evaluation?.examples { settings.append(("test examples", number("evaluation.examples", v))) }
        let settingRows = settings.map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>" }
        return """
        <section id="model"><h2>Model and run</h2><div class="row">
        <div class="table-box"><table id="table-layers">
        <caption>Layers (as <code>bayesnet inspect</code> prints them)</caption>
        <thead><tr><th>layer</th><th>type</th><th class="n">output shape</th><th class="n">parameters</th>\
        <th class="n">MACs per example</th><th class="n">penalty weight</th></tr></thead>
        <tbody>\(rows.joined(separator: "\n"))</tbody>\(foot)</table></div>
        <div class="table-box"><table id="table-settings"><caption>Run settings</caption>
        <tbody>\(settingRows.joined(separator: "\n"))</tbody></table></div>
        </div></section>
        """
    }

    static let css = """
    *{box-sizing:border-box}
    body{margin:0;background:#f5f6f8;color:#222;font:15px/1.45 "DejaVu Sans",system-ui,-apple-system,"Segoe UI",sans-serif}
    main{max-width:1240px;margin:0 auto;padding:22px 24px 36px}
    h1{font-size:26px;margin:0 0 2px}
    .warning{color:#8a1c1c;background:#fdecea;border-left:4px solid #c62828;padding:6px 10px;margin:8px 0}
    h2{font-size:19px;margin:26px 0 12px;padding-bottom:4px;border-bottom:1px solid #d8d8d8}
    .subtitle{margin:0;color:#555}
    .note{font-size:13px;color:#555;margin:8px 0 0}
    .row{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start}
    figure{margin:0}
    figure.chart{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
    figure.chart svg{display:block;font-family:inherit}
    figure.chart figcaption{width:560px}
    figcaption{font-size:13px;color:#444;margin-top:6px}
    .cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}
    .card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 16px;min-width:170px}
    .card .value{font-size:22px;font-weight:bold}
    .card .name{font-size:13px;color:#555}
    .table-box{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 14px;flex:1 1 320px;min-width:0;max-width:600px}
    #model .table-box{flex:0 0 auto;max-width:none}
    table{border-collapse:collapse;font-size:14px}
    caption{text-align:left;font-weight:bold;padding:0 0 6px}
    th,td{padding:4px 12px;border-bottom:1px solid #e8e8e8;text-align:left;vertical-align:top}
    thead th{border-bottom:2px solid #ccc}
    .n{text-align:right;font-variant-numeric:tabular-nums}
    tfoot th,tfoot td{border-top:2px solid #ccc;border-bottom:none}
    code{font-family:"DejaVu Sans Mono",monospace;font-size:12.5px;word-break:break-all}
    .examples{display:grid;grid-template-columns:repeat(8,1fr);gap:10px}
    .example{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 4px;text-align:center}
    .example img{display:block;margin:0 auto 5px;image-rendering:pixelated;background:#000}
    .example figcaption{font-size:12px;margin:0;line-height:1.4}
    .example.wrong .pred{color:#c0392b;font-weight:bold}
    .example.wrong{border-color:#e3a59d}
    footer{margin-top:28px;font-size:12px;color:#777}
    """
}
