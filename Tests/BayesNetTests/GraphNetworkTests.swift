import Foundation
import Testing
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// Graph networks in Double: back-propagation through skip connections, merges, batch normalization (training
/// mode) and global pooling against central finite differences of NLL + KL, the noise held fixed.
@Suite struct GraphGradientCheckTests {
    static func spec(_ input: String, _ layers: String) throws -> ModelSpec {
        let text = """
            bayesnet: 1
            seed: 3
            dtype: float64
            input: {shape: \(input)}
            layers:
            \(layers)
            likelihood: categorical

            """
        let result = SpecLoader.load(text: text, path: "graph.yaml")
        return try #require(result.spec, "\(result.diagnostics.map(\.message))")
    }

    @Test func residualBlockWithBatchNormalizationAndGlobalAveragePooling() throws {
        try GradientCheckTests.check(Self.spec("[5, 5, 2]", """
              - Conv2DFlipout: {name: stem, filters: 3, kernel_size: 3, padding: same, activation: tanh, penalty_weight: 0.05}
              - Conv2DFlipout: {name: conv, filters: 3, kernel_size: 3, padding: same, penalty_weight: 0.05}
              - BatchNormalization: {name: bn}
              - Add: {name: add, inputs: [bn, stem]}
              - Activation: tanh
              - GlobalAveragePooling2D: {name: pool}
              - DenseFlipout: {units: 3, penalty_weight: 0.05}
            """))
    }

    @Test func branchesJoinedByConcatenateWithGlobalMaxPooling() throws {
        try GradientCheckTests.check(Self.spec("[6, 2]", """
              - Conv1DFlipout: {name: stem, filters: 3, kernel_size: 3, padding: same, activation: tanh, penalty_weight: 0.05}
              - Conv1D: {name: left, filters: 2, kernel_size: 3, padding: same, activation: tanh}
              - Conv1DFlipout: {name: right, filters: 3, kernel_size: 1, activation: sigmoid, inputs: stem, penalty_weight: 0.05}
              - Concatenate: {name: join, inputs: [left, right, stem]}
              - GlobalMaxPooling1D: {name: pool}
              - Dense: {units: 3}
            """))
    }

    @Test func denseBatchNormalizationOnASkipWithDropout() throws {
        try GradientCheckTests.check(Self.spec("[4]", """
              - DenseFlipout: {name: a, units: 5, activation: tanh, penalty_weight: 0.05}
              - BatchNormalization: {name: bn, momentum: 0.9}
              - Dropout: {name: drop, rate: 0.3}
              - Dense: {name: b, units: 5, activation: elu}
              - Add: {name: add, inputs: [b, a, bn]}
              - DenseFlipout: {units: 3, penalty_weight: 0.05}
            """))
    }

    @Test func aBranchNothingReadsAddsNoGradient() throws {
        // `dead` is read by nothing (a warning): its output's gradient is zero, whatever its buffer held before.
        try GradientCheckTests.check(Self.spec("[4]", """
              - DenseFlipout: {name: a, units: 5, activation: tanh, penalty_weight: 0.05}
              - Activation: {name: dead, activation: sigmoid}
              - Dense: {name: b, units: 5, activation: tanh, inputs: a}
              - Dense: {name: c, units: 5, activation: tanh}
              - DenseFlipout: {units: 3, penalty_weight: 0.05}
            """))
    }

    @Test func concatenateAlongASpatialAxis() throws {
        try GradientCheckTests.check(Self.spec("[4, 3, 2]", """
              - Conv2DFlipout: {name: top, filters: 2, kernel_size: 3, padding: same, activation: tanh, penalty_weight: 0.05}
              - Conv2D: {name: bottom, filters: 2, kernel_size: [2, 1], padding: valid, activation: tanh, inputs: input}
              - Concatenate: {name: join, axis: 1, inputs: [top, bottom]}
              - GlobalMaxPooling2D: {name: pool}
              - Dense: {units: 3}
            """))
    }
}
