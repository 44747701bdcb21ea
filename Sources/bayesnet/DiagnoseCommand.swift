import BayesNetFormats
import Foundation
import ArgumentParser
import BayesNet
import BayesNetReport
import BayesNetRuntime
import BayesNetSpec

/// A comma-separated list of batch sizes: `1,2,8,32,128`.
struct BatchList: ExpressibleByArgument, Sendable {
    var sizes: [Int]

    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        let sizes = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, sizes.count == parts.count else { return nil }
        self.sizes = sizes
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Measure the gradient variance of Flipout, a shared weight sample and independent samples against the batch size.",
        discussion: """
            --gradient-variance fixes one minibatch of the spec's training data per batch size (N(0, 1) inputs \
            when the spec has none), re-draws only the weight noise --draws times, and prints for every \
            variational layer the variance of the data term's gradient wrt the kernel loc and the untransformed \
            scale (summed over the kernel, with a batch-means standard error) under three estimators: Flipout, \
            one weight sample shared by the batch (reparameterization), and an independent sample per example. \
            The figures depend only on the seed, not on --threads. With --weights the posterior of a checkpoint \
            is measured, else the initial one. gradient-variance.json lands in --out, or in the run folder \
            --weights names, where `bayesnet report` draws it.
            """
    )

    @Argument(help: "The spec file.")
    var spec: String

    @Flag(help: "Measure gradient variance against batch size (the Flipout paper's Figure 2).")
    var gradientVariance = false

    @Option(help: "A checkpoint (a safetensors file, or a run folder) whose posterior to measure at (default: the initial posterior).")
    var weights: String?

    @Option(help: ArgumentHelp("Batch sizes, comma-separated.", valueName: "n,n,..."))
    var batches: BatchList = BatchList(argument: GradientVarianceOptions.defaultBatches.map(String.init).joined(separator: ","))!

    @Option(help: "Weight-noise draws per estimator and batch size (at least 10; standard errors need about 100 to be trusted).")
    var draws: Int = GradientVarianceOptions.defaultDraws

    @Option(help: ArgumentHelp("Only these layers, comma-separated (default: every variational layer that samples its weights).", valueName: "name,..."))
    var layers: String?

    @Option(help: "The seed of the minibatch and the weight noise (default: the checkpoint's, else the spec's, else 0).")
    var seed: UInt64?

    @Option(help: ArgumentHelp("Also write the table as JSON to this file.", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Also draw the figure (variance against batch size, log-log) as SVG to this file.", valueName: "file"))
    var svg: String?

    @Option(help: ArgumentHelp("A run folder to write \(GradientVariance.fileName) into, for `bayesnet report` (default: the run folder --weights names, if it is one).", valueName: "dir"))
    var out: String?

    @OptionGroup(title: "Threads")
    var threading: ThreadOptions

    @OptionGroup(title: "Limits")
    var specLimits: SpecLimitOptions

    @OptionGroup(title: "Limits")
    var dataLimits: DataLimitOptions

    func validate() throws {
        guard gradientVariance else { throw ValidationError("name what to diagnose: --gradient-variance") }
        if draws < GradientVariance.minimumDraws {
            throw ValidationError("--draws must be at least \(GradientVariance.minimumDraws) (the standard error needs two groups of draws)")
        }
        if let bad = batches.sizes.first(where: { $0 < 1 }) {
            throw ValidationError("--batches: every batch size must be at least 1 (got \(bad))")
        }
        if let layers, layerNames(layers).isEmpty { throw ValidationError("--layers names no layer") }
    }

    func layerNames(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() throws {
        let model = try loadSpecOrExit(spec, limits: specLimits.limits)
        threading.apply()
        let options = GradientVarianceOptions(batches: batches.sizes, draws: draws, layers: layers.map(layerNames),
                                              seed: seed, weights: weights.map(Serving.checkpointPath),
                                              limits: dataLimits.limits)
        let result: GradientVarianceResult
        do {
            result = try GradientVariance.measure(spec: model, options: options)
        } catch {
            printError("error: \(error.description)")
            throw ExitCode(error.exitCode)
        }
        let at = result.weights.map { "the posterior of \($0)" } ?? "the initial posterior"
        print("\(model.name): seed \(result.seed), \(at)")
        for line in result.lines { print(line) }

        let document = result.json.rendered(indent: 2) + "\n"
        if let json { try write(document, to: json) }
        if let svg {
            let study = GradientVarianceStudy(
                spec: result.spec, draws: result.draws, weights: result.weights,
                rows: result.rows.map {
                    .init(layer: $0.layer, batch: $0.batch, parameter: $0.parameter.rawValue, estimator: $0.estimator.rawValue,
                          variance: $0.variance.isFinite ? $0.variance : nil, stderr: $0.stderr.isFinite ? $0.stderr : nil)
                })
            try write(GradientVarianceFigure.svg(study) + "\n", to: svg)
        }
        if let folder = out ?? weights.flatMap(Serving.runFolder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                printError("error: cannot create \(folder): \(error.localizedDescription)")
                throw ExitCode(1)
            }
            try write(document, to: (folder as NSString).appendingPathComponent(GradientVariance.fileName))
        }
    }

    func write(_ text: String, to path: String) throws {
        do {
            try AtomicFile.write(Array(text.utf8), to: path)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        print("wrote \(path)")
    }
}
