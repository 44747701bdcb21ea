import BayesNetFormats
import Foundation

/// One row of `predictions.csv`.
public struct Prediction: Sendable, Equatable {
    public var index: Int
    public var label: Int
    public var predicted: Int
    public var confidence: Double
    public var entropy: Double
    public var expectedEntropy: Double
    public var mutualInformation: Double
    public var correct: Bool
}

/// Everything a report is drawn from, read from a run folder's files.
public struct RunFolder: Sendable {
    public static let summaryFile = "summary.json"
    public static let metricsFile = "metrics.jsonl"
    public static let predictionsFile = "predictions.csv"
    public static let testInputsFile = "test-inputs.npy"
    public static let oodFile = "ood.json"
    public static let shiftFile = "shift.json"
    public static let gradientVarianceFile = "gradient-variance.json"

    /// A study file written by `bayesnet evaluate` or `diagnose`; the report draws at most this many levels or scores.
    public static func parseStudy<T: Decodable>(_ type: T.Type, _ data: Data, file: String) throws(ReportError) -> T {
        do { return try decoder().decode(T.self, from: data) } catch {
            throw .malformed(file: file, line: nil, reason: describe(error))
        }
    }

    public var summary: RunSummary
    public var metrics: [EpochMetrics]
    /// Empty for runs without a categorical evaluation.
    public var predictions: [Prediction]
    /// `nil` when the run folder has no test-inputs.npy.
    public var testInputs: NPYArray?
    /// `evaluate --ood` and `--shift` studies, when the folder has them.
    public var ood: OODStudy?
    public var shift: ShiftStudy?
    /// `diagnose --gradient-variance`, when the folder has it.
    public var gradientVariance: GradientVarianceStudy?

    public init(summary: RunSummary, metrics: [EpochMetrics], predictions: [Prediction], testInputs: NPYArray?) {
        self.summary = summary
        self.metrics = metrics
        self.predictions = predictions
        self.testInputs = testInputs
    }

    /// Reads and checks a run folder. summary.json and metrics.jsonl are always needed; predictions.csv
    /// when the run evaluated a classifier; test-inputs.npy is optional.
    public static func load(path: String) throws(ReportError) -> RunFolder {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .notAFolder(path)
        }
        let folder = URL(fileURLWithPath: path)
        func file(_ name: String) -> String { folder.appendingPathComponent(name).path }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }

        for (name, why) in [(summaryFile, "the run's final figures and settings"),
                            (metricsFile, "the per-epoch training curves")] where !exists(name) {
            throw .missingFile(folder: path, file: name, why: "\(why); `bayesnet run` writes it")
        }
        var run = try parse(summary: try read(file(summaryFile)), metrics: try read(file(metricsFile)),
                            predictions: exists(predictionsFile) ? try read(file(predictionsFile)) : nil,
                            testInputs: exists(testInputsFile) ? try read(file(testInputsFile)) : nil,
                            folder: path)
        if exists(oodFile) { run.ood = try parseStudy(OODStudy.self, try read(file(oodFile)), file: file(oodFile)) }
        if exists(shiftFile) { run.shift = try parseStudy(ShiftStudy.self, try read(file(shiftFile)), file: file(shiftFile)) }
        if exists(gradientVarianceFile) {
            run.gradientVariance = try parseStudy(GradientVarianceStudy.self, try read(file(gradientVarianceFile)),
                                                  file: file(gradientVarianceFile))
        }
        return run
    }

    /// Checks a run folder's files already in memory (`nil` for a file the folder lacks), exactly as `load`
    /// does; `folder` only names the files in error messages.
    public static func parse(summary summaryData: Data, metrics metricsData: Data, predictions predictionsData: Data?,
                             testInputs testInputsData: Data?, folder: String) throws(ReportError) -> RunFolder {
        func file(_ name: String) -> String { URL(fileURLWithPath: folder).appendingPathComponent(name).path }
        let summary = try parseSummary(summaryData, file: file(summaryFile))
        let metrics = try parseMetrics(metricsData, file: file(metricsFile))

        var predictions: [Prediction] = []
        // A regression's predictions.csv has other columns; its figures are in summary.json.
        if let predictionsData, summary.isCategorical || summary.evaluation?.predictive?.rmse == nil {
            predictions = try parsePredictions(predictionsData, file: file(predictionsFile))
        } else if summary.isCategorical {
            throw .missingFile(folder: folder, file: predictionsFile,
                               why: "the per-example predictions of the test set; `bayesnet run` writes it")
        }
        if let examples = summary.evaluation?.examples, !predictions.isEmpty, examples != predictions.count {
            throw .inconsistent("\(file(predictionsFile)) has \(predictions.count) rows but \(summaryFile) "
                + "says the evaluation had \(examples) examples")
        }

        var inputs: NPYArray?
        if let testInputsData {
            let array = try NPYArray.parse(testInputsData, file: file(testInputsFile))
            if !predictions.isEmpty {
                let n = array.shape.first ?? 0
                if let badIndex = predictions.first(where: { $0.index < 0 || $0.index >= n }) {
                    throw .inconsistent("\(file(predictionsFile)) refers to test example \(badIndex.index) but "
                        + "\(file(testInputsFile)) holds \(n) examples")
                }
            }
            inputs = array
        }
        return RunFolder(summary: summary, metrics: metrics, predictions: predictions, testInputs: inputs)
    }

    static func read(_ path: String) throws(ReportError) -> Data {
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(file: path, reason: error.localizedDescription)
        }
    }

    static func decoder() -> JSONDecoder { RunFolderJSON.decoder() }

    /// The most reliability bins a report draws (runs write 15); a larger count is an edited or damaged file,
    /// and drawing it would take time and page size in proportion.
    public static let maxReliabilityBins = 1000

    public static func parseSummary(_ data: Data, file: String = summaryFile) throws(ReportError) -> RunSummary {
        let summary: RunSummary
        do { summary = try decoder().decode(RunSummary.self, from: data) } catch {
            throw .malformed(file: file, line: nil, reason: describe(error))
        }
        if let bins = summary.evaluation?.reliability?.bins, bins > maxReliabilityBins {
            throw .malformed(file: file, line: nil, reason: "evaluation.reliability.bins is \(bins); "
                + "a report draws at most \(maxReliabilityBins) bins")
        }
        return summary
    }

    public static func parseMetrics(_ data: Data, file: String = metricsFile) throws(ReportError) -> [EpochMetrics] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw .malformed(file: file, line: nil, reason: "not UTF-8 text")
        }
        var rows: [EpochMetrics] = []
        let decoder = decoder()
        for (offset, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = trimmed(line)
            if line.isEmpty { continue }
            do { rows.append(try decoder.decode(EpochMetrics.self, from: Data(line.utf8))) } catch {
                throw .malformed(file: file, line: offset + 1, reason: describe(error))
            }
        }
        return rows
    }

    static let predictionColumns = ["index", "label", "predicted", "confidence", "entropy",
                                    "expected_entropy", "mutual_information", "correct"]

    public static func parsePredictions(_ data: Data, file: String = predictionsFile) throws(ReportError) -> [Prediction] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw .malformed(file: file, line: nil, reason: "not UTF-8 text")
        }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(trimmed)
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let header = lines.first, !header.isEmpty else {
            throw .malformed(file: file, line: 1, reason: "empty file; expected the header "
                + predictionColumns.joined(separator: ","))
        }
        let names = header.split(separator: ",").map { String(trimmed($0)) }
        var column: [String: Int] = [:]
        for (i, name) in names.enumerated() { column[name] = i }
        let missing = predictionColumns.filter { column[$0] == nil }
        guard missing.isEmpty else {
            throw .malformed(file: file, line: 1, reason: "header lacks column(s) "
                + missing.joined(separator: ", ") + "; expected " + predictionColumns.joined(separator: ","))
        }
        var rows: [Prediction] = []
        rows.reserveCapacity(lines.count - 1)
        for lineNumber in 2..<(lines.count + 1) {
            let line = lines[lineNumber - 1]
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(trimmed)
            guard fields.count == names.count else {
                throw .malformed(file: file, line: lineNumber,
                                 reason: "\(fields.count) fields, the header has \(names.count)")
            }
            func int(_ key: String) throws(ReportError) -> Int {
                let text = fields[column[key]!]
                guard let value = Int(text) else {
                    throw .malformed(file: file, line: lineNumber, reason: "\(key) is not an integer: \"\(text)\"")
                }
                return value
            }
            func real(_ key: String) throws(ReportError) -> Double {
                let text = fields[column[key]!]
                // nan and inf pass (a diverged run prints them); the charts leave them out.
                guard let value = Double(text) else {
                    throw .malformed(file: file, line: lineNumber, reason: "\(key) is not a number: \"\(text)\"")
                }
                return value
            }
            let correctText = fields[column["correct"]!].lowercased()
            let correct: Bool
            switch correctText {
            case "1", "true": correct = true
            case "0", "false": correct = false
            default:
                throw .malformed(file: file, line: lineNumber, reason: "correct is not 1 or 0: \"\(correctText)\"")
            }
            rows.append(Prediction(
                index: try int("index"), label: try int("label"), predicted: try int("predicted"),
                confidence: try real("confidence"), entropy: try real("entropy"),
                expectedEntropy: try real("expected_entropy"),
                mutualInformation: try real("mutual_information"), correct: correct))
        }
        return rows
    }

    /// Without surrounding white space (a CR of CRLF line ends included). Foundation's trimming bridges every
    /// field through NSString, which made it most of the time a large predictions.csv takes to read.
    static func trimmed(_ text: Substring) -> Substring {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
              let last = text.lastIndex(where: { !$0.isWhitespace }) else { return text[text.endIndex...] }
        return text[first...last]
    }

    /// Turns a decoding error into "at evaluation.predictive.accuracy: expected a number".
    static func describe(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let parts = keys.map { key -> String in
                if let i = key.intValue { return "[\(i)]" }
                return snakeCase(key.stringValue)
            }
            var out = ""
            for part in parts { out += part.hasPrefix("[") || out.isEmpty ? part : "." + part }
            return out.isEmpty ? "top level" : out
        }
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .keyNotFound(let key, let context):
            let at = context.codingPath.isEmpty ? "" : " in \(path(context.codingPath))"
            return "missing field \"\(snakeCase(key.stringValue))\"\(at)"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(typeName(type)), found null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            return name.hasPrefix("Array") ? "a list" : "an object"
        }
    }

    static func snakeCase(_ key: String) -> String { RunFolderJSON.snakeCase(key) }
}
