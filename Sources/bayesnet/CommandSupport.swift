import Foundation
import ArgumentParser
import BayesNetSpec
import BayesNetRuntime

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Loads a spec, printing its diagnostics; an invalid spec exits with status 1.
func loadSpecOrExit(_ path: String, limits: SpecLimits = .default) throws -> ModelSpec {
    let result = SpecLoader.load(path: path, limits: limits)
    let color = isatty(STDERR_FILENO) != 0
    for d in result.diagnostics {
        printError(d.rendered(source: result.source, color: color))
    }
    guard let spec = result.spec else { throw ExitCode(1) }
    return spec
}

/// Applies `--threads`.
func applyThreads(_ threads: Int?) {
    if let threads { Runtime.threadCount = threads }
}
