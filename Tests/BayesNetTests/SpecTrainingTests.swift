import Foundation
import Testing
@testable import BayesNet
import BayesNetSpec

/// The rank-1 and rank-3 specs of `specs/` learn, well above chance, from small data generated here.
@Suite struct SpecTrainingTests {
    static let specs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("specs")

    static func load(_ file: String) throws -> ModelSpec {
        let result = SpecLoader.load(path: specs.appendingPathComponent(file).path)
        return try #require(result.spec, "\(result.diagnostics)")
    }

    static func accuracy(_ spec: ModelSpec, train: Dataset, test: Dataset) throws -> Double {
        let dir = TestNetworks.temporaryDirectory(spec.name)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Runner.run(spec: spec, train: train, test: test, options: RunOptions(outputDirectory: dir))
        let json = try #require(result.evaluation?.json.rendered())
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        return (object["predictive"] as! [String: Any])["accuracy"] as! Double
    }

    @Test func rank1SequenceSpecLearnsThreeClasses() throws {
        let spec = try Self.load("sequence-conv1d-flipout.yaml")
        let shape = spec.input.shape
        let train = TestNetworks.patterns(shape: shape, classes: 3, count: 150, noise: 1.5, seed: 500)
        let test = TestNetworks.patterns(shape: shape, classes: 3, count: 60, noise: 1.5, seed: 500, split: 1)
        let accuracy = try Self.accuracy(spec, train: train, test: test)
        #expect(accuracy > 0.8, "accuracy \(accuracy); chance is 1/3")
    }

    @Test func rank3VolumeSpecLearnsTwoClasses() throws {
        var spec = try Self.load("volume-conv3d-flipout.yaml")
        spec.train.epochs = 4
        let shape = spec.input.shape
        let train = TestNetworks.patterns(shape: shape, classes: 2, count: 48, noise: 1.5, seed: 600)
        let test = TestNetworks.patterns(shape: shape, classes: 2, count: 24, noise: 1.5, seed: 600, split: 1)
        let accuracy = try Self.accuracy(spec, train: train, test: test)
        #expect(accuracy > 0.8, "accuracy \(accuracy); chance is 1/2")
    }
}
