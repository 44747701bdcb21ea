import Foundation
import ArgumentParser
import BayesNetSpec
import BayesNetRuntime

/// Writes a line to standard error (the one console policy: `Console`).
func printError(_ text: String) {
    Console.err(text)
}

/// Loads a spec, printing its diagnostics as `validate` does (colour only on a terminal without NO_COLOR);
/// an invalid spec exits with status 1.
func loadSpecOrExit(_ path: String, limits: SpecLimits = .default) throws -> ModelSpec {
    let result = SpecLoader.load(path: path, limits: limits)
    Console.report(result)
    guard let spec = result.spec else { throw ExitCode(1) }
    return spec
}

/// `--threads`, shared by the commands that run kernels.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads for the kernels (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// Sets the kernels' thread count.
    func apply() {
        if let threads { Runtime.threadCount = threads }
    }
}
