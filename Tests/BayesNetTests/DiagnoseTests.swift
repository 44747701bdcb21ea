import Foundation
import Testing
import TestSupport
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// `bayesnet diagnose --gradient-variance` as a user runs it: its figures against closed forms on the reference
/// spec, the Flipout law on the digits LeNet-5, determinism across thread counts, files and exit codes.
@Suite(.serialized) struct DiagnoseTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let reference = repository.appendingPathComponent("specs/diagnose/conv-reference.yaml").path
    static let lenet = repository.appendingPathComponent("specs/digits-lenet5-flipout.yaml").path

    static let root: String = {
        let path = TestNetworks.temporaryDirectory("diagnose")
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// The rows of a `--json` file: (layer, batch, parameter, estimator) → (variance, stderr).
    struct Table: Sendable {
        var rows: [String: (variance: Double, stderr: Double)] = [:]
        var draws: Int?

        init(path: String) throws {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            draws = document["draws"] as? Int
            for row in try #require(document["rows"] as? [[String: Any]]) {
                let key = "\(row["layer"]!)/\(row["batch"]!)/\(row["parameter"]!)/\(row["estimator"]!)"
                rows[key] = (try #require(row["variance"] as? Double), try #require(row["stderr"] as? Double))
            }
        }

        func value(_ layer: String, _ batch: Int, _ parameter: String, _ estimator: String) throws -> (variance: Double, stderr: Double) {
            try #require(rows["\(layer)/\(batch)/\(parameter)/\(estimator)"], "no row \(layer)/\(batch)/\(parameter)/\(estimator)")
        }

        /// a ÷ b and its standard error (independent estimates: relative errors add in quadrature).
        func ratio(_ layer: String, _ batch: Int, _ a: String, over b: String, parameter: String = "loc") throws -> (value: Double, stderr: Double) {
            let x = try value(layer, batch, parameter, a), y = try value(layer, batch, parameter, b)
            let r = x.variance / y.variance
            return (r, r * ((x.stderr / x.variance) * (x.stderr / x.variance) + (y.stderr / y.variance) * (y.stderr / y.variance)).squareRoot())
        }
    }

    /// Runs `bayesnet diagnose` with `--json` and reads the table.
    static func diagnose(_ arguments: [String], name: String) throws -> Table {
        let json = root + "/\(name).json"
        let r = try BayesnetProcess.run(["diagnose"] + arguments + ["--gradient-variance", "--json", json])
        #expect(r.status == 0, "\(r.stderr)")
        return try Table(path: json)
    }

    // MARK: The reference setup against its closed forms

    static let referenceBatches = [1, 2, 8, 32]
    static let referenceTable = Result { try diagnose([reference, "--batches", "1,2,8,32"], name: "reference") }

    /// The exact variances for the minibatches the command drew (its inputs, the spec's scales 0.1).
    static func exact(batch: Int) throws -> (shared: Double, flipout: Double, independent: Double) {
        let spec = try #require(SpecLoader.load(path: reference).spec)
        let x = try GradientVariance.minibatchInputs(spec: spec, seed: 5, batch: batch).map(Double.init)
        let sigma = Softplus.scale(rho: Softplus.rho(forScale: 0.1))
        return ConvolutionClosedForm(inputs: x, batch: batch).variances(sigma: sigma, biasSigma: sigma)
    }

    @Test func referenceRatiosMatchTheClosedForms() throws {
        let table = try Self.referenceTable.get()
        for n in Self.referenceBatches {
            let e = try Self.exact(batch: n)
            let shared = try table.ratio("conv", n, "shared", over: "flipout")
            let flipout = try table.ratio("conv", n, "flipout", over: "independent")
            #expect(abs(shared.value - e.shared / e.flipout) < 3 * shared.stderr,
                    "N = \(n): shared ÷ Flipout \(shared), exact \(e.shared / e.flipout)")
            #expect(abs(flipout.value - e.flipout / e.independent) < 3 * flipout.stderr,
                    "N = \(n): Flipout ÷ independent \(flipout), exact \(e.flipout / e.independent)")
        }
    }

    /// The levels too, which checks that the spec's likelihood makes the data term ½ · mean(y²). Twelve
    /// comparisons, each against a standard error estimated from 20 groups (a t distribution with 19 degrees
    /// of freedom): 4 standard errors keep the chance that any one exceeds it by luck near 1%.
    @Test func referenceVariancesMatchTheClosedForms() throws {
        let table = try Self.referenceTable.get()
        for n in Self.referenceBatches {
            let e = try Self.exact(batch: n)
            for (estimator, exact) in [("shared", e.shared), ("flipout", e.flipout), ("independent", e.independent)] {
                let measured = try table.value("conv", n, "loc", estimator)
                #expect(abs(measured.variance - exact) < 4 * measured.stderr, "N = \(n), \(estimator): \(measured), exact \(exact)")
            }
        }
    }

    // MARK: The digits LeNet-5

    static let lenetBatches = [1, 8, 64]
    static let lenetLayers = ["conv_0", "conv_2", "affine_5", "logits"]

    /// The spec's initial posterior with every bias scale at its floor (1e-5), written as weights from another
    /// tool. A sampled bias is one draw shared by the whole batch under Flipout too (it is not sign-flipped), so
    /// it adds gradient noise that no batch size averages out; without it, what remains is the kernel noise the
    /// Flipout law is about.
    static let kernelNoiseOnly: String = {
        let spec = SpecLoader.load(path: lenet).spec!
        let network = try! Network<Float>(spec: spec, seed: 42, trainingExamples: 1500, maxBatch: 1)
        for p in network.parameters where p.name.hasSuffix(".bias_posterior_untransformed_scale") {
            p.values = [Float](repeating: Float(Softplus.rho(forScale: 1e-5)), count: p.count)
        }
        let entries = network.parameters.map {
            SafeTensors.Entry(name: $0.name, dtype: "F32", shape: $0.shape, bytes: CheckpointIO.bytes($0.value.pointer, count: $0.count))
        }
        let path = root + "/lenet-kernel-noise.safetensors"
        try! SafeTensors.write(entries, metadata: [:], to: path)
        return path
    }()

    static let lenetTable = Result {
        try diagnose([lenet, "--weights", kernelNoiseOnly, "--batches", "1,8,64", "--draws", "60"], name: "lenet")
    }

    @Test func lenetFlipoutMatchesIndependentSamplesAtEveryBatchSize() throws {
        let table = try Self.lenetTable.get()
        for layer in Self.lenetLayers {
            for n in Self.lenetBatches {
                let r = try table.ratio(layer, n, "flipout", over: "independent")
                #expect(abs(r.value - 1) < 3 * r.stderr, "\(layer), N = \(n): Flipout ÷ independent \(r)")
            }
            // Precise enough at the largest batch to tell a departure of a few tenths.
            let last = try table.ratio(layer, Self.lenetBatches.last!, "flipout", over: "independent")
            #expect(last.stderr < 0.1, "\(layer): too few draws to tell, \(last)")
        }
    }

    /// At N = 1 Flipout and a shared sample are the same distribution; from there Flipout's advantage grows
    /// with the batch.
    @Test func lenetSharedOverFlipoutGrowsWithTheBatch() throws {
        let table = try Self.lenetTable.get()
        for layer in Self.lenetLayers {
            let r = try Self.lenetBatches.map { try table.ratio(layer, $0, "shared", over: "flipout") }
            #expect(abs(r[0].value - 1) < 3 * r[0].stderr, "\(layer): N = 1 gives \(r[0])")
            #expect(r[1].value < r[2].value, "\(layer): \(r)")
            #expect(r[2].value > 1 + 3 * r[2].stderr, "\(layer): \(r)")
        }
    }

    // MARK: The command

    @Test func figuresAreTheSameOnOneAndTwoThreads() throws {
        let arguments = [Self.lenet, "--batches", "1,4", "--draws", "10", "--layers", "conv_2,logits"]
        let one = Self.root + "/threads-1.json", two = Self.root + "/threads-2.json"
        for (threads, path) in [("1", one), ("2", two)] {
            let r = try BayesnetProcess.run(["diagnose"] + arguments + ["--gradient-variance", "--threads", threads, "--json", path])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let a = try Data(contentsOf: URL(fileURLWithPath: one)), b = try Data(contentsOf: URL(fileURLWithPath: two))
        #expect(!a.isEmpty && a == b)
    }

    /// Only the data term is measured: a KL term (here the spike-and-slab prior's one-sample estimate, which
    /// draws noise of its own) weighted 1 instead of 0 leaves every figure as it was, bit for bit.
    @Test func theKLTermTakesNoPartInTheFigures() throws {
        var tables: [Data] = []
        for weight in ["0", "1"] {
            let spec = Self.root + "/penalty-\(weight).yaml", json = Self.root + "/penalty-\(weight).json"
            try """
                bayesnet: 1
                name: penalty
                seed: 3
                input: {shape: [6]}
                layers:
                  - DenseFlipout: {units: 4, activation: relu, penalty_weight: \(weight), posterior: {normal_diag: {initial_scale: 0.1}}}
                  - DenseFlipout: {units: 2, penalty_weight: \(weight), posterior: {normal_diag: {initial_scale: 0.1}}}
                likelihood: categorical

                """.write(toFile: spec, atomically: true, encoding: .utf8)
            let r = try BayesnetProcess.run(["diagnose", spec, "--gradient-variance", "--batches", "1,4", "--draws", "10",
                                             "--json", json])
            #expect(r.status == 0, "\(r.stderr)")
            tables.append(try Data(contentsOf: URL(fileURLWithPath: json)))
        }
        #expect(!tables[0].isEmpty && tables[0] == tables[1])
    }

    @Test func jsonHoldsOneRowPerLayerBatchGradientAndEstimator() throws {
        let table = try Self.diagnose([Self.lenet, "--batches", "2,1", "--draws", "10", "--layers", "logits"], name: "rows")
        #expect(table.rows.count == 1 * 2 * 2 * 3)
        for n in [1, 2] {
            for parameter in ["loc", "rho"] {
                for estimator in ["flipout", "shared", "independent"] {
                    let v = try table.value("logits", n, parameter, estimator)
                    #expect(v.variance > 0 && v.stderr > 0)
                }
            }
        }
        #expect(table.draws == 10)
    }

    @Test func outWritesTheStudyIntoARunFolderAndSvgDrawsTheFigure() throws {
        let folder = Self.root + "/run-folder", svg = Self.root + "/figure.svg"
        let r = try BayesnetProcess.run(["diagnose", Self.reference, "--gradient-variance", "--batches", "1,4", "--draws", "10",
                                         "--out", folder, "--svg", svg])
        #expect(r.status == 0, "\(r.stderr)")
        let table = try Table(path: folder + "/gradient-variance.json")
        #expect(table.rows.count == 2 * 2 * 3)
        let figure = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(figure.hasPrefix("<svg"))
        // Two panels (loc and rho of the one layer), a line per estimator in each.
        #expect(figure.components(separatedBy: "class=\"series\"").count - 1 == 6)
    }

    @Test func theTableNamesEveryEstimatorAndRatio() throws {
        let r = try BayesnetProcess.run(["diagnose", Self.reference, "--gradient-variance", "--batches", "4", "--draws", "10"])
        #expect(r.status == 0, "\(r.stderr)")
        let header = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("gradient  batch") })
        for column in ["flipout", "shared", "independent", "shared/flipout", "flipout/independent"] {
            #expect(header.contains(column))
        }
        #expect(r.stdout.split(separator: "\n").contains { $0.hasPrefix("loc ") && $0.contains(" ± ") })
    }

    @Test(arguments: [
        ["--draws", "5"],
        ["--batches", "0,2"],
        ["--batches", "two"],
        ["--layers", "conv_9"],
        ["--layers", "max_pool_1"],
        ["--batches", "2000"],
    ])
    func badFlagsExitWith64(_ flags: [String]) throws {
        let r = try BayesnetProcess.run(["diagnose", Self.lenet, "--gradient-variance"] + flags)
        #expect(r.status == 64, "\(flags): \(r.stderr)")
        #expect(r.stderr.lowercased().contains("error"))
    }

    @Test func withoutADiagnosticTheCommandExitsWith64() throws {
        let r = try BayesnetProcess.run(["diagnose", Self.lenet])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--gradient-variance"))
    }

    @Test func aSpecWithoutLikelihoodExitsWith1() throws {
        let spec = Self.root + "/no-likelihood.yaml"
        try """
            bayesnet: 1
            name: no-likelihood
            input: {shape: [4]}
            layers:
              - DenseFlipout: {units: 2}

            """.write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try BayesnetProcess.run(["diagnose", spec, "--gradient-variance", "--draws", "10"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("likelihood"))
    }

    @Test func aCheckpointThatDoesNotFitExitsWith1() throws {
        let r = try BayesnetProcess.run(["diagnose", Self.lenet, "--gradient-variance", "--draws", "10",
                                         "--weights", Self.root + "/nothing.safetensors"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("nothing.safetensors"))
    }
}
