import Foundation
import Testing
@testable import BayesNetSpec

/// Every bound on reading a spec stops the work before it grows, and its message names the limit and the
/// option that raises it.
@Suite struct LimitTests {
    static let small = """
        bayesnet: 1
        input: {shape: [4]}
        layers:
          - Dense: {units: 2}
        likelihood: categorical

        """

    func messages(_ r: SpecLoadResult) -> [String] { r.diagnostics.map(\.message) }

    @Test func specBytesAboveTheSizeLimitAreRefusedUnread() {
        let r = SpecLoader.load(bytes: Array(Self.small.utf8), limits: SpecLimits(maxFileBytes: 32))
        #expect(r.spec == nil)
        #expect(messages(r) == ["spec file is larger than the limit of 32 bytes (raise it with --max-spec-size); a spec is a short YAML file"])
    }

    @Test func specFileAboveTheSizeLimitIsRefused() throws {
        let path = NSTemporaryDirectory() + "bayesnet-limit-\(UUID().uuidString).yaml"
        try Data((Self.small + String(repeating: "# padding\n", count: 500_000)).utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = SpecLoader.load(path: path)
        #expect(messages(r) == ["spec file is larger than the limit of 4.0 MiB (raise it with --max-spec-size); a spec is a short YAML file"])
        #expect(r.diagnostics.first?.location == SourceLocation(file: path, line: 1, column: 1))
    }

    @Test func raisingTheSizeLimitAdmitsTheFile() {
        let r = SpecLoader.load(bytes: Array(Self.small.utf8), limits: SpecLimits(maxFileBytes: Self.small.utf8.count))
        #expect(r.isValid, "\(messages(r))")
    }

    @Test func nestingBeyondTheDefaultDepthIsRefused() {
        let deep = "bayesnet: 1\nx: " + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "\n"
        let r = SpecLoader.load(text: deep)
        #expect(messages(r) == ["nesting deeper than 64 levels (raise the limit with --max-nesting)"])
    }

    @Test func nestingLimitIsSettable() {
        let r = SpecLoader.load(text: Self.small, limits: SpecLimits(maxDepth: 2))
        #expect(messages(r) == ["nesting deeper than 2 levels (raise the limit with --max-nesting)"])
        #expect(r.diagnostics.first?.location.line == 2)
    }

    @Test func aliasExpansionBeyondTheLimitIsRefused() {
        var text = "bayesnet: 1\na0: &a0 [x, x]\n"
        for i in 1..<8 { text += "a\(i): &a\(i) [*a\(i - 1), *a\(i - 1)]\n" }
        let r = SpecLoader.load(text: text, limits: SpecLimits(maxExpandedNodes: 200))
        #expect(messages(r) == ["the document expands to more than 200 nodes once aliases are expanded (raise the limit with --max-yaml-nodes)"])
    }

    @Test func billionLaughsStopsAtTheDefaultLimitQuickly() {
        var text = "bayesnet: 1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<30 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let clock = ContinuousClock()
        var r: SpecLoadResult?
        let elapsed = clock.measure { r = SpecLoader.load(text: text) }
        #expect(r.map(messages) == ["the document expands to more than 100000 nodes once aliases are expanded (raise the limit with --max-yaml-nodes)"])
        #expect(elapsed < .seconds(1))
    }

    @Test func inputShapeOverTheTensorLimitIsRefused() {
        let text = Self.small.replacingOccurrences(of: "shape: [4]", with: "shape: [1024, 1024]")
            .replacingOccurrences(of: "  - Dense", with: "  - Flatten\n  - Dense")
        let r = SpecLoader.load(text: text, limits: SpecLimits(maxTensorBytes: 1 << 20))
        #expect(messages(r) == ["`shape` [1024, 1024] is too large: one example would need more than the 1.0 MiB one tensor may use (raise the limit with --max-tensor-size)"])
        #expect(SpecLoader.load(text: text).isValid)
    }

    @Test func layerParametersOverTheTensorLimitAreRefused() {
        let text = Self.small.replacingOccurrences(of: "units: 2", with: "units: 100000")
        let r = SpecLoader.load(text: text, limits: SpecLimits(maxTensorBytes: 1 << 20))
        #expect(messages(r).first?.hasSuffix("more than the 1.0 MiB one tensor may use (raise the limit with --max-tensor-size)") == true)
        #expect(messages(r).first?.hasPrefix("`Dense` is too large: its parameters") == true)
    }

    @Test func dimensionsOfZeroAreRefused() {
        let r = SpecLoader.load(text: Self.small.replacingOccurrences(of: "shape: [4]", with: "shape: [4, 0]"))
        #expect(messages(r) == ["`shape` must be positive, found 0"])
        #expect(r.diagnostics.first?.location.line == 2)
    }

    @Test func integersBeyondSixtyFourBitsAreAnErrorNotATrap() {
        let r = SpecLoader.load(text: Self.small.replacingOccurrences(of: "units: 2", with: "units: 99999999999999999999"))
        #expect(messages(r) == ["`units` is too large: 99999999999999999999"])
    }
}
