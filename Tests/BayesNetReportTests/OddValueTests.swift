import BayesNetFormats
import Foundation
import Testing
@testable import BayesNetReport

/// The fixture's files in memory, with `edit` applied to the summary's text.
func fixtureFiles(_ fixture: RunFolderFixture = RunFolderFixture(), summary edit: (String) -> String = { $0 })
    -> (summary: Data, metrics: Data, predictions: Data, inputs: Data) {
    let preds = fixture.predictions()
    return (Data(edit(fixture.summaryText(preds)).utf8), Data(fixture.metricsText().utf8),
            Data(fixture.predictionsText(preds).utf8), fixture.inputs(for: preds).encoded())
}

/// Loads files from memory as `bayesnet report` would from a folder, and renders the page.
func render(summary: Data, metrics: Data, predictions: Data?, inputs: Data?) throws -> String {
    Report.html(for: try RunFolder.parse(summary: summary, metrics: metrics, predictions: predictions,
                                         testInputs: inputs, folder: "run"))
}

/// Every SVG position or size on the page that is not a plain finite number.
func nonFiniteGeometry(_ html: String) -> [String] {
    HTMLProbe(html: html).captures(" (?:x|y|x1|y1|x2|y2|cx|cy|r|width|height|font-size|stroke-width)=\"([^\"]*)\"")
        .filter { Double($0)?.isFinite != true }
}

/// The summary's reliability block with `bins` bins, one example each at accuracy and confidence `value`.
func reliability(bins: Int, value: String) -> String {
    let values = Array(repeating: value, count: min(bins, 1000)).joined(separator: ", ")
    let counts = Array(repeating: "1", count: min(bins, 1000)).joined(separator: ", ")
    return "\"reliability\": {\"bins\": \(bins), \"confidence\": [\(values)], \"accuracy\": [\(values)], \"count\": [\(counts)]}"
}

func replacingReliability(_ text: String, with block: String) -> String {
    text.replacingOccurrences(of: "\"reliability\": \\{[^}]*\\}", with: block, options: .regularExpression)
}

@Suite struct InMemoryRunFolderTests {
    @Test func parsingFilesInMemoryGivesWhatLoadingTheFolderGives() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try RunFolderFixture().write(to: folder)
        let files = fixtureFiles()
        let parsed = try RunFolder.parse(summary: files.summary, metrics: files.metrics, predictions: files.predictions,
                                         testInputs: files.inputs, folder: folder.path)
        #expect(Report.html(for: parsed) == (try Report.html(runDirectory: folder.path)))
    }

    @Test func errorsFromMemoryNameTheFileInTheGivenFolder() throws {
        let files = fixtureFiles()
        #expect(throws: ReportError.malformed(file: "/runs/a/summary.json", line: nil, reason: "not valid JSON")) {
            try RunFolder.parse(summary: Data("{".utf8), metrics: files.metrics, predictions: nil, testInputs: nil,
                                folder: "/runs/a")
        }
    }
}

/// Values a run never writes but an edited or damaged file may hold: the page is still drawn, and every
/// coordinate in it is a number.
@Suite struct OddValueTests {
    // Found by FuzzReport: an accuracy of 1e300 in a reliability bin put a rectangle's y beyond Int's range.
    @Test func reliabilityFractionsFarBeyondOneAreDrawnAtThePanelEdge() throws {
        let files = fixtureFiles { replacingReliability($0, with: reliability(bins: 15, value: "1e300")) }
        let html = try render(summary: files.summary, metrics: files.metrics, predictions: files.predictions,
                              inputs: files.inputs)
        let chart = try #require(HTMLProbe(html: html).element(id: "chart-reliability"))
        #expect(nonFiniteGeometry(html) == [])
        // Every bar ends at the top of the panel, as an accuracy of 1 would.
        let tops = Set(HTMLProbe(html: chart).captures("<rect x=\"[^\"]*\" y=\"([^\"]*)\"[^>]*class=\"bin\""))
        #expect(tops.count == 1)
    }

    @Test func reliabilityFractionsBelowZeroAreDrawnAtTheBaseline() throws {
        let files = fixtureFiles { replacingReliability($0, with: reliability(bins: 15, value: "-1e300")) }
        let html = try render(summary: files.summary, metrics: files.metrics, predictions: files.predictions,
                              inputs: files.inputs)
        let chart = try #require(HTMLProbe(html: html).element(id: "chart-reliability"))
        let heights = HTMLProbe(html: chart).captures("<rect [^>]*height=\"([^\"]*)\"[^>]*class=\"bin\"")
        #expect(!heights.isEmpty && heights.allSatisfy { $0 == "0" })
    }

    @Test func binsTooNarrowForACountAreLeftUnlabelled() {
        let bins = 400
        let diagram = ReliabilityDiagram(reliability: .init(
            bins: bins, confidence: Array(repeating: 0.5, count: bins), accuracy: Array(repeating: 0.5, count: bins),
            count: Array(repeating: 12_345, count: bins)))
        let svg = diagram.svg(label: "reliability")
        #expect(HTMLProbe(html: svg).count("class=\"bin\"") == bins)
        #expect(HTMLProbe(html: svg).count("class=\"bin-count\"") == 0)
        #expect(!svg.contains("font-size=\"-"))
    }

    @Test func svgCoordinatesOffTheCanvasAreCutToAHundredThousandPixels() {
        #expect(SVGCanvas.n(1e300) == "100000")
        #expect(SVGCanvas.n(-.infinity) == "-100000")
        #expect(SVGCanvas.n(.infinity) == "100000")
        #expect(SVGCanvas.n(.nan) == "0")
        #expect(SVGCanvas.n(12.34) == "12.3")
    }

    @Test func lossCurvesSpanningTheWholeDoubleRangeAreDrawn() throws {
        let files = fixtureFiles()
        let metrics = """
            {"epoch": 1, "loss": 1.7e308, "nll": -1.7e308, "kl": 1.7e308}
            {"epoch": 2, "loss": -1.7e308, "nll": 1.7e308, "kl": -1.7e308}

            """
        let html = try render(summary: files.summary, metrics: Data(metrics.utf8), predictions: files.predictions,
                              inputs: files.inputs)
        #expect(HTMLProbe(html: html).element(id: "chart-loss") != nil)
        #expect(nonFiniteGeometry(html) == [])
    }

    @Test func histogramsOfHugeNegativeEntropiesCountEveryExample() {
        let histogram = GroupedHistogram(xLabel: "entropy", groups: [
            HistogramGroup(name: "correct", values: [-1.7e308, 0.2, 1.7e308], color: Palette.blue),
        ])
        let fractions = histogram.fractions().fractions[0]
        #expect(fractions.reduce(0, +) == 1)
        #expect(fractions.first! > 0)   // the negative value lands in the first bin
    }

    @Test func wallTimeBeyondAnIntOfMinutesIsWrittenInSeconds() {
        #expect(Format.seconds(1e300) == "1.000e+300 s")
        #expect(Format.seconds(125) == "2 min 5 s")
    }
}

@Suite struct TickBoundTests {
    @Test func ticksOverTheWholeDoubleRangeAreFinite() {
        let ticks = Ticks(low: -1.7e308, high: 1.7e308)
        #expect(!ticks.values.isEmpty && ticks.values.count <= 12)
        #expect(ticks.values.allSatisfy { $0.isFinite })
    }

    // Before: a step finer than the values' precision never advanced, and the tick loop ran forever.
    @Test func ticksOverASpanBelowTheValuesPrecisionEnd() {
        let ticks = Ticks(low: 1e20, high: 1e20.nextUp)
        #expect(ticks.values.count <= 12)
        #expect(Set(ticks.values).count == ticks.values.count)
    }

    // Found by FuzzReport: a KL of 3.5e-323 in every epoch padded its one-value range by nothing, and the
    // zero step gave a NaN tick count.
    @Test func ticksOfOneSubnormalValueHaveAFiniteStep() {
        let kl = Double.leastNonzeroMagnitude * 7   // 3.5e-323, as the file had it
        let ticks = Ticks(low: kl, high: kl)
        #expect(ticks.values.count >= 2 && ticks.values.count <= 12)
        #expect(ticks.values.allSatisfy { $0.isFinite })
        #expect(ticks.values.first! <= kl && ticks.values.last! >= kl)
    }

    @Test func integerTicksOverAHugeEpochNumberEnd() {
        let ticks = Ticks(low: 1e18, high: 1e18 + 256, target: 8, integer: true)
        #expect(ticks.values.count <= 12)
        #expect(Set(ticks.values.map(ticks.label)).count == ticks.values.count)
    }

    @Test func labelsOfHugeTicksAreScientificAndDistinct() {
        let ticks = Ticks(low: 0, high: 3e15)
        let labels = ticks.values.map(ticks.label)
        #expect(labels.allSatisfy { $0.count <= 12 })
        #expect(Set(labels).count == labels.count)
    }

    @Test func logarithmicTicksOverHundredsOfDecadesKeepAboutTen() {
        let ticks = Ticks(logLow: 1e-300, high: 1e300)
        #expect(ticks.values.count >= 2 && ticks.values.count <= 12)
        #expect(ticks.values.allSatisfy { $0.isFinite && $0 > 0 })
    }

    // Before: 10^309 was infinite and its label's decimal count trapped.
    @Test func logarithmicTicksAtTheEndsOfDoubleHaveShortLabels() {
        let ticks = Ticks(logLow: .leastNonzeroMagnitude, high: 1.7e308)
        #expect(ticks.values.allSatisfy { $0.isFinite && $0 > 0 })
        #expect(ticks.values.map(ticks.label).allSatisfy { $0.count <= 8 })
    }
}

/// The sizes a reader could be told to allocate or draw are bounded by the file's own size or by a clear error.
@Suite struct ReaderBoundTests {
    @Test func summaryClaimingABillionReliabilityBinsIsRejected() throws {
        let files = fixtureFiles { replacingReliability($0, with: reliability(bins: 1_000_000_000, value: "0.5")) }
        #expect(throws: ReportError.malformed(file: "/runs/a/summary.json", line: nil,
                                              reason: "evaluation.reliability.bins is 1000000000; a report draws at most 1000 bins")) {
            try RunFolder.parse(summary: files.summary, metrics: files.metrics, predictions: files.predictions,
                                testInputs: files.inputs, folder: "/runs/a")
        }
    }

    @Test func summaryWithTheMostReliabilityBinsIsDrawn() throws {
        let files = fixtureFiles { replacingReliability($0, with: reliability(bins: RunFolder.maxReliabilityBins, value: "0.5")) }
        let html = try render(summary: files.summary, metrics: files.metrics, predictions: files.predictions,
                              inputs: files.inputs)
        let chart = try #require(HTMLProbe(html: html).element(id: "chart-reliability"))
        #expect(HTMLProbe(html: chart).count("class=\"bin\"") == RunFolder.maxReliabilityBins)
        #expect(nonFiniteGeometry(chart) == [])
    }

    @Test func npyShapeWhoseSizeOverflowsIsRejected() throws {
        #expect(throws: ReportError.malformed(file: "test-inputs.npy", line: nil,
                                              reason: "shape [4294967296, 4294967296] has more elements than can be counted (the product overflows)")) {
            try NPYArray.parse(npyFile(shape: "(4294967296, 4294967296)"))
        }
    }

    @Test func npyShapeWhoseExampleSizeOverflowsIsRejected() throws {
        #expect(throws: ReportError.malformed(file: "test-inputs.npy", line: nil,
                                              reason: "shape [0, 4611686018427387904, 4] has a dimension of 0 (dimension 1), so the array holds no values")) {
            try NPYArray.parse(npyFile(shape: "(0, 4611686018427387904, 4)"))
        }
    }

    @Test func npyWithAnEmptyAxisAfterHugeOnesIsRejected() throws {
        #expect(throws: ReportError.malformed(file: "test-inputs.npy", line: nil,
                                              reason: "shape [1, 1099511627776, 1099511627776, 0] has more elements than can be counted (the product overflows)")) {
            try NPYArray.parse(npyFile(shape: "(1, 1099511627776, 1099511627776, 0)"))
        }
    }
}

/// An NPY v1 file of float32 with this shape tuple and `dataBytes` zero bytes after the header.
func npyFile(shape: String, dataBytes: Int = 0) -> Data {
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }\n"
    var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
    out.append(contentsOf: Array(header.utf8))
    out.append(Data(count: dataBytes))
    return out
}

/// Files saved again by an editor on another system still read the same.
@Suite struct EditedFileTests {
    // Before: "\r\n" is one Character in Swift, so splitting on "\n" left a CRLF file as a single line.
    @Test func predictionsWithWindowsLineEndsAreRead() throws {
        let fixture = RunFolderFixture()
        let text = fixture.predictionsText(fixture.predictions())
        let rows = try RunFolder.parsePredictions(Data(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))
        #expect(rows == (try RunFolder.parsePredictions(Data(text.utf8))))
        #expect(rows.count == fixture.examples)
    }

    @Test func metricsWithWindowsLineEndsAreRead() throws {
        let text = RunFolderFixture().metricsText()
        let rows = try RunFolder.parseMetrics(Data(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))
        #expect(rows == (try RunFolder.parseMetrics(Data(text.utf8))))
        #expect(rows.count == RunFolderFixture().epochs)
    }

    @Test func predictionFieldsKeepTheirValueWithSpacesAndTabsAround() throws {
        let text = "index, label ,predicted,confidence,entropy,expected_entropy,mutual_information,correct\n"
            + " 0 ,\t3,3, 0.9 ,0.2,0.1,0.1, 1 \n"
        let rows = try RunFolder.parsePredictions(Data(text.utf8))
        #expect(rows == [Prediction(index: 0, label: 3, predicted: 3, confidence: 0.9, entropy: 0.2,
                                    expectedEntropy: 0.1, mutualInformation: 0.1, correct: true)])
    }
}

@Suite struct UncheckedRunTests {
    // RunFolder's memberwise initializer skips the checks of RunFolder.parse; the page must still be drawn.
    @Test func predictionsWithoutAnImageAreLeftOutOfTheExamples() throws {
        let fixture = RunFolderFixture()
        var predictions = fixture.predictions()
        let inputs = fixture.inputs(for: predictions)
        predictions[0].index = inputs.shape[0] + 5
        predictions[0].mutualInformation = 10   // the most uncertain, so it would be drawn first
        let summary = try RunFolder.parseSummary(Data(fixture.summaryText(fixture.predictions()).utf8))
        let html = Report.html(for: RunFolder(summary: summary, metrics: [], predictions: predictions, testInputs: inputs))
        let grid = HTMLProbe(html: html).element(id: "chart-uncertain-examples") ?? ""
        #expect(HTMLProbe(html: grid).count("class=\"example ") == 16)
        #expect(!grid.contains("data-index=\"\(inputs.shape[0] + 5)\""))
    }
}

/// The report target's seeds (Fuzz/corpus/report: a run folder's files in one input, separated by the line
/// `--8<--`) replayed through the same path as the fuzz target.
@Suite struct ReportSeedReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fuzz/corpus/report").standardized

    static func seeds() -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: corpus, includingPropertiesForKeys: nil)) ?? [])
            .sorted { $0.path < $1.path }
    }

    static func sections(_ data: Data) -> [Data] {
        var parts: [Data] = []
        var rest = data[...]
        while let cut = rest.range(of: Data("\n--8<--\n".utf8)) {
            parts.append(Data(rest[..<cut.lowerBound]))
            rest = rest[cut.upperBound...]
        }
        return parts + [Data(rest)]
    }

    @Test func everySeedLoadsAndRendersWithFiniteGeometry() throws {
        let seeds = Self.seeds()
        #expect(seeds.count >= 4)
        for seed in seeds {
            let files = Self.sections(try Data(contentsOf: seed))
            let html = try render(summary: files[0], metrics: files[1], predictions: files.count > 2 ? files[2] : nil,
                                  inputs: files.count > 3 ? files[3] : nil)
            #expect(nonFiniteGeometry(html) == [], "\(seed.lastPathComponent)")
        }
    }
}
