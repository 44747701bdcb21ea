import Foundation
import ArgumentParser
import BayesNet
import BayesNetSpec

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a checkpoint on the spec's test data: the S-sample predictive and the posterior mean."
    )

    @Argument(help: "The spec file.")
    var spec: String

    @Option(help: "The checkpoint: a safetensors file, or a run folder (its checkpoint.safetensors).")
    var weights: String

    @Option(help: "Posterior samples (default: the spec's evaluate.samples).")
    var samples: Int?

    @Option(help: "The random seed of the posterior samples (default: the checkpoint's).")
    var seed: UInt64?

    @Option(help: "Worker threads for the kernels (default: all cores).")
    var threads: Int?

    @Flag(help: "Print the evaluation as JSON (the evaluation block of summary.json).")
    var json = false

    @OptionGroup(title: "Limits")
    var specLimits: SpecLimitOptions

    @OptionGroup(title: "Limits")
    var dataLimits: DataLimitOptions

    func validate() throws {
        if let samples, samples < 1 { throw ValidationError("--samples must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let model = try loadSpecOrExit(spec, limits: specLimits.limits)
        applyThreads(threads)
        let result: EvaluationResult
        do {
            result = try Serving.evaluate(spec: model, weights: Serving.checkpointPath(weights), samples: samples, seed: seed, limits: dataLimits.limits)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        if json {
            print(result.json.rendered(indent: 2))
        } else {
            for line in result.lines { print(line) }
        }
    }
}
