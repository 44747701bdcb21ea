import ArgumentParser
import BayesNetSpec

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a spec's layers: output shapes, parameters, multiply-adds and penalty weights."
    )

    @Argument(help: "A spec file (YAML).")
    var spec: String

    func run() throws {
        let result = SpecLoader.load(path: spec)
        Console.report(result)
        guard let model = result.spec else { throw ExitCode(1) }
        Console.out(model.summaryTable())
    }
}
