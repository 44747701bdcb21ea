import BayesNetFormats
import Foundation
import Testing
@testable import BayesNetReport

/// Writes the fixture, lets `damage` break it, and returns the error that loading reports.
func loadError(_ damage: (URL) throws -> Void, fixture: RunFolderFixture = RunFolderFixture()) throws -> ReportError? {
    let folder = temporaryFolder("bad")
    defer { try? FileManager.default.removeItem(at: folder) }
    try fixture.write(to: folder)
    try damage(folder)
    do {
        _ = try RunFolder.load(path: folder.path)
        return nil
    } catch {
        return error
    }
}

func replace(_ file: String, in folder: URL, with text: String) throws {
    try Data(text.utf8).write(to: folder.appendingPathComponent(file))
}

func remove(_ file: String, in folder: URL) throws {
    try FileManager.default.removeItem(at: folder.appendingPathComponent(file))
}

@Suite struct RunFolderErrorTests {
    @Test func folderThatDoesNotExistIsNotARunFolder() throws {
        let path = temporaryFolder("absent").path
        #expect(throws: ReportError.notAFolder(path)) { try RunFolder.load(path: path) }
    }

    @Test func missingSummaryIsNamed() throws {
        let error = try #require(try loadError { try remove("summary.json", in: $0) })
        guard case .missingFile(_, "summary.json", _) = error else { Issue.record("got \(error)"); return }
        #expect(error.description.contains("has no summary.json"))
    }

    @Test func missingMetricsIsNamed() throws {
        let error = try #require(try loadError { try remove("metrics.jsonl", in: $0) })
        guard case .missingFile(_, "metrics.jsonl", _) = error else { Issue.record("got \(error)"); return }
    }

    @Test func missingPredictionsOfAClassifierIsNamed() throws {
        let error = try #require(try loadError { try remove("predictions.csv", in: $0) })
        guard case .missingFile(_, "predictions.csv", _) = error else { Issue.record("got \(error)"); return }
    }

    @Test func summaryThatIsNotJSONSaysSo() throws {
        let error = try #require(try loadError { try replace("summary.json", in: $0, with: "{\"name\": ") })
        #expect(error.description.hasSuffix("summary.json: not valid JSON"))
    }

    @Test func summaryWithoutANameNamesTheField() throws {
        let error = try #require(try loadError { try replace("summary.json", in: $0, with: "{\"layers\": []}") })
        #expect(error.description.hasSuffix("summary.json: missing field \"name\""))
    }

    @Test func summaryFieldOfTheWrongTypeGivesItsPath() throws {
        let error = try #require(try loadError { folder in
            let url = folder.appendingPathComponent("summary.json")
            let text = try String(contentsOf: url, encoding: .utf8)
            let broken = text.replacingOccurrences(of: "\"samples\": 50", with: "\"samples\": \"fifty\"")
            try Data(broken.utf8).write(to: url)
        })
        #expect(error.description.hasSuffix("summary.json: evaluation.samples: expected an integer"))
    }

    @Test func badMetricsLineGivesItsLineNumber() throws {
        let error = try #require(try loadError { folder in
            let url = folder.appendingPathComponent("metrics.jsonl")
            var lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
            lines[2] = "{\"loss\": 0.5}"
            try Data(lines.joined(separator: "\n").utf8).write(to: url)
        })
        #expect(error.description.hasSuffix("metrics.jsonl:3: missing field \"epoch\""))
    }

    @Test func predictionsHeaderLackingAColumnNamesIt() throws {
        let error = try #require(try loadError { try replace("predictions.csv", in: $0, with: "index,label,predicted\n0,1,1\n") })
        #expect(error.description.contains("predictions.csv:1: header lacks column(s) confidence, entropy"))
    }

    @Test func predictionWithANonNumberGivesLineAndColumn() throws {
        let error = try #require(try loadError { folder in
            let url = folder.appendingPathComponent("predictions.csv")
            var lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
            var fields = lines[4].split(separator: ",").map(String.init)
            fields[3] = "high"
            lines[4] = fields.joined(separator: ",")
            try Data(lines.joined(separator: "\n").utf8).write(to: url)
        })
        #expect(error.description.hasSuffix("predictions.csv:5: confidence is not a number: \"high\""))
    }

    @Test func predictionRowCountMustMatchTheSummary() throws {
        let error = try #require(try loadError { folder in
            let url = folder.appendingPathComponent("predictions.csv")
            let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").dropLast(7)
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        })
        #expect(error.description.contains("has 290 rows but summary.json says the evaluation had 297 examples"))
    }

    @Test func testInputsThatAreNotNPYSaySo() throws {
        let error = try #require(try loadError { try replace("test-inputs.npy", in: $0, with: "PK\u{3}\u{4} zip file") })
        #expect(error.description.hasSuffix("test-inputs.npy: not an NPY file: it does not start with the magic string \\x93NUMPY"))
    }

    /// The one NPY reader takes float64 too; a file whose data does not fit its declared dtype is refused.
    @Test func testInputsWhoseDataDoesNotFitTheirDTypeSaySo() throws {
        let error = try #require(try loadError { folder in
            var data = NPYArray(shape: [297, 4], values: [Float](repeating: 0, count: 297 * 4)).encoded()
            guard let dtype = data.range(of: Data("<f4".utf8)) else { return }
            data[dtype.upperBound - 1] = UInt8(ascii: "8")
            try data.write(to: folder.appendingPathComponent("test-inputs.npy"))
        })
        #expect(error.description.hasSuffix("NPY header says shape (297, 4) of '<f8' (9504 bytes) but the file holds 4752 bytes of data"))
    }

    @Test func truncatedTestInputsGiveTheByteCounts() throws {
        let error = try #require(try loadError { folder in
            let data = NPYArray(shape: [297, 8, 8, 1], values: [Float](repeating: 0, count: 297 * 64)).encoded()
            try data.dropLast(100).write(to: folder.appendingPathComponent("test-inputs.npy"))
        })
        #expect(error.description.hasSuffix("NPY header says shape (297, 8, 8, 1) of '<f4' (76032 bytes) but the file holds 75932 bytes of data"))
    }

    @Test func testInputsWithFewerExamplesThanPredictionsAreRejected() throws {
        let error = try #require(try loadError { folder in
            let data = NPYArray(shape: [100, 8, 8, 1], values: [Float](repeating: 0, count: 100 * 64)).encoded()
            try data.write(to: folder.appendingPathComponent("test-inputs.npy"))
        })
        #expect(error.description.contains("refers to test example 100 but"))
        #expect(error.description.hasSuffix("test-inputs.npy holds 100 examples"))
    }

    @Test func regressionRunNeedsNoPredictions() throws {
        let folder = temporaryFolder("regression")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try replace("metrics.jsonl", in: folder, with: "{\"epoch\": 1, \"step\": 10, \"loss\": 1.5, \"nll\": 1.2, \"kl\": 0.3, \"seconds\": 0.4}\n")
        try replace("summary.json", in: folder, with: """
            {"name": "sines", "seed": 1, "epochs": 1, "evaluation": {"samples": 20, "examples": 50,
             "predictive": {"rmse": 0.31, "nll": 0.52, "predictive_std": 0.27}}, "layers": [], "totals": {"parameters": 0, "macs": 0}}
            """)
        let html = try Report.html(runDirectory: folder.path)
        let page = HTMLProbe(html: html)
        #expect(page.element(id: "chart-loss") != nil)
        #expect(page.element(id: "chart-reliability") == nil)
        #expect(page.taggedNumbers().contains { $0.key == "evaluation.predictive.rmse" && $0.value == "0.31" })
        // Nothing on the page speaks of a classifier's outputs or files it did not read.
        #expect(!html.contains("softmax"))
        #expect(html.contains("from summary.json and metrics.jsonl."))
    }
}

@Suite struct ReportWriteErrorTests {
    @Test func writingIntoAMissingFolderNamesIt() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try RunFolderFixture().write(to: folder)
        let target = temporaryFolder("absent").appendingPathComponent("report.html").path
        #expect(throws: ReportError.cannotWrite(path: target, reason: "no such directory \(URL(fileURLWithPath: target).deletingLastPathComponent().path)")) {
            try Report.write(runDirectory: folder.path, output: target)
        }
    }
}

@Suite struct DivergedRunTests {
    @Test func nullFiguresOfADivergedEpochAreLeftOutOfTheCurves() throws {
        let folder = temporaryFolder("diverged")
        defer { try? FileManager.default.removeItem(at: folder) }
        try RunFolderFixture().write(to: folder)
        try replace("metrics.jsonl", in: folder, with: """
            {"epoch": 1, "step": 24, "loss": 2.5, "nll": 2.1, "kl": 0.4, "train_accuracy": 0.3}
            {"epoch": 2, "step": 48, "loss": 1.5, "nll": 1.2, "kl": 0.3, "train_accuracy": 0.6}
            {"epoch": 3, "step": 72, "loss": null, "nll": null, "kl": 0.3, "train_accuracy": 0.1}

            """)
        let html = try Report.html(runDirectory: folder.path)
        let chart = try #require(HTMLProbe(html: html).element(id: "chart-loss"))
        let polylines = HTMLProbe(html: html).captures("<polyline points=\"([^\"]*)\"", in: chart)
        #expect(polylines.map { $0.split(separator: " ").count } == [2, 2, 3])   // loss, NLL, KL
    }

    @Test func notANumberPredictionsAreLeftOutOfTheHistograms() throws {
        let folder = temporaryFolder("nan")
        defer { try? FileManager.default.removeItem(at: folder) }
        try RunFolderFixture().write(to: folder)
        let url = folder.appendingPathComponent("predictions.csv")
        var lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[1] = "0,0,3,nan,nan,nan,nan,0"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        let html = try Report.html(runDirectory: folder.path)
        let wrong = RunFolderFixture().predictions().filter { !$0.correct }.count + (RunFolderFixture().predictions()[0].correct ? 1 : 0)
        let chart = try #require(HTMLProbe(html: html).element(id: "chart-entropy"))
        #expect(chart.contains(">wrong (\(wrong - 1))</text>"))
        #expect(!html.contains("data-index=\"0\""))
    }

    @Test func seedBeyondIntMaxWrittenAsTextIsShown() throws {
        let summary = try RunFolder.parseSummary(Data("{\"name\": \"x\", \"seed\": \"18446744073709551615\", \"layers\": []}".utf8))
        #expect(summary.seed == 18_446_744_073_709_551_615)
    }
}
