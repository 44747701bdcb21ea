import BayesNetFormats
import Foundation
import ArgumentParser
import BayesNet
import BayesNetSpec
import BayesNetRuntime

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training steps and prediction passes of a spec on random data.",
        discussion: """
            A training step is forward with one weight sample, NLL, KL, backward and the optimizer update; a \
            prediction pass is one forward pass with one weight sample. Reports the median and spread of \
            milliseconds per step, images per second, GFLOP/s (the multiply-adds `inspect` shows, times 2; \
            a training step counts three forward passes), the work the products actually did as a share of \
            the threads' FMA peak, and the peak resident memory. Under mpirun (built \
            with `--traits MPI`) the ranks split each training step's batch and the time spent summing \
            gradients is reported too.
            """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable { case train, predict, both }

    @Argument(help: "The spec file.")
    var spec: String

    @Option(help: "Examples per step (default: the spec's train.batch_size).")
    var batch: Int?

    @Option(help: "Timed steps per mode.")
    var steps: Int = 20

    @Option(help: "Untimed steps run first.")
    var warmup: Int = 3

    @OptionGroup(title: "Threads")
    var threading: ThreadOptions

    @Option(help: "train, predict or both.")
    var mode: Mode = .both

    @Option(help: "The seed of the random data and weights.")
    var seed: UInt64 = 1

    @Option(help: "Also write the figures and every step's time as JSON to this file.")
    var json: String?

    func validate() throws {
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
        if warmup < 0 { throw ValidationError("--warmup must not be negative") }
    }

    func run() throws {
        let communicator: any Communicator
        do {
            communicator = try Communicators.launch()
        } catch let error as RunError {
            printError("error: \(error.description)")
            throw ExitCode(error.exitCode)
        }
        defer { communicator.finish() }
        let lead = communicator.rank == 0
        let model = try loadSpecOrExit(spec)
        threading.apply()
        if threading.threads == nil, communicator.ranksOnThisNode > 1 {
            Runtime.threadCount = max(1, ProcessInfo.processInfo.activeProcessorCount / communicator.ranksOnThisNode)
        }
        let options = BenchOptions(batch: batch, steps: steps, warmup: warmup,
                                   mode: BenchMode(rawValue: mode.rawValue) ?? .both, seed: seed)
        let results: [BenchResult]
        do {
            results = try Benchmark.run(spec: model, options: options, communicator: communicator)
        } catch let error as BenchError {
            if lead { printError("error: \(error.description)") }
            throw ExitCode(1)
        } catch let error as TrainingError {
            if lead { printError("error: \(error.description)") }
            throw ExitCode(1)
        }
        guard lead else { return }
        let macs = Benchmark.forwardMACs(model)
        let ranks = communicator.size > 1 ? "\(communicator.size) ranks × " : ""
        print("\(model.name): batch \(results.first?.batch ?? 0), \(ranks)\(Runtime.threadCount) thread(s), "
              + "\(steps) steps after \(warmup) warm-up, \(flopText(2 * Double(macs))) per example forward")
        for r in results {
            let q = r.interquartile
            let memory = r.peakResidentBytes.map { String(format: "%.0f MiB", Double($0) / 1_048_576) } ?? "n/a"
            print(String(format: "%-8@ %9.2f ms/step (p25 %.2f, p75 %.2f, min %.2f, max %.2f)  %9.1f images/s  %12@/s  peak RSS %@",
                         r.mode.rawValue as NSString, r.median, q.low, q.high, r.minimum, r.maximum, r.imagesPerSecond,
                         flopText(r.gflops * 1e9) as NSString, memory as NSString))
            if let fraction = r.peakFraction, let peak = r.peakFlops {
                print(String(format: "         work done %@/s (%@ per step), %.0f%% of the threads' FMA peak (%@/s)",
                             flopText(r.workGflops * 1e9) as NSString, flopText(r.workFlopsPerStep) as NSString,
                             100 * fraction, flopText(peak) as NSString))
            }
            if let allreduce = r.allreduceMilliseconds {
                print(String(format: "         %9.2f ms/step summing gradients across ranks (waiting for the slowest included)", allreduce))
            }
        }
        if let json {
            let document = JSONValue.object([
                ("spec", .string(model.name)), ("forward_macs_per_example", .int(macs)),
                ("warmup", .int(warmup)), ("results", .array(results.map(\.json))),
            ])
            if let problem = Console.writeAtomically(document.rendered(indent: 2) + "\n", to: json) {
                printError("error: \(problem)")
                throw ExitCode(1)
            }
        }
    }
}

/// FLOP counts in the unit that reads best: "1.45 GFLOP", "35.2 MFLOP", "820 kFLOP".
func flopText(_ flop: Double) -> String {
    for (scale, unit) in [(1e9, "GFLOP"), (1e6, "MFLOP"), (1e3, "kFLOP")] where flop >= scale {
        return String(format: flop >= 100 * scale ? "%.0f %@" : flop >= 10 * scale ? "%.1f %@" : "%.2f %@", flop / scale, unit)
    }
    return String(format: "%.0f FLOP", flop)
}
