import Foundation
import ArgumentParser
import BayesNet
import BayesNetReport
import BayesNetSpec
import BayesNetRuntime

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Train a spec, then evaluate its predictive distribution on the test data.",
        discussion: """
            Writes metrics.jsonl, summary.json, checkpoint.safetensors, predictions.csv and test-inputs.npy to the run \
            folder. Built with `--traits MPI`, `mpirun -np N bayesnet run SPEC` trains one run on N processes, each \
            taking its share of every minibatch; without --threads each uses its share of the machine's cores.
            """
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

    @Option(help: ArgumentHelp("Write the gradients of the first step taken, summed across ranks, to this safetensors file.",
                               visibility: .hidden))
    var gradientsOut: String?

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if resume != nil, out != nil { throw ValidationError("--resume DIR already names the run folder; drop --out") }
    }

    func run() throws {
        let communicator: any Communicator
        do {
            communicator = try Communicators.launch()
        } catch let error as RunError {
            printError("error: \(error.description)")
            throw ExitCode(error.exitCode)
        }
        // Rank 0 speaks for the job; the others print only what they alone know.
        let lead = communicator.rank == 0
        let loaded = SpecLoader.load(path: spec, limits: specLimits.limits)
        if lead { Console.report(loaded) }
        let invalid = loaded.spec == nil
            ? loaded.diagnostics.first { $0.severity == .error }.map { $0.rendered(source: loaded.source) } ?? "\(spec) is invalid"
            : nil
        let failed = communicator.failures(invalid)
        guard failed.isEmpty, let model = loaded.spec else {
            if lead, let first = failed.first, first.rank != 0 {
                printError("error: the spec of rank \(first.rank) of \(communicator.size) is invalid:\n\(first.message)")
            }
            communicator.finish()
            throw ExitCode(1)
        }
        threading.apply()
        if threading.threads == nil, communicator.ranksOnThisNode > 1 {
            Runtime.threadCount = max(1, ProcessInfo.processInfo.activeProcessorCount / communicator.ranksOnThisNode)
        }
        let display = ProgressDisplay(quiet: quiet || !lead)
        var options = RunOptions(outputDirectory: out, epochs: epochs, seed: seed, resume: resume, force: force,
                                 limits: dataLimits.limits)
        options.communicator = communicator
        options.gradientsPath = gradientsOut
        let result: RunResult
        do {
            result = try Runner.run(spec: model, options: options, progress: display.progress)
        } catch let error as RunError {
            if error.agreed || communicator.size == 1 {
                if lead { printError("error: \(error.description)") }
                communicator.finish()
                throw ExitCode(error.exitCode)
            }
            // Only this rank knows: the others would wait for it forever.
            printError("error: rank \(communicator.rank) of \(communicator.size): \(error.description)")
            communicator.abort(status: error.exitCode)
        }
        communicator.finish()
        guard lead else { return }
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
        let ranks = communicator.size > 1 ? ", \(communicator.size) ranks × \(Runtime.threadCount) thread(s)" : ""
        print("run folder: \(result.directory)  (train \(String(format: "%.1f", result.trainSeconds))s, wall \(String(format: "%.1f", result.wallSeconds))s\(ranks))")
    }
}
