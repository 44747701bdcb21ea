import Foundation
import Testing
@testable import BayesNetSpec

@Suite struct CompiledJSONTests {
    func compiled() throws -> [String: Any] {
        let json = try lenet().compiledJSON()
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    @Test func isValidJSONWithTheFormatHeader() throws {
        let o = try compiled()
        #expect(o["format"] as? String == "bayesnet-ir")
        #expect(o["format_version"] as? Int == 1)
        #expect(o["spec_version"] as? Int == 1)
        #expect(o["seed"] as? Int == 42)
    }

    @Test func layersCarryResolvedArgumentsAndShapes() throws {
        let layers = try #require(try compiled()["layers"] as? [[String: Any]])
        #expect(layers.count == 7)
        let conv = layers[2]
        #expect(conv["type_name"] as? String == "Conv2DFlipout")
        #expect(conv["op"] as? String == "convolution")
        #expect(conv["estimator"] as? String == "flipout")
        #expect(conv["filter_shape"] as? [Int] == [5, 5])
        #expect(conv["kernel_shape"] as? [Int] == [5, 5, 6, 16])
        #expect(conv["padding"] as? String == "SAME")
        #expect(conv["output_shape"] as? [Int] == [4, 4, 16])
        #expect((conv["kernel_initializer"] as? [String: Any])?["name"] as? String == "he_uniform")
        let variational = try #require(conv["variational"] as? [String: Any])
        #expect(variational["penalty_weight"] as? String == "auto")
        #expect((variational["prior"] as? [String: Any])?["scale2"] as? Double == 2000)
    }

    @Test func argumentLocationsPointIntoTheSpec() throws {
        let layers = try #require(try compiled()["layers"] as? [[String: Any]])
        let locations = try #require(layers[2]["argument_locations"] as? [String: [String: Int]])
        #expect(locations["output_size"] == ["line": 20, "column": 30])
        #expect(locations["padding"]?["line"] == 15)
    }

    @Test func totalsSumTheLayerSummaries() throws {
        let totals = try #require(try compiled()["totals"] as? [String: Int])
        #expect(totals == ["parameters": 17764, "macs": 108432])
    }

    @Test func outputIsTheSameOnEveryRun() throws {
        #expect(try lenet().compiledJSON() == lenet().compiledJSON())
    }

    @Test func fileSourcesCarryResolvedPaths() throws {
        let s = try #require(SpecLoader.load(text: "bayesnet: 1\ninput: {shape: [4]}\nlayers: [Flatten]\ndata: {train: {format: npy, x: a/x.npy}}", path: "specs/n.yaml").spec)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(s.compiledJSON().utf8)) as? [String: Any])
        let train = try #require((o["data"] as? [String: Any])?["train"] as? [String: Any])
        #expect(train["x_resolved"] as? String == "specs/a/x.npy")
        #expect(train["y"] is NSNull)
        #expect((o["data"] as? [String: Any])?["test"] is NSNull)
    }
}
