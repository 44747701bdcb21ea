import ArgumentParser
import BayesNetReport
import Foundation

/// `bayesnet report RUN_DIR [-o report.html]`: one self-contained HTML page from a run folder.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a run folder as one self-contained HTML page (training curves, calibration, uncertainty).",
        discussion: """
        Reads summary.json, metrics.jsonl, predictions.csv and, when present, test-inputs.npy from RUN_DIR \
        (see docs/run-folder.md) and writes an HTML file with inline SVG charts; it needs no network and no scripts.
        """
    )

    @Argument(help: ArgumentHelp("The run folder written by `bayesnet run`.", valueName: "RUN_DIR"))
    var runDirectory: String

    @Option(name: [.short, .customLong("output")],
            help: ArgumentHelp("Where to write the page (default: RUN_DIR/report.html).", valueName: "file"))
    var output: String?

    func run() throws {
        do {
            let path = try Report.write(runDirectory: runDirectory, output: output)
            print("wrote \(path)")
        } catch {
            printError("error: \(error.description)")
            throw ExitCode(1)
        }
    }
}
