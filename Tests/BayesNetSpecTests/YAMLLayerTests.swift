import Testing
@testable import BayesNetSpec

func parse(_ text: String, limits: YAMLParser.Limits = .init()) -> (YAMLNode?, [Diagnostic]) {
    var ds: [Diagnostic] = []
    let node = YAMLParser(file: "t.yaml", limits: limits).parse(text, diagnostics: &ds)
    return (node, ds)
}

@Suite struct YAMLLayerTests {
    @Test func everyNodeCarriesItsOneBasedStartAndEnd() throws {
        let (node, ds) = parse("a: 1\nb:\n  - xy\n")
        #expect(ds.isEmpty)
        let pairs = try #require(node?.pairs)
        #expect(pairs[1].key.location == SourceLocation(file: "t.yaml", line: 2, column: 1))
        let item = try #require(pairs[1].value.items?.first)
        #expect(item.location == SourceLocation(file: "t.yaml", line: 3, column: 5))
        #expect(item.end == SourceLocation(file: "t.yaml", line: 3, column: 7))
    }

    @Test func quotedScalarsAreNotPlain() throws {
        let pairs = try #require(parse("a: '1'\nb: 1\nc: !!str 1\n").0?.pairs)
        #expect(pairs.map(\.value.isPlainScalar) == [false, true, false])
    }

    @Test func nullForms() throws {
        let pairs = try #require(parse("a:\nb: ~\nc: null\nd: 'null'\n").0?.pairs)
        #expect(pairs.map(\.value.isNull) == [true, true, true, false])
    }

    /// libyaml starts an anchored node at its `&`.
    @Test func aliasKeepsTheAnchoredValuesLocation() throws {
        let pairs = try #require(parse("a: &x {k: 1}\nb: *x\n").0?.pairs)
        #expect(pairs[1].value.location == SourceLocation(file: "t.yaml", line: 1, column: 4))
        #expect(pairs[1].value.pairs?.first?.key.scalar == "k")
    }

    @Test func mergeKeyFillsOnlyWhatTheMappingLacks() throws {
        let pairs = try #require(parse("a: &x {k: 1, m: 2}\nb: {<<: *x, k: 3}\n").0?.pairs)
        let merged = try #require(pairs[1].value.pairs)
        #expect(merged.map { $0.key.scalar! } == ["k", "m"])
        #expect(merged[0].value.scalar == "3")
        #expect(merged[1].value.location.line == 1)
    }

    @Test func mergeKeyTakesAListOfMappingsEarlierWinning() throws {
        let pairs = try #require(parse("a: &x {k: 1}\nb: &y {k: 2, n: 3}\nc: {<<: [*x, *y]}\n").0?.pairs)
        let merged = try #require(pairs[2].value.pairs)
        #expect(merged.map { "\($0.key.scalar!)=\($0.value.scalar!)" } == ["k=1", "n=3"])
    }

    @Test func duplicateKeyIsReportedAtTheSecondKey() {
        let ds = parse("a: 1\nb: 2\na: 3\n").1
        #expect(ds.map(\.id) == [.duplicateKey])
        #expect(ds.first?.location.line == 3)
        #expect(ds.first?.notes.map(\.location.line) == [1])
    }

    @Test func quotedMergeKeyIsAnOrdinaryKey() throws {
        let pairs = try #require(parse("'<<': 1\n").0?.pairs)
        #expect(pairs.first?.key.scalar == "<<")
    }

    @Test func nestingDepthIsBounded() {
        var limits = YAMLParser.Limits()
        limits.maxDepth = 3
        #expect(parse("a: [[1]]", limits: limits).1.isEmpty)
        #expect(parse("a: [[[1]]]", limits: limits).1.map(\.message) == ["nesting deeper than 3 levels (raise the limit with --max-nesting)"])
    }

    @Test func aliasExpansionIsBoundedWithoutExpanding() {
        var text = "a: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<40 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let ds = parse(text).1
        #expect(ds.count == 1)
        #expect(ds.first?.message.hasPrefix("the document expands to more than 100000 nodes") == true)
    }

    @Test func syntaxErrorUsesLibyamlsPosition() {
        let ds = parse("a: [1, 2\nb: 3\n").1
        #expect(ds.count == 1)
        #expect(ds.first?.message.hasPrefix("YAML syntax error: ") == true)
        #expect(ds.first.map { ($0.location.line, $0.location.column) } ?? (0, 0) == (2, 2))
    }
}
