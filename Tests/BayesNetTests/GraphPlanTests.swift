import BayesNetSpec
import Foundation
import Testing
import TestSupport
@testable import BayesNet

/// Graph specs validate, but the plan cannot run them yet: it refuses them with a typed error, and
/// `bayesnet run` exits 1 before making a run folder.
@Suite struct GraphPlanTests {
    static func load(_ layers: String) throws -> ModelSpec {
        let text = """
            bayesnet: 1
            seed: 3
            input: {shape: [64]}
            layers:
            \(layers)
            likelihood: categorical
            data: {train: {builtin: digits, split: train}}
            train: {epochs: 1}

            """
        let result = SpecLoader.load(text: text, path: "graph.yaml")
        return try #require(result.spec, "\(result.diagnostics.map(\.message))")
    }

    @Test func aGraphLayerKindIsRefused() throws {
        let spec = try Self.load("  - Dense: {units: 4}\n  - Dropout: {rate: 0.5}\n  - Dense: {units: 10}")
        #expect(throws: PlanError.layerNotRunnable(layer: "dropout_1", typeName: "Dropout")) {
            _ = try Network<Float>(spec: spec, seed: 1, trainingExamples: 1, maxBatch: 1)
        }
    }

    @Test func anEdgeThatSkipsALayerIsRefused() throws {
        let spec = try Self.load("  - Dense: {name: a, units: 4}\n  - Dense: {name: b, units: 4, inputs: input}\n  - Add: {inputs: [a, b]}\n  - Dense: {units: 10}")
        #expect(throws: PlanError.edgeNotRunnable(layer: "b", inputs: ["input"])) {
            _ = try Network<Float>(spec: spec, seed: 1, trainingExamples: 1, maxBatch: 1)
        }
    }

    @Test func aChainWrittenWithInputsStillRuns() throws {
        let spec = try Self.load("  - Dense: {name: a, units: 4}\n  - Dense: {name: b, units: 10, inputs: a}")
        #expect(spec.firstGraphLayer == nil)
        _ = try Network<Float>(spec: spec, seed: 1, trainingExamples: 1, maxBatch: 1)
    }

    @Test func runRefusesTheResNetSpecWithExitOneAndNoRunFolder() throws {
        let root = NSTemporaryDirectory() + "bayesnet-graph-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("specs/resnet-flipout-mnist.yaml").path
        let r = try BayesnetProcess.run(["run", spec, "--out", root + "/run"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("error: layer `stem_bn`: `BatchNormalization` layers cannot run yet"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/run"))
    }
}
