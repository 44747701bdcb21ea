import BayesNetFormats
import Foundation
import ArgumentParser
import BayesNet
import BayesNetSpec

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a trained network over inputs: the last layer's output averaged over posterior samples."
    )

    @Argument(help: "The spec file.")
    var spec: String

    @Option(help: "The checkpoint: a safetensors file, or a run folder (its checkpoint.safetensors).")
    var weights: String

    @Option(help: ArgumentHelp(
        "Inputs of shape [N] + input.shape: NPY, IDX or CSV by extension, gzip-compressed or not.",
        discussion: "Stored as the training data was: the spec's input layout applies, and so does the training data's `scale:` unless --raw is given."))
    var input: String

    @Flag(help: "Take the inputs as they are: do not apply the training data's `scale:` (for inputs already scaled, such as a run folder's test-inputs.npy).")
    var raw = false

    @Flag(help: "Predict even when some inputs are NaN or infinite: those examples get NaN outputs and valid=0 in --uncertainty (default: refuse the file).")
    var allowNonfinite = false

    @Option(help: "Where to write the outputs (NPY, float32).")
    var output: String

    @Option(help: "Posterior samples to average (default: the spec's evaluate.samples).")
    var samples: Int?

    @Flag(help: "One pass with every variational layer at its posterior mean.")
    var posteriorMean = false

    @Option(help: "Also write the predictive class probabilities (NPY, float32).")
    var probabilities: String?

    @Option(help: "Also write per-example predictive entropy, expected entropy and mutual information (CSV).")
    var uncertainty: String?

    @Option(help: "The random seed of the posterior samples (default: the checkpoint's).")
    var seed: UInt64?

    @OptionGroup(title: "Threads")
    var threading: ThreadOptions

    @OptionGroup(title: "Limits")
    var specLimits: SpecLimitOptions

    @OptionGroup(title: "Limits")
    var dataLimits: DataLimitOptions

    func validate() throws {
        if let samples, samples < 1 { throw ValidationError("--samples must be at least 1") }
        if samples != nil, posteriorMean { throw ValidationError("--samples and --posterior-mean exclude each other") }
    }

    func run() throws {
        let model = try loadSpecOrExit(spec, limits: specLimits.limits)
        threading.apply()
        let transform = InputTransform(spec: model)
        let file: InputFile
        let result: PredictionOutput
        do {
            file = try DataLoader.inputs(path: input, spec: model, scale: raw ? nil : transform.scale,
                                         allowNonFinite: allowNonfinite, limits: dataLimits.limits)
            if !file.nonFinite.isEmpty {
                let shown = file.nonFinite.prefix(5).map(String.init).joined(separator: ", ")
                printError("warning: \(file.nonFinite.count) example(s) hold values that are not finite (\(shown)\(file.nonFinite.count > 5 ? ", ..." : "")); their outputs are NaN and marked invalid")
            }
            result = try Serving.predict(spec: model, weights: Serving.checkpointPath(weights), inputs: file.values,
                                         count: file.count, samples: samples ?? model.evaluate.samples,
                                         posteriorMean: posteriorMean, seed: seed, invalid: file.nonFinite,
                                         limits: dataLimits.limits)
        } catch let error as DataError {
            var message = "error: \(error)"
            if case .nonFinite = error.kind { message += "\nhelp: pass --allow-nonfinite to predict the other examples and mark this one invalid" }
            printError(message)
            throw ExitCode(1)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let count = file.count
        do {
            try NPY.writeFloat32(result.outputs, shape: [count] + model.outputShape, to: output)
            if let probabilities {
                guard let p = result.probabilities else {
                    printError("error: --probabilities needs a categorical or Bernoulli model")
                    throw ExitCode(1)
                }
                // [N, classes]: a Bernoulli model's two columns are P(y = 0) and P(y = 1).
                try NPY.writeFloat32(p, shape: [count, p.count / max(count, 1)], to: probabilities)
            }
            if let uncertainty {
                var csv: String
                if let rows = result.uncertainty {
                    csv = "index,entropy,expected_entropy,mutual_information,valid\n"
                    for (i, r) in rows.enumerated() {
                        csv += "\(i),\(r.entropy),\(r.expectedEntropy),\(r.mutualInformation),\(result.valid[i] ? 1 : 0)\n"
                    }
                } else if let rows = result.regression {
                    let k = max(rows.count / max(count, 1), 1)
                    csv = "index,output,mean,std,aleatoric_std,epistemic_std,valid\n"
                    for (j, r) in rows.enumerated() {
                        csv += "\(j / k),\(j % k),\(r.mean),\(r.std),\(r.aleatoricStd),\(r.epistemicStd),\(result.valid[j / k] ? 1 : 0)\n"
                    }
                } else {
                    printError("error: --uncertainty needs a categorical model with more than one class, or a normal likelihood")
                    throw ExitCode(1)
                }
                try AtomicFile.write(Array(csv.utf8), to: uncertainty)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("error: cannot write the output: \(error)")
            throw ExitCode(1)
        }
        if !raw, let scale = transform.scale {
            printError("note: inputs scaled by \(scale), as the training data was (--raw takes them as they are)")
        }
    }
}
