import Foundation
import Testing
@testable import BayesNetReport

/// A text element's box on the canvas, estimated from its font size and length.
struct TextBox {
    var text: String
    var minX, maxX, minY, maxY: Double

    /// DejaVu Sans, Chromium's default sans-serif on Debian, averages about 0.6 em per character.
    init?(element: String, content: String) {
        func attribute(_ name: String) -> String? { HTMLProbe(html: element).captures(" \(name)=\"([^\"]+)\"").first }
        guard let x = attribute("x").flatMap(Double.init), let y = attribute("y").flatMap(Double.init),
              let size = attribute("font-size").flatMap(Double.init) else { return nil }
        let width = Double(content.count) * size * 0.58
        let anchor = attribute("text-anchor") ?? "start"
        let start = anchor == "middle" ? x - width / 2 : anchor == "end" ? x - width : x
        text = content
        minX = start; maxX = start + width
        minY = y - size * 0.75; maxY = y + size * 0.2
        if let rotation = attribute("transform"), rotation.hasPrefix("rotate(9") || rotation.hasPrefix("rotate(-9") {
            // Turned a quarter about (x, y): the box's extents swap axes around that point.
            let (dx0, dx1, dy0, dy1) = (minX - x, maxX - x, minY - y, maxY - y)
            minX = x + min(dy0, dy1); maxX = x + max(dy0, dy1)
            minY = y + min(dx0, dx1); maxY = y + max(dx0, dx1)
        }
    }

    func overlaps(_ other: TextBox) -> Bool {
        minX < other.maxX && other.minX < maxX && minY < other.maxY && other.minY < maxY
    }
}

func textBoxes(in svg: String) -> [TextBox] {
    let regex = try! NSRegularExpression(pattern: "(<text [^>]*>)([^<]*)</text>")
    return regex.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).compactMap { m in
        TextBox(element: String(svg[Range(m.range(at: 1), in: svg)!]), content: String(svg[Range(m.range(at: 2), in: svg)!]))
    }
}

func overlappingLabels(_ html: String) -> [String] {
    let page = HTMLProbe(html: html)
    var problems: [String] = []
    for svg in page.captures("(<svg .*?</svg>)") {
        let boxes = textBoxes(in: svg)
        let width = Double(page.captures("<svg [^>]*width=\"([0-9.]+)\"", in: svg).first ?? "0") ?? 0
        for (i, a) in boxes.enumerated() {
            if a.minX < 0 || a.maxX > width { problems.append("\"\(a.text)\" leaves the chart") }
            for b in boxes[(i + 1)...] where a.overlaps(b) { problems.append("\"\(a.text)\" overlaps \"\(b.text)\"") }
        }
    }
    return problems
}

@Suite struct ChartLayoutTests {
    @Test func overlapCheckFindsCrowdedAndClippedLabels() {
        var c = SVGCanvas(width: 200, height: 100)
        c.text("epoch", 100, 50, anchor: .middle, size: 12)
        c.text("accuracy", 104, 52, size: 12)
        c.text("nats per example", 16, 50, anchor: .middle, size: 12, rotate: -90)
        c.text("far right", 190, 80, size: 12)
        let problems = overlappingLabels(c.render(label: "test"))
        #expect(problems == ["\"epoch\" overlaps \"accuracy\"", "\"far right\" leaves the chart"])
    }

    @Test func labelsOfTheDigitsSizedRunDoNotOverlap() throws {
        let (folder, html) = try renderFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(overlappingLabels(html) == [])
    }

    @Test func labelsOfALongLargeRunWithATinyKLDoNotOverlap() throws {
        var fixture = RunFolderFixture()
        fixture.examples = 10_000
        fixture.epochs = 120
        fixture.inputShape = [28, 28]
        fixture.klScale = 0.0004
        let (folder, html) = try renderFixture(fixture)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(overlappingLabels(html) == [])
    }

    @Test func labelsOfASingleEpochRunDoNotOverlap() throws {
        var fixture = RunFolderFixture()
        fixture.examples = 40
        fixture.epochs = 1
        fixture.klScale = 300
        let (folder, html) = try renderFixture(fixture)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(overlappingLabels(html) == [])
    }
}
