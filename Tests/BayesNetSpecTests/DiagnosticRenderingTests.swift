import Foundation
import Testing
@testable import BayesNetSpec

@Suite struct DiagnosticRenderingTests {
    let source = SpecSource(path: "net.yaml", text: "bayesnet: 1\nlayers:\n  - Conv2D: {kernal_size: 3}\n")

    @Test func textHasLocationSourceLineCaretAndHelp() {
        let d = Diagnostic(id: .unknownKey, message: "unknown key `kernal_size`", location: SourceLocation(file: "net.yaml", line: 3, column: 15), help: "did you mean `kernel_size`?")
        #expect(d.rendered(source: source) == """
        net.yaml:3:15: error: unknown key `kernal_size`
              - Conv2D: {kernal_size: 3}
                          ^
        help: did you mean `kernel_size`?
        """)
    }

    @Test func caretKeepsTabsSoItLinesUp() {
        let src = SpecSource(path: "t.yaml", text: "\tab: x\n")
        let d = Diagnostic(id: .unknownKey, message: "m", location: SourceLocation(file: "t.yaml", line: 1, column: 3))
        #expect(d.rendered(source: src).hasSuffix("\n    \tab: x\n    \t ^"))
    }

    @Test func lineOutsideTheTextPrintsNoSourceLine() {
        let d = Diagnostic(id: .unknownKey, message: "m", location: SourceLocation(file: "net.yaml", line: 99, column: 1))
        #expect(d.rendered(source: source) == "net.yaml:99:1: error: m")
    }

    @Test func colorWrapsSeverityInEscapes() {
        let d = Diagnostic(id: .unknownKey, message: "m", location: SourceLocation(file: "net.yaml", line: 1, column: 1))
        #expect(d.rendered(source: source, color: true).contains("\u{1B}[1;31merror:"))
    }

    @Test func jsonListsEveryFieldAndEscapes() {
        let d = Diagnostic(id: .unknownKey, message: "a \"quoted\"\tname", location: SourceLocation(file: "n.yaml", line: 2, column: 5))
        #expect(DiagnosticRenderer.json([d]) == """
        [
          {
            "id": "unknown-key",
            "severity": "error",
            "message": "a \\"quoted\\"\\tname",
            "file": "n.yaml",
            "line": 2,
            "column": 5,
            "help": null,
            "notes": []
          }
        ]
        """)
    }

    @Test func jsonCarriesNotesWithTheirLocations() {
        let d = Diagnostic(id: .duplicateKey, message: "duplicate key `a`", location: SourceLocation(file: "n.yaml", line: 3, column: 1),
                           notes: [.init("`a` first written here", at: SourceLocation(file: "n.yaml", line: 1, column: 1))])
        #expect(DiagnosticRenderer.json([d]).contains("""
            "notes": [
              {
                "message": "`a` first written here",
                "file": "n.yaml",
                "line": 1,
                "column": 1
              }
            ]
        """))
    }

    @Test func textShowsEachNoteWithItsSourceLine() {
        let src = SpecSource(path: "n.yaml", text: "a: 1\nb: 2\na: 3\n")
        let d = Diagnostic(id: .duplicateKey, message: "duplicate key `a`", location: SourceLocation(file: "n.yaml", line: 3, column: 1),
                           notes: [.init("`a` first written here", at: SourceLocation(file: "n.yaml", line: 1, column: 1))])
        #expect(d.rendered(source: src) == """
        n.yaml:3:1: error: duplicate key `a`
            a: 3
            ^
        n.yaml:1:1: note: `a` first written here
            a: 1
            ^
        """)
    }

    @Test func jsonOfNoDiagnosticsIsAnEmptyArray() {
        #expect(DiagnosticRenderer.json([]) == "[]")
    }

    @Test func suggestionsFindCloseNamesOnly() {
        #expect(Suggestions.closest(to: "kernal_size", among: ["kernel_size", "filters"]) == "kernel_size")
        #expect(Suggestions.closest(to: "filter_size", among: ["filters", "filter_shape"]) == "filter_shape")
        #expect(Suggestions.closest(to: "banana", among: ["filters", "strides"]) == nil)
        #expect(Suggestions.distance("ab", "ba") == 1)
    }

    @Test func diagnosticsComeInSourceOrderOnce() {
        let result = SpecLoader.load(text: "bayesnet: 1\ninput: {shape: [8, 8, 1]}\ndefaults:\n  Dense: {activation: nope}\nlayers:\n  - Flatten\n  - Dense: {units: 3}\n  - Dense: {units: 2}\n")
        #expect(result.diagnostics.map(\.message) == ["unknown activation `nope`; expected `linear`, `relu`, `elu`, `tanh`, `sigmoid`, `softplus` or `leaky_relu`"])
        #expect(result.diagnostics.first?.location.line == 4)
    }
}

@Suite struct UnicodeColumnTests {
    @Test func columnsCountCodePointsAsLibyamlDoes() throws {
        let text = "bayesnet: 1\ninput: {shape: [4]}\nlayers: [{Dense: {name: \u{E9}\u{301}, units: 0}}]\n"
        let result = SpecLoader.load(text: text)
        let d = try #require(result.diagnostics.first)
        #expect((d.location.line, d.location.column) == (3, 36))
        let rendered = SpecSource(path: "<string>", text: "é\u{301}: 1\n")
        let caret = Diagnostic(id: .unknownKey, message: "m", location: SourceLocation(file: "<string>", line: 1, column: 3)).rendered(source: rendered)
        #expect(caret.hasSuffix("\n      ^"))
    }
}

@Suite struct LineBreakTests {
    @Test func crlfLinesShowTheirSourceLine() {
        let result = SpecLoader.load(text: "bayesnet: 1\r\ninput: {shape: [4]}\r\nlayers: [{Dense: {units: 0}}]\r\n", path: "c.yaml")
        #expect(result.diagnostics.map { $0.rendered(source: result.source) } == ["""
        c.yaml:3:26: error: `units` must be positive, found 0
            layers: [{Dense: {units: 0}}]
                                     ^
        """])
    }

    @Test func linesBreakWhereLibyamlBreaksThem() {
        let text = "a\rb\r\nc\u{2028}d\u{85}e\nf"
        #expect((1...6).map { Diagnostic.line($0, of: text) } == ["a", "b", "c", "d", "e", "f"])
        #expect(Diagnostic.line(7, of: text) == nil)
    }
}

@Suite struct ControlCharacterTests {
    @Test func escapeSequencesInASpecAreShownNotSent() throws {
        let result = SpecLoader.load(text: "bayesnet: 1\ninput: {shape: [4]}\nlayers: [{Dense: {units: 2, activation: \"\\e[31m\"}}]\n", path: "e.yaml")
        let text = try #require(result.diagnostics.first).rendered(source: result.source)
        #expect(!text.contains("\u{1B}"))
        #expect(text.hasPrefix("e.yaml:3:41: error: unknown activation `\\u{1B}[31m`;"))
    }
}

@Suite struct DiagnosticIDTests {
    /// The identifiers in docs/diagnostics.md's table, in order.
    func documented() throws -> [String] {
        let text = try String(contentsOfFile: packageRoot() + "/docs/diagnostics.md", encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("| `") else { return nil }
            return line.dropFirst(3).split(separator: "`").first.map(String.init)
        }
    }

    @Test func everyIdentifierIsDocumentedOnce() throws {
        #expect(try documented() == DiagnosticID.allCases.map(\.rawValue))
    }

    @Test func identifiersAreLowercaseWordsWithHyphens() {
        for id in DiagnosticID.allCases {
            #expect(id.rawValue.allSatisfy { $0 == "-" || ("a"..."z").contains($0) }, "\(id.rawValue)")
        }
    }
}
