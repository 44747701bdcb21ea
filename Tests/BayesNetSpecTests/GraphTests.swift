import Foundation
import Testing
@testable import BayesNetSpec

/// Every spec in Fixtures/warnings/: valid, with exactly its pinned diagnostics, all warnings.
func warningFixtures() -> [String] { yamlFiles(in: packageRoot() + "/Tests/BayesNetSpecTests/Fixtures/warnings") }

@Suite struct WarningFixtureTests {
    @Test(arguments: warningFixtures())
    func fixtureIsValidWithExactlyItsPinnedWarnings(path: String) {
        let result = SpecLoader.load(path: path)
        let expected = expectations(in: result.source.text)
        #expect(!expected.isEmpty, "the fixture pins no diagnostic")
        #expect(result.spec != nil)
        #expect(result.diagnostics.map(Expected.init) == expected)
        #expect(result.diagnostics.allSatisfy { $0.severity == .warning })
    }

    @Test func everyGraphDiagnosticIsPinnedByAFixture() throws {
        let texts = try (invalidFixtures() + warningFixtures()).map { try String(contentsOfFile: $0, encoding: .utf8) }
        let graph: [DiagnosticID] = [.unknownInput, .inputCount, .graphCycle, .unreadOutput, .multipleOutputs,
                                     .addShapeMismatch, .concatenateShapeMismatch, .unknownParameter, .mcDropoutWithoutDropout]
        for id in graph {
            #expect(texts.contains { $0.contains("[\(id.rawValue)]:") }, "\(id.rawValue)")
        }
    }
}

@Suite struct GraphLoweringTests {
    func load(_ layers: String, input: String = "[8, 8, 3]", extra: String = "") throws -> ModelSpec {
        let text = "bayesnet: 1\ninput: {shape: \(input)}\n\(extra)layers:\n\(layers)"
        let result = SpecLoader.load(text: text, path: "net.yaml")
        return try #require(result.spec, "\(result.diagnostics.map(\.message))")
    }

    @Test func aStackReadsThePreviousLayer() throws {
        let spec = try load("  - Conv2D: {filters: 2, kernel_size: 3}\n  - Flatten\n  - Dense: {units: 2}\n")
        #expect(spec.layers.map(\.inputs) == [["input"], ["conv_0"], ["flatten_1"]])
        #expect(spec.isChain)
        #expect(spec.firstGraphLayer == nil)
    }

    @Test func aLayerWrittenBeforeWhatItReadsRunsAfterIt() throws {
        let spec = try load("""
              - Dense: {name: late, units: 2, inputs: early}
              - Dense: {name: early, units: 3, inputs: input}
              - Add: {name: sum, inputs: [late, late]}

            """, input: "[4]")
        #expect(spec.layers.map(\.name) == ["early", "late", "sum"])
        #expect(spec.layers[1].inputShape == [3])
        #expect(spec.outputShape == [2])
    }

    @Test func concatenateAddsUpItsAxis() throws {
        let spec = try load("""
              - Conv2D: {name: a, filters: 2, kernel_size: 1}
              - Conv2D: {name: b, filters: 5, kernel_size: 1, inputs: input}
              - Concatenate: {inputs: [a, b]}
              - Concatenate: {inputs: [concatenate_2, concatenate_2], axis: 1}

            """)
        #expect(spec.layers[2].op == .concatenate(axis: 2))
        #expect(spec.layers[2].outputShape == [8, 8, 7])
        #expect(spec.layers[3].op == .concatenate(axis: 0))
        #expect(spec.layers[3].outputShape == [16, 8, 7])
        #expect(!spec.isChain)
    }

    @Test func newLayersTakeKerasDefaults() throws {
        let spec = try load("  - BatchNormalization\n  - Dropout: {rate: 0.25}\n  - Activation: relu\n  - GlobalAvgPool2D\n")
        #expect(spec.layers.map(\.op) == [.batchNormalization(BatchNormalizationOp(channels: 3, momentum: 0.99, epsilon: 1e-3, center: true, scale: true)),
                                          .dropout(rate: 0.25), .activation(.relu), .globalPool(GlobalPoolOp(kind: .average, rank: 2))])
        #expect(spec.outputShape == [3])
        #expect(spec.evaluate.mcDropout == false)
        #expect(spec.firstGraphLayer?.name == "batch_normalization_0")
    }

    @Test func mcDropoutIsRead() throws {
        let spec = try load("  - Dropout: {rate: 0.5}\n", input: "[4]", extra: "evaluate: {mc_dropout: true}\n")
        #expect(spec.evaluate.mcDropout)
    }

    @Test func blockInstancesArePrefixedAndSubstituted() throws {
        let spec = try load("""
              - Conv2D: {name: stem, filters: 4, kernel_size: 3, padding: same}
              - unit: {name: u1}
              - unit: {name: u2, filters: 4, inputs: stem}
              - Add: {inputs: [u1, u2]}

            """, extra: """
            blocks:
              unit:
                parameters: {filters: 4}
                layers:
                  - Conv2D: {name: conv, filters: $filters, kernel_size: 3, padding: same}
                  - Add: {inputs: [conv, input]}

            """)
        #expect(spec.layers.map(\.name) == ["stem", "u1/conv", "u1/add_1", "u2/conv", "u2/add_1", "add_3"])
        #expect(spec.layers.map(\.inputs) == [["input"], ["stem"], ["u1/conv", "stem"], ["stem"], ["u2/conv", "stem"], ["u1/add_1", "u2/add_1"]])
        // Locations are the block's lines: where each layer is written.
        #expect(spec.layers[1].location.line == spec.layers[3].location.line)
    }

    @Test func anInstanceValueKeepsItsOwnLocation() throws {
        let result = SpecLoader.load(text: """
            bayesnet: 1
            input: {shape: [4]}
            blocks:
              fc:
                parameters: {units: null}
                layers: [{Dense: {units: $units}}]
            layers:
              - fc: {units: -1}

            """, path: "net.yaml")
        let d = try #require(result.diagnostics.first)
        #expect(d.id == .outOfRange)
        #expect((d.location.line, d.location.column) == (8, 17))
        #expect(d.notes.map(\.location.line) == [8])
    }

    @Test func compiledJSONWritesTheEdges() throws {
        let spec = try load("  - Dense: {name: a, units: 2}\n  - Dense: {name: b, units: 2, inputs: input}\n  - Add: {inputs: [a, b]}\n", input: "[4]")
        let json = try JSONSerialization.jsonObject(with: Data(spec.compiledJSON().utf8)) as! [String: Any]
        let layers = json["layers"] as! [[String: Any]]
        #expect(layers.map { $0["inputs"] as! [String] } == [["input"], ["input"], ["a", "b"]])
        #expect(layers[2]["op"] as? String == "add")
        #expect(layers[2]["input_shapes"] as? [[Int]] == [[2], [2]])
        #expect((json["evaluate"] as? [String: Any])?["mc_dropout"] as? Bool == false)
    }

    @Test func inspectShowsTheInputsOfAGraph() throws {
        let spec = try load("  - Dense: {name: a, units: 2}\n  - Dense: {name: b, units: 2, inputs: input}\n  - Add: {inputs: [a, b]}\n", input: "[4]")
        let lines = spec.summaryTable().split(separator: "\n").map(String.init)
        #expect(lines[2].hasSuffix("Inputs"))
        #expect(lines.contains { $0.hasPrefix("add_2 (Add)") && $0.hasSuffix("a, b") })
    }

    @Test func tfpExportWritesAGraphWithTheFunctionalAPI() throws {
        let spec = try load("  - Dense: {name: a, units: 2}\n  - Dense: {name: b, units: 2, inputs: input}\n  - Add: {inputs: [a, b]}\n", input: "[4]")
        let module = spec.tfpModule(trainingExamples: 10)
        #expect(module.diagnostics == [])
        let text = try #require(module.text)
        #expect(text.contains("    x[\"add_2\"] = layers[\"add_2\"]([x[\"a\"], x[\"b\"]])\n"))
        #expect(text.contains("    return tf_keras.Model(inputs, x[\"add_2\"], name="))
    }

    @Test func tfpExportWritesAStackWithANewLayerKindWithTheFunctionalAPI() throws {
        let spec = try load("  - Flatten\n  - Dropout: {rate: 0.1}\n  - Dense: {units: 2}\n", input: "[4, 1]")
        #expect(spec.isChain)
        let text = try #require(spec.tfpModule(trainingExamples: 10).text)
        #expect(text.contains("    x[\"dropout_1\"] = layers[\"dropout_1\"](x[\"flatten_0\"], training=dropout_training)\n"))
        #expect(!text.contains("tf_keras.Sequential("))
    }
}
