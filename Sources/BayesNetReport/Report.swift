import BayesNetFormats
// Renders a run folder (docs/run-folder.md) as one self-contained HTML page.
import Foundation

/// Run reports: one HTML page with inline SVG and CSS, no scripts and nothing fetched.
public enum Report {
    /// The HTML page of an already loaded run.
    public static func html(for run: RunFolder) -> String {
        ReportPage(run: run).html()
    }

    /// Reads `runDirectory` and returns its report page.
    public static func html(runDirectory: String) throws(ReportError) -> String {
        html(for: try RunFolder.load(path: runDirectory))
    }

    /// The default output path: `report.html` inside the run folder.
    public static func defaultOutput(runDirectory: String) -> String {
        URL(fileURLWithPath: runDirectory).appendingPathComponent("report.html").path
    }

    /// Renders `runDirectory` to `output` (default RUN_DIR/report.html), written to a temporary file in
    /// the same folder and renamed into place so that an existing report is never left half-written.
    /// Returns the output path.
    @discardableResult
    public static func write(runDirectory: String, output: String? = nil) throws(ReportError) -> String {
        let page = try html(runDirectory: runDirectory)
        let destination = output ?? defaultOutput(runDirectory: runDirectory)
        try writeAtomically(page, to: destination)
        return destination
    }

    static func writeAtomically(_ text: String, to path: String) throws(ReportError) {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        let folder = url.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .cannotWrite(path: path, reason: "no such directory \(folder)")
        }
        do {
            try AtomicFile.write(text, to: path)
        } catch {
            throw .cannotWrite(path: path, reason: error.message)
        }
    }
}
