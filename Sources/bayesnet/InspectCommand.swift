import ArgumentParser
import BayesNetSpec

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a spec's layers: output shapes, parameters, multiply-adds and penalty weights."
    )

    @Argument(help: "A spec file (YAML).")
    var spec: String

    @OptionGroup(title: "Limits")
    var limits: SpecLimitOptions

    func run() throws {
        let result = SpecLoader.load(path: spec, limits: limits.limits)
        Console.report(result)
        guard let model = result.spec else { throw ExitCode(1) }
        Console.out(model.summaryTable())
    }
}
