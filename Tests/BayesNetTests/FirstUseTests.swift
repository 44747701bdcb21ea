import BayesNetFormats
import Foundation
import Testing
import TestSupport
@testable import BayesNet

/// Defects a new user met in their first hour: each test reproduces one and fails on the code that had it.
@Suite(.serialized) struct FirstUseTests {
    /// A folder with byte-valued 8x8 images and labels, a spec that scales them by 1/255, and a short run on them.
    static let setup: (root: String, spec: String, run: String, bytes: String, labels: [Int32]) = {
        let root = NSTemporaryDirectory() + "bayesnet-first-use-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let n = 120
        let u = TestNetworks.uniforms(n * 64, seed: 5)
        let labels = (0..<n).map { Int32($0 % 10) }
        // Class k brightens row k mod 8, so the network has something to learn.
        let bytes = (0..<(n * 64)).map { i -> UInt8 in
            let row = (i % 64) / 8
            return UInt8(min(255, u[i] * 120 + (row == Int(labels[i / 64]) % 8 ? 130 : 0)))
        }
        try! NPY.write(NumericArray(shape: [n, 8, 8], storage: .uint8(bytes)), to: root + "/x.npy")
        try! NPY.write(NumericArray(shape: [n], storage: .int32(labels)), to: root + "/y.npy")
        let spec = """
            bayesnet: 1
            name: bytes
            seed: 3
            input: {shape: [8, 8, 1]}
            layers:
              - Flatten
              - DenseFlipout: {units: 10, name: logits}
            likelihood: categorical
            data:
              train: {format: npy, x: x.npy, y: y.npy, scale: 0.00392156862745098}
              test: {format: npy, x: x.npy, y: y.npy, scale: 0.00392156862745098}
            train: {epochs: 2, batch_size: 40, optimizer: {adam: {learning_rate: 0.01}}}
            evaluate: {samples: 2}

            """
        try! spec.write(toFile: root + "/spec.yaml", atomically: true, encoding: .utf8)
        let r = try! BayesnetProcess.run(["run", root + "/spec.yaml", "--out", root + "/run", "--quiet"])
        precondition(r.status == 0, r.stderr)
        return (root, root + "/spec.yaml", root + "/run", root + "/x.npy", labels)
    }()

    static func predict(_ input: String, _ extra: [String] = []) throws -> (BayesnetProcess.Outcome, String) {
        let out = setup.root + "/out-\(UUID().uuidString).npy"
        let r = try BayesnetProcess.run(["predict", setup.spec, "--weights", setup.run, "--input", input,
                                         "--output", out, "--posterior-mean"] + extra)
        return (r, out)
    }

    @Test func predictAppliesTheTrainingDataScale() throws {
        let (raw, rawOut) = try Self.predict(Self.setup.bytes)
        #expect(raw.status == 0, "\(raw.stderr)")
        // The run folder's test inputs are the scaled bytes as the network saw them.
        let (scaled, scaledOut) = try Self.predict(Self.setup.run + "/test-inputs.npy", ["--raw"])
        #expect(scaled.status == 0, "\(scaled.stderr)")
        let a = try NPY.read(path: rawOut).values, b = try NPY.read(path: scaledOut).values
        #expect(a.count == b.count)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
        #expect(a.allSatisfy { abs($0) < 100 }, "logits of unscaled bytes")
    }

    @Test func predictRefusesNonFiniteInputsNamingTheExample() throws {
        var x = [Float](repeating: 0.5, count: 4 * 64)
        x[2 * 64 + 7] = .infinity
        let path = Self.setup.root + "/inf.npy"
        try NPY.writeFloat32(x, shape: [4, 8, 8, 1], to: path)
        let (r, out) = try Self.predict(path, ["--raw"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("(example 2) is not finite"))
        #expect(r.stderr.contains("--allow-nonfinite"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func allowNonfiniteMarksTheRowInvalidInEveryOutput() throws {
        var x = [Float](repeating: 0.5, count: 3 * 64)
        x[1 * 64] = .nan
        let path = Self.setup.root + "/nan.npy"
        try NPY.writeFloat32(x, shape: [3, 8, 8, 1], to: path)
        let u = Self.setup.root + "/u.csv", p = Self.setup.root + "/p.npy"
        let (r, out) = try Self.predict(path, ["--raw", "--allow-nonfinite", "--uncertainty", u, "--probabilities", p])
        #expect(r.status == 0, "\(r.stderr)")
        let y = try NPY.read(path: out).values
        #expect(y[10..<20].allSatisfy { $0.isNaN })
        #expect(y[0..<10].allSatisfy { $0.isFinite } && y[20..<30].allSatisfy { $0.isFinite })
        let probabilities = try NPY.read(path: p).values
        #expect(probabilities[10..<20].allSatisfy { $0.isNaN })
        let rows = try String(contentsOfFile: u, encoding: .utf8).split(separator: "\n")
        #expect(rows[0].hasSuffix(",valid"))
        #expect(rows[2].hasPrefix("1,nan,") && rows[2].hasSuffix(",0"))
        #expect(rows[1].hasSuffix(",1") && rows[3].hasSuffix(",1"))
    }

    @Test func predictTakesEveryInputShapeTrainingTakes() throws {
        let x = [Float](repeating: 0.25, count: 2 * 64)
        for shape in [[2, 8, 8], [2, 1, 8, 8], [2, 8, 8, 1]] {
            let path = Self.setup.root + "/shape-\(shape.count).npy"
            try NPY.writeFloat32(x, shape: shape, to: path)
            let (r, _) = try Self.predict(path, ["--raw"])
            #expect(r.status == 0, "\(shape): \(r.stderr)")
        }
    }

    @Test func versionIsPrinted() throws {
        let r = try BayesnetProcess.run(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("bayesnet \(bayesnetVersion)"))
    }

    @Test func benchStatesSmallModelsInAReadableUnit() throws {
        let r = try BayesnetProcess.run(["bench", Self.setup.spec, "--steps", "2", "--warmup", "1", "--mode", "predict"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("kFLOP per example forward"), "\(r.stdout)")
        #expect(!r.stdout.contains("0.000 GFLOP"))
    }

    @Test func channelsFirstDataIsToldToSetTheLayout() throws {
        let spec = Self.setup.root + "/rgb.yaml"
        try """
            bayesnet: 1
            name: rgb
            input: {shape: [4, 4, 3]}
            layers: [Flatten, {DenseFlipout: {units: 2}}]

            """.write(toFile: spec, atomically: true, encoding: .utf8)
        let path = Self.setup.root + "/chw.npy"
        try NPY.writeFloat32([Float](repeating: 0, count: 2 * 48), shape: [2, 3, 4, 4], to: path)
        let r = try BayesnetProcess.run(["predict", spec, "--weights", Self.setup.run, "--input", path,
                                         "--output", Self.setup.root + "/never.npy"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("add `layout: channels_first`"))
    }

    @Test func rerunningIntoAFolderWithARunIsRefusedAndSaysWhatWouldBeLost() throws {
        let r = try BayesnetProcess.run(["run", Self.setup.spec, "--out", Self.setup.run, "--quiet", "--epochs", "1"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("holds a finished run (2 epochs, seed 3)"))
        #expect(r.stderr.contains("--force"))
        let summary = try String(contentsOfFile: Self.setup.run + "/summary.json", encoding: .utf8)
        #expect(summary.contains("\"epochs\": 2"))
    }

    @Test func forcedRerunLeavesNoStaleReport() throws {
        let dir = Self.setup.root + "/forced"
        let first = try BayesnetProcess.run(["run", Self.setup.spec, "--out", dir, "--quiet", "--report"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/report.html"))
        let second = try BayesnetProcess.run(["run", Self.setup.spec, "--out", dir, "--quiet", "--epochs", "1", "--force"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/report.html"))
    }

    @Test func defaultFolderOfARerunIsANewOne() throws {
        let work = Self.setup.root + "/cwd"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let a = try BayesnetProcess.run(["run", Self.setup.spec, "--quiet", "--epochs", "1"], in: work)
        let b = try BayesnetProcess.run(["run", Self.setup.spec, "--quiet", "--epochs", "1"], in: work)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(a.stdout.contains("run folder: runs/bytes "))
        #expect(b.stdout.contains("run folder: runs/bytes-2 "))
        #expect(FileManager.default.fileExists(atPath: work + "/runs/bytes/summary.json"))
    }

    @Test func theRunFoldersSpecCopyRunsFromAnotherFolder() throws {
        let copy = Self.setup.run + "/spec.yaml"
        let text = try String(contentsOfFile: copy, encoding: .utf8)
        #expect(text.contains("x: \"\(Self.setup.root)/x.npy\""))
        let r = try BayesnetProcess.run(["evaluate", copy, "--weights", Self.setup.run, "--samples", "1"], in: "/")
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func theSpecCopyResumesTheRunOfTheOriginal() throws {
        let dir = Self.setup.root + "/resumed"
        let first = try BayesnetProcess.run(["run", Self.setup.spec, "--out", dir, "--quiet", "--epochs", "1"])
        #expect(first.status == 0, "\(first.stderr)")
        let again = try BayesnetProcess.run(["run", dir + "/spec.yaml", "--resume", dir, "--quiet", "--epochs", "2"], in: "/")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try String(contentsOfFile: dir + "/summary.json", encoding: .utf8).contains("\"epochs\": 2"))
    }

    @Test func aDivergedRunSaysSoInItsSummaryAndReport() throws {
        // Unscaled bytes and a large SGD step: the loss explodes to ~1e6 yet stays finite.
        let spec = Self.setup.root + "/diverge.yaml"
        try (try String(contentsOfFile: Self.setup.spec, encoding: .utf8))
            .replacingOccurrences(of: ", scale: 0.00392156862745098", with: "")
            .replacingOccurrences(of: "{adam: {learning_rate: 0.01}}", with: "{sgd: {learning_rate: 0.5}}")
            .replacingOccurrences(of: "units: 10, name: logits", with: "units: 32, activation: relu}\n  - DenseFlipout: {units: 10, name: logits")
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let dir = Self.setup.root + "/diverged"
        let r = try BayesnetProcess.run(["run", spec, "--out", dir, "--report"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: training diverged"))
        let summary = try String(contentsOfFile: dir + "/summary.json", encoding: .utf8)
        #expect(summary.contains("\"warnings\"") && summary.contains("training diverged"))
        #expect(try String(contentsOfFile: dir + "/report.html", encoding: .utf8).contains("warning: training diverged"))
    }

    @Test func divergenceIsJudgedAgainstTheLowestLossSoFar() {
        var watch = DivergenceWatch()
        watch.started(loss: 2)
        #expect(watch.epochEnded(1, loss: 1.5) == nil)
        #expect(watch.epochEnded(2, loss: 0.5) == nil)
        #expect(watch.epochEnded(3, loss: 40) == nil, "80x the lowest")
        #expect(watch.epochEnded(4, loss: 60)?.contains("120 times epoch 2's 0.5") == true)
        #expect(watch.epochEnded(5, loss: 600) == nil, "warned once")
    }

    @Test func regressionPredictionWritesPerExampleUncertainty() throws {
        let root = Self.setup.root
        let n = 40
        let u = TestNetworks.uniforms(n * 2, seed: 8)
        try NPY.writeFloat32(u.map(Float.init), shape: [n, 2], to: root + "/rx.npy")
        try NPY.writeFloat32((0..<n).map { Float(u[2 * $0] - u[2 * $0 + 1]) }, shape: [n, 1], to: root + "/ry.npy")
        let spec = root + "/reg.yaml"
        try """
            bayesnet: 1
            name: reg
            seed: 2
            input: {shape: [2]}
            layers: [{DenseFlipout: {units: 8, activation: tanh}}, {DenseFlipout: {units: 1}}]
            likelihood: {normal: {scale: 0.2}}
            data:
              train: {format: npy, x: rx.npy, y: ry.npy}
              test: {format: npy, x: rx.npy, y: ry.npy}
            train: {epochs: 2, batch_size: 20}
            evaluate: {samples: 8}

            """.write(toFile: spec, atomically: true, encoding: .utf8)
        let run = try BayesnetProcess.run(["run", spec, "--out", root + "/reg-run", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("crps ") && run.stdout.contains("central intervals cover: 50% "))
        let csv = try String(contentsOfFile: root + "/reg-run/predictions.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "index,output,target,mean,std,aleatoric_std,epistemic_std,pit")
        #expect(csv.count == n + 1)
        let r = try BayesnetProcess.run(["predict", spec, "--weights", root + "/reg-run", "--input", root + "/rx.npy",
                                         "--output", root + "/ro.npy", "--uncertainty", root + "/ru.csv"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try String(contentsOfFile: root + "/ru.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "index,output,mean,std,aleatoric_std,epistemic_std,valid")
        let first = rows[1].split(separator: ",").compactMap { Double($0) }
        #expect(first.count == 7 && first[4] == 0.2 && first[5] > 0)
        #expect(abs(first[3] - (first[4] * first[4] + first[5] * first[5]).squareRoot()) < 1e-9)
    }
}

/// `validate` checks the data a spec names, from the files' headers, at the line of the `data:` entry.
@Suite struct ValidateDataTests {
    static func folder() throws -> String {
        let root = NSTemporaryDirectory() + "bayesnet-validate-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try NPY.writeFloat32([Float](repeating: 0, count: 6 * 64), shape: [6, 8, 8], to: root + "/x.npy")
        try NPY.write(NumericArray(shape: [6], storage: .int32([0, 1, 2, 3, 4, 5])), to: root + "/y.npy")
        try NPY.write(NumericArray(shape: [5], storage: .int32([0, 1, 2, 3, 4])), to: root + "/y5.npy")
        return root
    }

    static func validate(_ data: String, likelihood: String = "likelihood: categorical\n", extra: [String] = []) throws -> BayesnetProcess.Outcome {
        let root = try folder()
        let spec = root + "/s.yaml"
        try """
            bayesnet: 1
            input: {shape: [8, 8, 1]}
            layers: [Flatten, {Dense: {units: 10}}]
            \(likelihood)data:
            \(data)

            """.write(toFile: spec, atomically: true, encoding: .utf8)
        return try BayesnetProcess.run(["validate", spec] + extra)
    }

    @Test func matchingDataPasses() throws {
        let r = try Self.validate("  train: {format: npy, x: x.npy, y: y.npy}")
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func aMissingFileIsReportedAtItsDataEntry() throws {
        let r = try Self.validate("  train: {format: npy, x: nothing.npy, y: y.npy}")
        #expect(r.status == 1)
        #expect(r.stderr.contains("s.yaml:6:3: error: `data.train`: ") && r.stderr.contains("nothing.npy: no such file"))
    }

    @Test func examplesOfAnotherShapeAreReported() throws {
        let r = try Self.validate("  train: {format: npy, x: y.npy, y: y.npy}")
        #expect(r.status == 1)
        #expect(r.stderr.contains("examples have shape [] but input.shape is [8, 8, 1]"))
    }

    @Test func labelsForAnotherCountAreReported() throws {
        let r = try Self.validate("  test: {format: npy, x: x.npy, y: y5.npy}")
        #expect(r.status == 1)
        #expect(r.stderr.contains("holds 5 labels but") && r.stderr.contains("holds 6 examples"))
    }

    @Test func anUnlabelledTestSetIsReported() throws {
        let r = try Self.validate("  test: {format: npy, x: x.npy}")
        #expect(r.status == 1)
        #expect(r.stderr.contains("`data.test` has no `y`: evaluation needs a label or target for every example"))
    }

    @Test func trainingDataWithoutALikelihoodIsReported() throws {
        let r = try Self.validate("  train: {format: npy, x: x.npy, y: y.npy}", likelihood: "")
        #expect(r.status == 1)
        #expect(r.stderr.contains("there is no `likelihood` to train by"))
    }

    @Test func gzipDataIsCheckedFromItsInflatedHeader() throws {
        let root = try Self.folder()
        let x = NPY.encode(NumericArray(shape: [6, 8, 8], floats: [Float](repeating: 0, count: 6 * 64)))
        try Data(gzipped(x)).write(to: URL(fileURLWithPath: root + "/x.npy.gz"))
        #expect(try DataLoader.declaredShape(.npy, root + "/x.npy.gz", limits: .default) == [6, 8, 8])
        try Data(gzipped(x).prefix(20)).write(to: URL(fileURLWithPath: root + "/cut.npy.gz"))
        #expect(throws: DataError.self) { try DataLoader.declaredShape(.npy, root + "/cut.npy.gz", limits: .default) }
    }

    @Test func noDataSkipsTheFiles() throws {
        let r = try Self.validate("  train: {format: npy, x: nothing.npy, y: y.npy}", extra: ["--no-data"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func runRefusesUnlabelledTestDataBeforeMakingTheRunFolder() throws {
        let root = try Self.folder()
        try """
            bayesnet: 1
            input: {shape: [8, 8, 1]}
            layers: [Flatten, {Dense: {units: 10}}]
            likelihood: categorical
            data:
              train: {format: npy, x: x.npy, y: y.npy}
              test: {format: npy, x: x.npy}

            """.write(toFile: root + "/s.yaml", atomically: true, encoding: .utf8)
        let r = try BayesnetProcess.run(["run", root + "/s.yaml", "--out", root + "/run"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("the test data has no labels"))
        #expect(!FileManager.default.fileExists(atPath: root + "/run"))
    }
}
