import Foundation

/// What a finished child process left: its exit status and everything it wrote.
public struct ProcessOutcome: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs programs to the end with their output captured, for tests that check a command as users run it.
public enum Subprocess {
    /// Runs `executable arguments` (in `folder`, default the test's), with `environment` added to the test's.
    public static func run(_ executable: String, _ arguments: [String], in folder: String? = nil,
                           environment: [String: String] = [:]) throws -> ProcessOutcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let folder { p.currentDirectoryURL = URL(fileURLWithPath: folder) }
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes before waiting, so a child that fills one cannot block on it.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return ProcessOutcome(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                              stderr: String(decoding: e, as: UTF8.self))
    }
}

/// The built `bayesnet` executable, run as a user runs it (it and the test bundle are products of one build).
public enum BayesnetProcess {
    public typealias Outcome = ProcessOutcome

    /// The executable next to the test bundle.
    public static var executable: String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var dir = here
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("bayesnet").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return here.appendingPathComponent("bayesnet").path
    }

    /// Runs `bayesnet arguments` to the end (in `folder`, default the test's), capturing its output.
    public static func run(_ arguments: [String], in folder: String? = nil,
                           environment: [String: String] = [:]) throws -> ProcessOutcome {
        try Subprocess.run(executable, arguments, in: folder, environment: environment)
    }

    /// Starts `bayesnet arguments` with its output discarded, for a test that signals or waits for it.
    public static func launch(_ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }
}
