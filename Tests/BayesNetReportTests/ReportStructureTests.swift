import Foundation
import Testing
@testable import BayesNetReport

/// Renders a report from the fixture run folder and returns the folder (for summary.json) and the page.
func renderFixture(_ fixture: RunFolderFixture = RunFolderFixture()) throws -> (folder: URL, html: String) {
    let folder = temporaryFolder()
    try fixture.write(to: folder)
    return (folder, try Report.html(runDirectory: folder.path))
}

@Suite struct ReportStructureTests {
    @Test func everyChartIsPresentAsInlineSVG() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let page = HTMLProbe(html: html)
        for id in ["chart-loss", "chart-accuracy", "chart-reliability", "chart-entropy", "chart-mutual-information"] {
            let element = try #require(page.element(id: id), "missing \(id)")
            #expect(element.contains("<svg"), "\(id) has no SVG")
            #expect(page.caption(of: id)?.isEmpty == false, "\(id) has no caption")
        }
    }

    @Test func lossChartDrawsLossNLLTestNLLAndKLOnASecondAxis() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let chart = try #require(HTMLProbe(html: html).element(id: "chart-loss"))
        #expect(HTMLProbe(html: html).count("<polyline[^>]*class=\"series\"", in: chart) == 4)
        #expect(chart.contains(">test NLL</text>"))
        #expect(chart.contains(">loss</text>"))
        #expect(chart.contains(">NLL</text>"))
        #expect(chart.contains(">penalty-weighted KL (right axis)</text>"))
        #expect(chart.contains(">KL term (nats)</text>"))
    }

    @Test func accuracyChartDrawsTrainAndTestCurves() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let page = HTMLProbe(html: html)
        let chart = try #require(page.element(id: "chart-accuracy"))
        #expect(page.count("<polyline[^>]*class=\"series\"", in: chart) == 2)
        #expect(chart.contains(">train accuracy</text>"))
        #expect(chart.contains(">test accuracy</text>"))
        // One marker per epoch and series.
        #expect(page.count("<circle", in: chart) == 2 * RunFolderFixture().epochs)
    }

    @Test func reliabilityDiagramShowsTheSummaryBinCounts() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try readSummaryJSON(folder)
        let counts = summary.at("evaluation.reliability.count")?.array.compactMap(\.int) ?? []
        let page = HTMLProbe(html: html)
        let chart = try #require(page.element(id: "chart-reliability"))
        #expect(counts.count == 15)
        #expect(page.captures("class=\"bin-count\">([0-9]+)</text>", in: chart).map { Int($0)! } == counts)
        #expect(page.count("class=\"bin\"", in: chart) == counts.filter { $0 > 0 }.count)
    }

    @Test func reliabilityCaptionGivesTheSummaryECE() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try readSummaryJSON(folder)
        let page = HTMLProbe(html: html)
        let caption = try #require(page.caption(of: "chart-reliability"))
        let ece = try #require(page.taggedNumbers(in: caption).first { $0.key == "evaluation.predictive.ece" })
        #expect(Double(ece.value) == summary.at("evaluation.predictive.ece")?.number)
        #expect(caption.contains("ECE"))
    }

    @Test func everyQuotedFigureEqualsSummaryJSON() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try readSummaryJSON(folder)
        let tagged = HTMLProbe(html: html).taggedNumbers()
        let keys = Set(tagged.map(\.key))
        for key in ["final.loss", "final.nll", "final.kl", "evaluation.predictive.accuracy",
                    "evaluation.predictive.entropy", "evaluation.predictive.mutual_information",
                    "evaluation.samples", "evaluation.examples", "seed", "threads", "wall_seconds",
                    "totals.parameters", "totals.macs"] {
            #expect(keys.contains(key), "the page quotes no \(key)")
        }
        for figure in tagged {
            let expected = try #require(summary.at(figure.key)?.number, "\(figure.key) is not in summary.json")
            #expect(Double(figure.value) == expected, "\(figure.key): page \(figure.value), summary.json \(expected)")
            // The shown text is the value rounded to the decimals shown.
            let shown = figure.shown.replacingOccurrences(of: ",", with: "")
                .split(separator: " ").first.map(String.init) ?? ""
            let decimals = shown.split(separator: ".").dropFirst().first?.count ?? 0
            let displayed = try #require(Double(shown), "\(figure.key) shows \(figure.shown)")
            #expect(abs(displayed - expected) <= 0.5 * pow(10, -Double(decimals)) + 1e-12,
                    "\(figure.key) shows \(figure.shown) for \(expected)")
        }
    }

    @Test func captionsQuoteTheirFiguresFromSummaryJSON() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let page = HTMLProbe(html: html)
        let expectations = [
            "chart-loss": ["final.loss", "final.nll", "final.kl"],
            "chart-accuracy": ["evaluation.predictive.accuracy"],
            "chart-entropy": ["evaluation.predictive.entropy"],
            "chart-mutual-information": ["evaluation.predictive.mutual_information"],
        ]
        for (id, keys) in expectations {
            let caption = try #require(page.caption(of: id))
            #expect(Set(page.taggedNumbers(in: caption).map(\.key)).isSuperset(of: keys), "\(id): \(caption)")
        }
    }

    @Test func layerTableHasOneRowPerSummaryLayer() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try readSummaryJSON(folder)
        let layers = summary["layers"]?.array ?? []
        let page = HTMLProbe(html: html)
        let table = try #require(page.element(id: "table-layers"))
        let rows = page.captures("<tr class=\"layer\">(.*?)</tr>", in: table)
        #expect(rows.count == layers.count)
        for (row, layer) in zip(rows, layers) {
            let cells = page.captures("<td[^>]*>(.*?)</td>", in: row)
            #expect(cells[0] == layer["name"]?.string)
            #expect(cells[1] == layer["type"]?.string)
            #expect(cells[2] == (layer["output_shape"]?.array ?? []).compactMap(\.int).map(String.init).joined(separator: " × "))
            #expect(Int(cells[3].replacingOccurrences(of: ",", with: "")) == layer["parameters"]?.int)
            #expect(Int(cells[4].replacingOccurrences(of: ",", with: "")) == layer["macs"]?.int)
        }
        #expect(table.contains("class=\"totals\""))
    }

    @Test func settingsTableListsSeedHashWallTimeAndThreads() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try readSummaryJSON(folder)
        let page = HTMLProbe(html: html)
        let table = try #require(page.element(id: "table-settings"))
        #expect(table.contains(summary["spec_sha256"]?.string ?? "?"))
        let keys = Set(page.taggedNumbers(in: table).map(\.key))
        #expect(keys.isSuperset(of: ["seed", "threads", "wall_seconds", "train_seconds", "epochs", "steps"]))
    }

    @Test func histogramsSplitCorrectAndWrongPredictions() throws {
        let fixture = RunFolderFixture()
        let (folder, html) = try renderFixture(fixture)
        defer { try? FileManager.default.removeItem(at: folder) }
        let predictions = fixture.predictions()
        let right = predictions.filter(\.correct).count, wrong = predictions.count - right
        let page = HTMLProbe(html: html)
        for id in ["chart-entropy", "chart-mutual-information"] {
            let chart = try #require(page.element(id: id))
            #expect(chart.contains(">correct (\(right))</text>"))
            #expect(chart.contains(">wrong (\(wrong))</text>"))
        }
    }

    @Test func uncertainExamplesAreTheSixteenWithHighestMutualInformation() throws {
        let fixture = RunFolderFixture()
        let (folder, html) = try renderFixture(fixture)
        defer { try? FileManager.default.removeItem(at: folder) }
        let page = HTMLProbe(html: html)
        let grid = try #require(page.element(id: "chart-uncertain-examples"))
        let shown = page.captures("class=\"example [a-z]+\" data-index=\"([0-9]+)\"", in: grid).map { Int($0)! }
        let expected = fixture.predictions().sorted { $0.mutualInformation > $1.mutualInformation }.prefix(16).map(\.index)
        #expect(shown == Array(expected))
        #expect(page.count("<img src=\"data:image/png;base64,", in: grid) == 16)
    }

    @Test func pageIsSelfContained() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("<link"))
        #expect(!html.contains("url("))
        #expect(!html.contains("src=\"http"))
        #expect(!html.contains("href="))
    }

    @Test func nonImageInputsGetNoImageGrid() throws {
        var fixture = RunFolderFixture()
        fixture.inputShape = [10]
        let (folder, html) = try renderFixture(fixture)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(HTMLProbe(html: html).element(id: "chart-uncertain-examples") == nil)
        #expect(html.contains("not an image"))
    }

    @Test func runWithoutTestInputsStillRenders() throws {
        var fixture = RunFolderFixture()
        fixture.writeInputs = false
        let (folder, html) = try renderFixture(fixture)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(HTMLProbe(html: html).element(id: "chart-reliability") != nil)
        #expect(!html.contains("id=\"uncertain-examples\""))
    }

    @Test func rgbImagesAreDrawn() throws {
        var fixture = RunFolderFixture()
        fixture.inputShape = [6, 5, 3]
        let (folder, html) = try renderFixture(fixture)
        defer { try? FileManager.default.removeItem(at: folder) }
        let grid = try #require(HTMLProbe(html: html).element(id: "chart-uncertain-examples"))
        #expect(HTMLProbe(html: html).count("<img src=\"data:image/png;base64,", in: grid) == 16)
    }

    @Test func writeRendersIntoTheRunFolderAndLeavesNoTemporaryFile() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try RunFolderFixture().write(to: folder)
        try Data("old".utf8).write(to: folder.appendingPathComponent("report.html"))
        let path = try Report.write(runDirectory: folder.path)
        #expect(path == folder.appendingPathComponent("report.html").path)
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(written.hasPrefix("<!DOCTYPE html>"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    /// Writes the fixture run folder to $BAYESNET_REPORT_FIXTURE_DIR when set (scripts/screenshot-report.sh
    /// uses it for a synthetic run), else to a temporary folder; either way it must hold every file.
    @Test func fixtureFolderHoldsEveryRunFile() throws {
        let target = ProcessInfo.processInfo.environment["BAYESNET_REPORT_FIXTURE_DIR"]
        let folder = target.map { URL(fileURLWithPath: $0) } ?? temporaryFolder()
        defer { if target == nil { try? FileManager.default.removeItem(at: folder) } }
        try RunFolderFixture().write(to: folder)
        for file in ["spec.yaml", "metrics.jsonl", "summary.json", "predictions.csv", "test-inputs.npy"] {
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "\(file)")
        }
        let run = try RunFolder.load(path: folder.path)
        #expect(run.predictions.count == 297)
        #expect(run.testInputs?.shape == [297, 8, 8, 1])
    }
}

@Suite struct StudySectionTests {
    @Test func oodAndShiftStudiesAreDrawnWhenTheFolderHasThem() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try RunFolderFixture().write(to: folder)
        try Data(#"{"entropy": {"auroc": 0.91, "aupr": 0.8}, "mutual_information": {"auroc": 0.97, "aupr": 0.95}, "in": {"entropy": [0.1, 0.2], "mutual_information": [0.01, 0.02]}, "out": {"entropy": [1.5, 2.0], "mutual_information": [0.4, null]}}"#.utf8)
            .write(to: folder.appendingPathComponent("ood.json"))
        try Data(#"{"kind": "rotate", "rows": [{"level": 0, "accuracy": 0.9, "nll": 0.3, "ece": 0.02, "entropy": 0.3, "mutual_information": 0.05}, {"level": 90, "accuracy": 0.2, "nll": 3, "ece": 0.5, "entropy": 0.9, "mutual_information": 0.3}]}"#.utf8)
            .write(to: folder.appendingPathComponent("shift.json"))
        let html = try Report.html(runDirectory: folder.path)
        let page = HTMLProbe(html: html)
        for id in ["chart-ood-entropy", "chart-ood-mutual-information", "chart-shift"] {
            #expect(page.element(id: id)?.contains("<svg") == true, "missing \(id)")
        }
        #expect(page.caption(of: "chart-ood-mutual-information")?.contains("AUROC 0.9700") == true)
    }

    @Test func aDamagedStudyFileIsReportedByName() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try RunFolderFixture().write(to: folder)
        try Data("{".utf8).write(to: folder.appendingPathComponent("shift.json"))
        #expect(throws: ReportError.self) { _ = try Report.html(runDirectory: folder.path) }
    }

    @Test func aFolderWithoutStudiesHasNoStudySection() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(!html.contains("id=\"studies\""))
    }
}

@Suite struct GradientVarianceSectionTests {
    /// Two layers, loc and rho, three estimators, batches 1 and 8: the shape `diagnose --gradient-variance` writes.
    static let study: String = {
        var rows: [String] = []
        for layer in ["conv", "logits"] {
            for parameter in ["loc", "rho"] {
                for (estimator, factor) in [("flipout", 1.0), ("shared", 4.0), ("independent", 1.0)] {
                    for batch in [1, 8] {
                        let variance = batch == 1 ? 1.0 : factor / 8
                        rows.append(#"{"layer": "\#(layer)", "batch": \#(batch), "parameter": "\#(parameter)", "estimator": "\#(estimator)", "variance": \#(variance), "stderr": 0.01}"#)
                    }
                }
            }
        }
        return #"{"spec": "fixture", "seed": 1, "draws": 200, "groups": 20, "weights": null, "rows": ["# + rows.joined(separator: ", ") + "]}"
    }()

    @Test func theFigureIsDrawnWhenTheFolderHasTheStudy() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try RunFolderFixture().write(to: folder)
        try Data(Self.study.utf8).write(to: folder.appendingPathComponent("gradient-variance.json"))
        let page = HTMLProbe(html: try Report.html(runDirectory: folder.path))
        let chart = try #require(page.element(id: "chart-gradient-variance"))
        // Four panels (two layers × loc and rho), one line per estimator in each.
        #expect(page.count("class=\"series\"", in: chart) == 12)
        #expect(page.caption(of: "chart-gradient-variance")?.contains("conv 4 (N = 8)") == true)
    }

    @Test func aDamagedStudyIsReportedByName() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try RunFolderFixture().write(to: folder)
        try Data(#"{"rows": [{"layer": "conv"}]}"#.utf8).write(to: folder.appendingPathComponent("gradient-variance.json"))
        #expect {
            _ = try Report.html(runDirectory: folder.path)
        } throws: { error in
            "\(error)".contains("gradient-variance.json")
        }
    }

    @Test func aFolderWithoutTheStudyHasNoSection() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(!html.contains("id=\"gradient-variance\""))
    }
}
