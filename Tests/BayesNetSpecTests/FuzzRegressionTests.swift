import Foundation
import Testing
@testable import BayesNetSpec

/// Inputs found by fuzzing the spec front-end (Fuzz/Sources/FuzzSpec) that once took seconds to minutes:
/// each is kept with the property it broke.
@Suite struct FuzzRegressionTests {
    /// 6000 unknown layer types in 64 KiB: every diagnostic re-split the whole file to find its line (90 s).
    static let manyUnknownLayers: String = {
        var s = "bayesnet: 1\ninput: {shape: [4]}\nlayers:\n"
        var i = 0
        while s.utf8.count < 65_000 { s += "  - Bogus\(i)\n"; i += 1 }
        return s
    }()

    /// 10000 unknown aliases on one 40 KiB line: each diagnostic printed the whole line (800 MB of output, 250 s).
    static let aliasesOnOneLine = "bayesnet: 1\nx: 1\na: [" + Array(repeating: "*u", count: 10_000).joined(separator: ", ") + "]\n"

    func renderAll(_ r: SpecLoadResult) -> [String] { r.diagnostics.map { $0.rendered(source: r.source) } }

    @Test func thousandsOfProblemsRenderQuickly() {
        let clock = ContinuousClock()
        var rendered: [String] = []
        let elapsed = clock.measure { rendered = renderAll(SpecLoader.load(text: Self.manyUnknownLayers)) }
        #expect(elapsed < .seconds(5))
        #expect(rendered.count == 201)
        #expect(rendered[0].hasPrefix("<string>:4:5: error: unknown layer type `Bogus0`\n      - Bogus0\n        ^"))
    }

    @Test func problemsBeyondTheLimitAreCountedInOneError() {
        let r = SpecLoader.load(text: Self.manyUnknownLayers)
        let last = r.diagnostics.last
        #expect(last?.severity == .error)
        #expect(last?.location.line == 204)
        #expect(last?.message.hasSuffix("more problems from here on not shown (raise the limit of 200 with --max-diagnostics)") == true)
    }

    @Test func raisingTheDiagnosticLimitShowsMore() {
        let r = SpecLoader.load(text: Self.manyUnknownLayers, limits: SpecLimits(maxDiagnostics: 1000))
        #expect(r.diagnostics.count == 1001)
        #expect(r.diagnostics.filter { $0.message.hasPrefix("unknown layer type") }.count == 1000)
    }

    @Test func aLongLineIsShownAsAWindowAroundTheColumn() {
        let r = SpecLoader.load(text: Self.aliasesOnOneLine)
        let d = try! #require(r.diagnostics.first { $0.location.column > 500 })
        let lines = d.rendered(source: r.source).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[1].count <= 4 + 1 + 120 + 1)
        #expect(lines[1].hasPrefix("    …") && lines[1].hasSuffix("…"))
        // The caret sits under the alias the diagnostic is about.
        let caret = lines[2].count - 1
        #expect(Array(lines[1])[caret] == "*")
    }

    @Test func manyAliasProblemsRenderQuickly() {
        let clock = ContinuousClock()
        var total = 0
        let elapsed = clock.measure { total = renderAll(SpecLoader.load(text: Self.aliasesOnOneLine)).reduce(0) { $0 + $1.utf8.count } }
        #expect(elapsed < .seconds(5))
        #expect(total < 201 * 400)
    }

    @Test func boundedDistanceAgreesWithTheFullDistanceWithinTheBound() {
        let words = ["kernel_size", "kernal_size", "filters", "filter_shape", "Dense", "dense", "DenseFlipout", "ab", "ba", "", "x"]
        for a in words {
            for b in words {
                let full = Suggestions.distance(a, b)
                for limit in 0...4 {
                    #expect(Suggestions.distance(a, b, atMost: limit) == min(full, limit + 1), "\(a) \(b) \(limit)")
                }
            }
        }
    }

    @Test func crlfSpecShowsTheLineOfTheProblem() {
        let r = SpecLoader.load(text: "bayesnet: 1\r\ninput: {shape: [4]}\r\nlayers: [Bogus]\r\n")
        let d = try! #require(r.diagnostics.first { $0.message.contains("Bogus") })
        #expect(d.rendered(source: r.source).contains("\n    layers: [Bogus]\n"))
    }
}
