import ArgumentParser
import BayesNet
import BayesNetSpec

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check specs and report every problem with its line and column.",
        discussion: "Data files named in `data:` are checked too, from their headers (existence, shapes, labels or targets per example); --no-data skips that. Exit code 0 when every spec is valid, 1 when one is not."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "Spec files (YAML).")
    var specs: [String]

    @Option(help: "Diagnostics as `text` (on standard error) or `json` (an array on standard output).")
    var format: Format = .text

    @Flag(help: "Check the spec alone, not its data files.")
    var noData = false

    @OptionGroup(title: "Limits")
    var limits: SpecLimitOptions

    @OptionGroup(title: "Limits")
    var dataLimits: DataLimitOptions

    func validate() throws {
        if specs.isEmpty { throw ValidationError("give at least one spec file") }
    }

    func run() throws {
        var all: [Diagnostic] = []
        var invalid = 0
        for path in specs {
            var result = SpecLoader.load(path: path, limits: limits.limits)
            if let spec = result.spec, !noData {
                let problems = DataLoader.check(spec, limits: dataLimits.limits)
                result.diagnostics += problems
                if !problems.isEmpty { result.spec = nil }
            }
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
