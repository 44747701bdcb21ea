import BayesNetFormats
import ArgumentParser
import BayesNet
import BayesNetSpec

struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Write a spec's resolved IR as JSON, or its network as a TensorFlow Probability module (--emit tfp).",
        discussion: """
            The IR format is documented in docs/ir-json.md. `--emit tfp` writes a Python module that builds the same \
            network with tfp.layers and loads bayesnet checkpoints into it (docs/tfp-export.md); a layer or setting TFP \
            cannot express is refused with a diagnostic, exit code 1.
            """
    )

    enum Target: String, ExpressibleByArgument, CaseIterable {
        case ir, tfp
    }

    @Argument(help: "A spec file (YAML).")
    var spec: String

    @Option(help: "What to write: `ir` (the resolved IR as JSON) or `tfp` (a Python module of tfp.layers).")
    var emit: Target = .ir

    @Option(help: ArgumentHelp(
        "With --emit tfp: the number of training examples that `penalty_weight: auto` divides by (default: counted in the spec's data.train).",
        valueName: "n"))
    var trainExamples: Int?

    @OptionGroup(title: "Limits")
    var limits: SpecLimitOptions

    @OptionGroup(title: "Limits")
    var dataLimits: DataLimitOptions

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        if let trainExamples, trainExamples < 1 { throw ValidationError("--train-examples must be at least 1") }
        if trainExamples != nil, emit != .tfp { throw ValidationError("--train-examples applies to --emit tfp only") }
    }

    func run() throws {
        let result = SpecLoader.load(path: spec, limits: limits.limits)
        Console.report(result)
        guard let model = result.spec else { throw ExitCode(1) }
        switch emit {
        case .ir:
            try Console.emit(model.compiledJSON(), to: output)
        case .tfp:
            let examples: Int?
            do {
                examples = try trainExamples ?? model.countedTrainingExamples(limits: dataLimits.limits)
            } catch {
                Console.err("error: cannot count the training examples for `penalty_weight: auto`: \(error)")
                Console.err("help: pass --train-examples N")
                throw ExitCode(1)
            }
            let module = model.tfpModule(trainingExamples: examples)
            for d in module.diagnostics { Console.err(d.rendered(source: model.source, color: Console.stderrColor)) }
            guard let text = module.text else { throw ExitCode(1) }
            try Console.emit(text, to: output)
        }
    }
}

extension ModelSpec {
    /// The training examples of `data.train`, counted only when a layer's `penalty_weight` is `auto`.
    func countedTrainingExamples(limits: DataLimits) throws -> Int? {
        guard layers.contains(where: { $0.variationalSettings?.penaltyWeight == .auto }) else { return nil }
        return try DataLoader.trainingExampleCount(self, limits: limits)
    }
}
