import BayesNetFormats
import Foundation
import Testing
@testable import BayesNet
import BayesNetSpec

/// `evaluate --ood` and `--shift`: the separation scores, the shifts, and the whole study on a trained network.
@Suite struct SeparationTests {
    @Test func handMadeListsGiveTheirExactScores() {
        let s = Separation(positives: [0.9, 0.4], negatives: [0.5, 0.1])
        #expect(s.auroc == 0.75)
        #expect(abs(s.aupr - (0.5 + 0.5 * 2 / 3)) < 1e-12)
    }

    @Test func perfectSeparationScoresOne() {
        let s = Separation(positives: [3, 4, 5], negatives: [1, 2])
        #expect(s.auroc == 1 && s.aupr == 1)
    }

    @Test func identicalSetsScoreOneHalf() {
        let scores = [0.3, 0.1, 0.7, 0.7, 0.2]
        #expect(Separation(positives: scores, negatives: scores).auroc == 0.5)
    }

    @Test func tiesCountHalf() {
        #expect(Separation(positives: [1, 2], negatives: [1]).auroc == 0.75)
    }
}

@Suite struct ShiftTests {
    /// A 4x4 one-channel image with a single bright pixel at (row 1, column 2).
    static let dot: Dataset = {
        var x = [Float](repeating: 0, count: 16)
        x[1 * 4 + 2] = 1
        return Dataset(exampleShape: [4, 4, 1], count: 1, inputs: x, labels: [0])
    }()

    @Test func levelsParseAsOneValueOrASweep() throws {
        #expect(try Shift(parsing: "rotate=0:180:45").levels == [0, 45, 90, 135, 180])
        #expect(try Shift(parsing: "noise=0.3").levels == [0.3])
        #expect(try Shift(parsing: "invert").levels == [0, 1])
        #expect(throws: Shift.ParseError.unknownKind("rotat", suggestion: "rotate")) { try Shift(parsing: "rotat") }
        #expect(throws: Shift.ParseError.self) { try Shift(parsing: "blur=1:0:1") }
    }

    @Test func translateMovesPixelsRightAndDown() throws {
        let moved = try Shift(parsing: "translate").apply(to: Self.dot, level: 1, seed: 0).inputs
        #expect(moved[2 * 4 + 3] == 1 && moved.reduce(0, +) == 1)
    }

    @Test func fourQuarterTurnsComeBack() throws {
        let rotate = try Shift(parsing: "rotate")
        var d = Self.dot
        for _ in 0..<4 { d = rotate.apply(to: d, level: 90, seed: 0) }
        #expect(zip(d.inputs, Self.dot.inputs).allSatisfy { abs($0 - $1) < 1e-5 })
        let once = rotate.apply(to: Self.dot, level: 90, seed: 0).inputs
        #expect(once != Self.dot.inputs && abs(once.reduce(0, +) - 1) < 1e-5)
    }

    @Test func invertAndBlurKeepWhatTheyShould() throws {
        let inverted = try Shift(parsing: "invert").apply(to: Self.dot, level: 1, seed: 0).inputs
        #expect(inverted == Self.dot.inputs.map { 1 - $0 })
        let flat = Dataset(exampleShape: [4, 4, 1], count: 1, inputs: [Float](repeating: 0.5, count: 16), labels: [0])
        let blurred = try Shift(parsing: "blur").apply(to: flat, level: 1.5, seed: 0).inputs
        #expect(blurred.allSatisfy { abs($0 - 0.5) < 1e-6 })
    }

    @Test func noiseIsSeededAndHasItsScale() throws {
        let zeros = Dataset(exampleShape: [64], count: 100, inputs: [Float](repeating: 0, count: 6400), labels: nil)
        let noise = try Shift(parsing: "noise")
        let a = noise.apply(to: zeros, level: 0.5, seed: 1).inputs, b = noise.apply(to: zeros, level: 0.5, seed: 1).inputs
        #expect(a == b)
        let std = (a.map { Double($0 * $0) }.reduce(0, +) / Double(a.count)).squareRoot()
        #expect(abs(std - 0.5) < 0.02)
    }
}

@Suite struct UncertaintyStudyTests {
    /// A short digits run, its spec, and the raw test images (bytes 0-16) as a user would have them.
    static let run: (spec: ModelSpec, weights: String, rawTest: String, constant: String) = {
        let dir = TestNetworks.temporaryDirectory("study")
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let spec = SpecLoader.load(text: """
            bayesnet: 1
            name: study
            seed: 5
            input: {shape: [8, 8, 1]}
            layers: [Flatten, {DenseFlipout: {units: 32, activation: relu}}, {DenseFlipout: {units: 10}}]
            likelihood: categorical
            data:
              train: {builtin: digits, split: train}
              test: {builtin: digits, split: test}
            train: {epochs: 10, batch_size: 64, optimizer: {adam: {learning_rate: 0.01}}}
            evaluate: {samples: 8}

            """, path: "<study>.yaml").spec!
        _ = try! Runner.run(spec: spec, options: RunOptions(outputDirectory: dir + "/run"))
        let test = try! DataLoader.builtin(.digits, split: "test")
        let bytes = test.inputs.map { UInt8(($0 * 16).rounded()) }
        try! NPY.write(NumericArray(shape: [test.count, 8, 8], storage: .uint8(bytes)), to: dir + "/raw.npy")
        try! NPY.write(NumericArray(shape: [100, 8, 8], storage: .uint8([UInt8](repeating: 16, count: 6400))), to: dir + "/constant.npy")
        return (spec, dir + "/run/checkpoint.safetensors", dir + "/raw.npy", dir + "/constant.npy")
    }()

    @Test func theTestSetAgainstItselfScoresOneHalf() throws {
        let r = try Serving.uncertaintyStudy(spec: Self.run.spec, weights: Self.run.weights, samples: nil, seed: nil,
                                             ood: Self.run.rawTest, shift: nil)
        let o = try #require(r.ood)
        #expect(o.entropy.auroc == 0.5 && o.mutualInformation.auroc == 0.5)
    }

    @Test func constantImagesAreToldApart() throws {
        let r = try Serving.uncertaintyStudy(spec: Self.run.spec, weights: Self.run.weights, samples: nil, seed: nil,
                                             ood: Self.run.constant, shift: nil)
        let o = try #require(r.ood)
        #expect(o.entropy.auroc > 0.9, "\(o.entropy)")
    }

    @Test func accuracyFallsAsTheTestSetIsRotated() throws {
        let r = try Serving.uncertaintyStudy(spec: Self.run.spec, weights: Self.run.weights, samples: nil, seed: nil,
                                             ood: nil, shift: try Shift(parsing: "rotate=0:90:45"))
        #expect(r.shift.map(\.level) == [0, 45, 90])
        #expect(r.shift[0].metrics.accuracy > 0.8)
        #expect(r.shift[2].metrics.accuracy < 0.5 * r.shift[0].metrics.accuracy)
        // A network that is wrong more often is also wrong with confidence: its NLL grows (its entropy need not,
        // which is what the study is there to show).
        #expect(r.shift[2].metrics.nll > 2 * r.shift[0].metrics.nll)
    }
}
