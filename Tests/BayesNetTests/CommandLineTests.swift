import BayesNetFormats
import Foundation
import Testing
import TestSupport
@testable import BayesNet

/// `bayesnet run`, `predict` and `evaluate` as a user runs them: output, files and exit codes.
@Suite(.serialized) struct CommandLineTests {
    static let spec = """
        bayesnet: 1
        name: command-line
        seed: 9
        input: {shape: [8, 8, 1]}
        layers:
          - Conv2DFlipout: {filters: 4, kernel_size: 3, padding: same, activation: relu}
          - MaxPool: {pool_size: 2}
          - Flatten
          - DenseFlipout: {units: 10, name: logits}
        likelihood: categorical
        data:
          train: {builtin: digits, split: train}
          test: {builtin: digits, split: test}
        train: {epochs: 2, batch_size: 100, optimizer: {adam: {learning_rate: 0.01}}}
        evaluate: {samples: 4}

        """

    /// A trained run folder and its spec, made once.
    static let folder: (root: String, spec: String, run: String) = {
        let root = NSTemporaryDirectory() + "bayesnet-cli-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let spec = root + "/spec.yaml"
        try! Self.spec.write(toFile: spec, atomically: true, encoding: .utf8)
        return (root, spec, root + "/run")
    }()

    /// The run behind the predict and evaluate tests, trained once (a second run into its folder is refused).
    static let trained: BayesnetProcess.Outcome = try! BayesnetProcess.run(["run", folder.spec, "--out", folder.run])

    static func trainedRun() throws -> BayesnetProcess.Outcome { trained }

    @Test func runPrintsOnePlainLinePerEpochWhenNotOnATerminal() throws {
        let r = try Self.trainedRun()
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("epoch ") }.count == 2)
        #expect(lines.contains { $0.hasPrefix("epoch 1/2  loss ") })
        #expect(lines.contains { $0.hasPrefix("predictive (4 samples): accuracy ") })
        #expect(!r.stdout.contains("\r"))
    }

    @Test func quietRunPrintsNoEpochLines() throws {
        let r = try BayesnetProcess.run(["run", Self.folder.spec, "--out", Self.folder.root + "/quiet", "--quiet", "--epochs", "1"])
        #expect(r.status == 0)
        #expect(!r.stdout.contains("epoch "))
    }

    @Test func runWithReportWritesTheHTMLPageIntoTheRunFolder() throws {
        let out = Self.folder.root + "/with-report"
        let r = try BayesnetProcess.run(["run", Self.folder.spec, "--out", out, "--quiet", "--epochs", "1", "--report"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("report: \(out)/report.html"))
        let page = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<svg"))
    }

    @Test func predictWritesOutputsProbabilitiesAndUncertainty() throws {
        _ = try Self.trainedRun()
        let root = Self.folder.root
        let x = TestNetworks.uniforms(7 * 64, seed: 3).map(Float.init)
        try NPY.writeFloat32(x, shape: [7, 8, 8, 1], to: root + "/x.npy")
        let r = try BayesnetProcess.run(["predict", Self.folder.spec, "--weights", Self.folder.run + "/checkpoint.safetensors",
                                   "--input", root + "/x.npy", "--output", root + "/y.npy", "--samples", "3",
                                   "--probabilities", root + "/p.npy", "--uncertainty", root + "/u.csv"])
        #expect(r.status == 0, "\(r.stderr)")
        let y = try NPY.read(path: root + "/y.npy")
        #expect(y.shape == [7, 10])
        let p = try NPY.read(path: root + "/p.npy")
        #expect(p.shape == [7, 10])
        let csv = try String(contentsOfFile: root + "/u.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "index,entropy,expected_entropy,mutual_information,valid")
        #expect(csv.count == 8)
    }

    /// `predict --uncertainty` and the run's predictions.csv come from one accumulator: on the run's own test
    /// inputs with the evaluation's sample count, every row agrees.
    @Test func predictUncertaintyAgreesWithTheRunsPredictions() throws {
        _ = try Self.trainedRun()
        let root = Self.folder.root, run = Self.folder.run
        let r = try BayesnetProcess.run(["predict", Self.folder.spec, "--weights", run + "/checkpoint.safetensors",
                                         "--input", run + "/test-inputs.npy", "--raw", "--samples", "4",
                                         "--output", root + "/agree.npy", "--uncertainty", root + "/agree.csv"])
        #expect(r.status == 0, "\(r.stderr)")
        func columns(_ path: String, _ names: [String]) throws -> [[Double]] {
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            let header = lines[0].split(separator: ",").map(String.init)
            let at = names.map { header.firstIndex(of: $0)! }
            return lines.dropFirst().map { line in
                let cells = line.split(separator: ",", omittingEmptySubsequences: false)
                return at.map { Double(cells[$0])! }
            }
        }
        let names = ["entropy", "expected_entropy", "mutual_information"]
        let predicted = try columns(root + "/agree.csv", names)
        let evaluated = try columns(run + "/predictions.csv", names)
        #expect(predicted.count == evaluated.count && !predicted.isEmpty)
        for (a, b) in zip(predicted, evaluated) {
            for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-9, "\(a) vs \(b)") }
        }
    }

    @Test func predictRefusesAnInputOfTheWrongShape() throws {
        _ = try Self.trainedRun()
        let root = Self.folder.root
        try NPY.writeFloat32([Float](repeating: 0, count: 3 * 9), shape: [3, 9], to: root + "/bad.npy")
        let r = try BayesnetProcess.run(["predict", Self.folder.spec, "--weights", Self.folder.run + "/checkpoint.safetensors",
                                   "--input", root + "/bad.npy", "--output", root + "/never.npy"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("examples have shape [9] but input.shape is [8, 8, 1]"))
        #expect(!FileManager.default.fileExists(atPath: root + "/never.npy"))
    }

    @Test func evaluatePrintsThePredictiveAndPosteriorMeanFigures() throws {
        _ = try Self.trainedRun()
        let r = try BayesnetProcess.run(["evaluate", Self.folder.spec, "--weights", Self.folder.run + "/checkpoint.safetensors",
                                   "--samples", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("predictive (3 samples): accuracy "))
        #expect(r.stdout.contains("posterior mean:"))
    }

    @Test func badCommandLineUseExitsWith64() throws {
        let r = try BayesnetProcess.run(["run", Self.folder.spec, "--epochs", "0"])
        #expect(r.status == 64)
    }

    @Test func missingCheckpointExitsWith1() throws {
        let r = try BayesnetProcess.run(["evaluate", Self.folder.spec, "--weights", Self.folder.root + "/nothing.safetensors"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("nothing.safetensors"))
    }

    @Test func invalidSpecExitsWith1() throws {
        let bad = Self.folder.root + "/bad.yaml"
        try "bayesnet: 1\nname: x\nlayers: 3\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try BayesnetProcess.run(["run", bad, "--out", Self.folder.root + "/bad-run"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("error"))
    }
}
