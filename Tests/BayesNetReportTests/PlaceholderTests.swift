import Testing
@testable import BayesNetReport

@Test func moduleLoads() { #expect(Bool(true)) }
