import BayesNetReport
import Foundation

/// One input is a whole run folder: its files one after another, each section separated from the next by
/// the line `--8<--` (the bytes "\n--8<--\n"), in the order summary.json, metrics.jsonl, predictions.csv,
/// test-inputs.npy. A section that is left out is a file the folder lacks (two sections: no predictions and
/// no test inputs); an input without a metrics section is skipped, as `bayesnet report` refuses such a folder
/// before reading anything. The files go through the same checks as `bayesnet report` (RunFolder.parse, which
/// RunFolder.load calls), and whatever loads is rendered. Loading must never trap; a page must be complete
/// HTML whose drawing coordinates are all finite numbers and whose sizes are not negative.
let separator = Array("\n--8<--\n".utf8)

func sections(_ bytes: [UInt8]) -> [Data] {
    var parts: [Data] = []
    var start = 0, i = 0
    while i + separator.count <= bytes.count {
        if bytes[i..<(i + separator.count)].elementsEqual(separator) {
            parts.append(Data(bytes[start..<i]))
            i += separator.count
            start = i
        } else {
            i += 1
        }
    }
    parts.append(Data(bytes[start...]))
    return parts
}

/// Attributes that place or size something in an SVG; each must be a finite number, and a size not negative.
let geometry = try! NSRegularExpression(
    pattern: " (x|y|x1|y1|x2|y2|cx|cy|r|width|height|font-size|stroke-width)=\"([^\"]*)\"")
let sizes: Set<String> = ["r", "width", "height", "font-size", "stroke-width"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let files = sections(Array(UnsafeBufferPointer(start: data, count: size)))
    guard files.count >= 2 else { return 0 }
    let run: RunFolder
    do {
        run = try RunFolder.parse(summary: files[0], metrics: files[1], predictions: files.count > 2 ? files[2] : nil,
                                  testInputs: files.count > 3 ? files[3] : nil, folder: "run")
    } catch {
        precondition(!error.description.isEmpty, "an error without a message")
        return 0
    }
    let html = Report.html(for: run)
    precondition(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"), "the page is not complete")
    for match in geometry.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
        let name = String(html[Range(match.range(at: 1), in: html)!])
        let text = String(html[Range(match.range(at: 2), in: html)!])
        guard let value = Double(text), value.isFinite else { preconditionFailure("\(name)=\"\(text)\" is not a finite number") }
        precondition(value >= 0 || !sizes.contains(name), "\(name)=\"\(text)\" is a negative size")
    }
    return 0
}
