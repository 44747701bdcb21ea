import ArgumentParser
import BayesNetSpec

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check specs and report every problem with its line and column.",
        discussion: "Exit code 0 when every spec is valid, 1 when one is not."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "Spec files (YAML).")
    var specs: [String]

    @Option(help: "Diagnostics as `text` (on standard error) or `json` (an array on standard output).")
    var format: Format = .text

    @OptionGroup(title: "Limits")
    var limits: SpecLimitOptions

    func validate() throws {
        if specs.isEmpty { throw ValidationError("give at least one spec file") }
    }

    func run() throws {
        var all: [Diagnostic] = []
        var invalid = 0
        for path in specs {
            let result = SpecLoader.load(path: path, limits: limits.limits)
            if !result.isValid { invalid += 1 }
            switch format {
            case .text:
                Console.report(result)
                if result.isValid { Console.out("ok: \(path)") }
            case .json:
                all += result.diagnostics
            }
        }
        if format == .json { Console.out(DiagnosticRenderer.json(all)) }
        if invalid > 0 { throw ExitCode(1) }
    }
}
