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

    @Option(help: "The checkpoint (checkpoint.safetensors of a run folder).")
    var weights: String

    @Option(help: "Input NPY of shape [N] + input.shape (channels-first when the spec's input says so).")
    var input: String

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

    @Option(help: "Worker threads for the kernels (default: all cores).")
    var threads: Int?

    @OptionGroup(title: "Limits")
    var specLimits: SpecLimitOptions

    @OptionGroup(title: "Limits")
    var dataLimits: DataLimitOptions

    func validate() throws {
        if let samples, samples < 1 { throw ValidationError("--samples must be at least 1") }
        if samples != nil, posteriorMean { throw ValidationError("--samples and --posterior-mean exclude each other") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let model = try loadSpecOrExit(spec, limits: specLimits.limits)
        applyThreads(threads)
        let array: (shape: [Int], values: [Float])
        do {
            array = try NPY.read(path: input, limits: dataLimits.limits)
        } catch {
            printError("error: \(error)")  // the reader's message names the file
            throw ExitCode(1)
        }
        let shape = model.input.shape
        let exampleShape = model.input.layout == .channelsFirst ? [shape.last!] + shape.dropLast() : shape
        guard array.shape.count == exampleShape.count + 1, Array(array.shape.dropFirst()) == exampleShape else {
            printError("error: \(input): shape \(array.shape) does not match [N] + \(exampleShape) (the spec's input)")
            throw ExitCode(1)
        }
        let count = array.shape[0]
        let values = model.input.layout == .channelsFirst
            ? Serving.channelsLast(array.values, count: count, exampleShape: shape) : array.values
        let result: PredictionOutput
        do {
            result = try Serving.predict(spec: model, weights: weights, inputs: values, count: count,
                                         samples: samples ?? model.evaluate.samples, posteriorMean: posteriorMean,
                                         seed: seed, limits: dataLimits.limits)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        do {
            try NPY.writeFloat32(result.outputs, shape: [count] + model.outputShape, to: output)
            if let probabilities {
                guard let p = result.probabilities else {
                    printError("error: --probabilities needs a categorical model")
                    throw ExitCode(1)
                }
                try NPY.writeFloat32(p, shape: [count, model.outputShape.reduce(1, *)], to: probabilities)
            }
            if let uncertainty {
                guard let rows = result.uncertainty else {
                    printError("error: --uncertainty needs a categorical model")
                    throw ExitCode(1)
                }
                var csv = "index,entropy,expected_entropy,mutual_information\n"
                for (i, r) in rows.enumerated() { csv += "\(i),\(r.entropy),\(r.expectedEntropy),\(r.mutualInformation)\n" }
                try AtomicFile.write(Array(csv.utf8), to: uncertainty)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("error: cannot write the output: \(error)")
            throw ExitCode(1)
        }
    }
}
