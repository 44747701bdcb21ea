import ArgumentParser
import BayesNet

@main
struct Bayesnet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bayesnet",
        abstract: "Bayesian neural networks declared in YAML, compiled and run natively.",
        version: "bayesnet \(bayesnetVersion) (spec format 1)",
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
            WeightsCommand.self,
            DiagnoseCommand.self,
        ]
    )
}
