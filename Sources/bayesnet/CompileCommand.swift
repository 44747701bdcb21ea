import ArgumentParser
import BayesNetSpec

struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Write a spec's resolved IR as JSON (defaults applied, aliases resolved, shapes inferred).",
        discussion: "The format is documented in docs/ir-json.md."
    )

    @Argument(help: "A spec file (YAML).")
    var spec: String

    @OptionGroup(title: "Limits")
    var limits: SpecLimitOptions

    @Option(name: .shortAndLong, help: "Write the JSON to this file instead of standard output.")
    var output: String?

    func run() throws {
        let result = SpecLoader.load(path: spec, limits: limits.limits)
        Console.report(result)
        guard let model = result.spec else { throw ExitCode(1) }
        let json = model.compiledJSON()
        try Console.emit(json, to: output)
    }
}
