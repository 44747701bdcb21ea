import Foundation
import ArgumentParser
import BayesNet
import BayesNetReport
import BayesNetSpec

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Train a spec, then evaluate its predictive distribution on the test data.",
        discussion: "Writes metrics.jsonl, summary.json, checkpoint.safetensors, predictions.csv and test-inputs.npy to the run folder."
    )

    @Argument(help: "The spec file.")
    var spec: String

    @Option(name: .long, help: "The run folder (default: runs/<spec name>/).")
    var out: String?

    @Option(help: "Train this many epochs instead of the spec's train.epochs.")
    var epochs: Int?

    @Option(help: "The random seed, instead of the spec's.")
    var seed: UInt64?

    @OptionGroup(title: "Threads")
    var threading: ThreadOptions

    @Option(help: "Continue the run whose checkpoint is in this folder.")
    var resume: String?

    @Flag(help: "Overwrite a run folder that holds another spec's run.")
    var force = false

    @Flag(help: "Print only the final figures.")
    var quiet = false

    @Flag(help: "Also write report.html into the run folder (as `bayesnet report` does).")
    var report = false

    @OptionGroup(title: "Limits")
    var specLimits: SpecLimitOptions

    @OptionGroup(title: "Limits")
    var dataLimits: DataLimitOptions

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if resume != nil, out != nil { throw ValidationError("--resume DIR already names the run folder; drop --out") }
    }

    func run() throws {
        let model = try loadSpecOrExit(spec, limits: specLimits.limits)
        threading.apply()
        let display = ProgressDisplay(quiet: quiet)
        let options = RunOptions(outputDirectory: out, epochs: epochs, seed: seed, resume: resume, force: force,
                                 limits: dataLimits.limits)
        let result: RunResult
        do {
            result = try Runner.run(spec: model, options: options, progress: display.progress)
        } catch let error as RunError {
            printError("error: \(error.description)")
            throw ExitCode(error.exitCode)
        }
        if let evaluation = result.evaluation {
            for line in evaluation.lines { print(line) }
        }
        if report {
            do {
                let path = try Report.write(runDirectory: result.directory)
                print("report: \(path)")
            } catch {
                printError("error: \(error)")
                throw ExitCode(1)
            }
        }
        print("run folder: \(result.directory)  (train \(String(format: "%.1f", result.trainSeconds))s, wall \(String(format: "%.1f", result.wallSeconds))s)")
    }
}
