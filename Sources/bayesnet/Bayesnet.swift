import ArgumentParser

@main
struct Bayesnet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bayesnet",
        abstract: "Bayesian neural networks declared in YAML, compiled and run natively.",
        subcommands: [
            ValidateCommand.self,
            InspectCommand.self,
            CompileCommand.self,
            RunCommand.self,
            EvaluateCommand.self,
            PredictCommand.self,
            ReportCommand.self,
            BenchCommand.self,
            SchemaCommand.self,
        ]
    )
}
