import Testing
@testable import BayesNetRuntime

@Test func cpuFeatureProbeRuns() {
    _ = Runtime.hasAVX2FMA
}
