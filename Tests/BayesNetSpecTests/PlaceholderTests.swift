import Testing
@testable import BayesNetSpec

@Test func sourceLocationPrintsFileLineColumn() {
    #expect(SourceLocation(file: "a.yaml", line: 3, column: 7).description == "a.yaml:3:7")
}
