import Testing
import BayesNetSpec

@Test func penaltyWeightAutoIsOnePerExample() {
    #expect(PenaltyWeight.auto.resolved(trainingExamples: 1500) == 1.0 / 1500)
}
