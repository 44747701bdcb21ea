import BayesNetFormats
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

    @OptionGroup(title: "Threads")
    var threading: ThreadOptions

    @Flag(help: "Print the evaluation as JSON (the evaluation block of summary.json).")
    var json = false

    @Option(help: ArgumentHelp("Out-of-distribution inputs (NPY, IDX or CSV, scaled as the training data): how well predictive entropy and mutual information tell them from the test set (AUROC, AUPR).", valueName: "path"))
    var ood: String?

    @Option(help: ArgumentHelp("A shift of the test set: rotate, noise, blur, invert or translate, with one level (rotate=90) or a sweep (rotate=0:180:15); accuracy, NLL, ECE, entropy and MI per level.", valueName: "kind[=level]"))
    var shift: String?

    @Option(help: "Where --ood and --shift write ood.json and shift.json (default: the run folder --weights names, if it is one).")
    var out: String?

    @OptionGroup(title: "Limits")
    var specLimits: SpecLimitOptions

    @OptionGroup(title: "Limits")
    var dataLimits: DataLimitOptions

    func validate() throws {
        if let samples, samples < 1 { throw ValidationError("--samples must be at least 1") }
        if let shift {
            do { _ = try Shift(parsing: shift) } catch { throw ValidationError("--shift: \(error)") }
        }
    }

    func run() throws {
        let model = try loadSpecOrExit(spec, limits: specLimits.limits)
        threading.apply()
        if ood != nil || shift != nil { return try study(model) }
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

    /// `--ood` and `--shift`.
    func study(_ model: ModelSpec) throws {
        let parsed = try shift.map { try Shift(parsing: $0) }
        let result: (ood: OODResult?, shift: [ShiftRow])
        do {
            result = try Serving.uncertaintyStudy(spec: model, weights: Serving.checkpointPath(weights), samples: samples,
                                                  seed: seed, ood: ood, shift: parsed, limits: dataLimits.limits)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let folder = out ?? Serving.runFolder(weights)
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        if let o = result.ood {
            print("out of distribution: \(o.outOfDistribution.count) inputs against \(o.inDistribution.count) test examples")
            print("  predictive entropy: AUROC \(f(o.entropy.auroc))  AUPR \(f(o.entropy.aupr))")
            print("  mutual information: AUROC \(f(o.mutualInformation.auroc))  AUPR \(f(o.mutualInformation.aupr))")
            if let folder { try write(RunFolderJSON.value(o.study), to: folder, file: "ood.json") }
        }
        if let parsed {
            print("shift \(parsed.kind.rawValue):")
            print("  level     accuracy  nll       ece       entropy   mutual information")
            for r in result.shift {
                let m = r.metrics
                print("  " + String(format: "%-8g", r.level) + "  " + [m.accuracy, m.nll, m.ece, m.entropy, m.mutualInformation].map(f).joined(separator: "    "))
            }
            let json = RunFolderJSON.value(ShiftRow.study(kind: parsed.kind.rawValue, result.shift))
            if let folder { try write(json, to: folder, file: "shift.json") }
        }
    }

    func write(_ json: JSONValue, to folder: String, file: String) throws {
        let path = (folder as NSString).appendingPathComponent(file)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try AtomicFile.write(Array((json.rendered(indent: 2) + "\n").utf8), to: path)
            print("wrote \(path)")
        } catch {
            printError("error: cannot write \(path): \(error)")
            throw ExitCode(1)
        }
    }
}
