import BayesNetFormats
import ArgumentParser
import BayesNet
import BayesNetSpec

/// A size in bytes written as a whole number with an optional binary unit: 4096, 512K, 64M, 2G, 1T (KiB etc. too).
struct ByteSize: ExpressibleByArgument, Sendable {
    var bytes: Int

    init?(argument: String) {
        var text = Substring(argument.uppercased())
        if text.hasSuffix("IB") { text = text.dropLast(2) } else if text.hasSuffix("B") { text = text.dropLast() }
        var shift = 0
        if let unit = text.last, let k = ["K", "M", "G", "T"].firstIndex(of: String(unit)) {
            shift = 10 * (k + 1)
            text = text.dropLast()
        }
        guard let n = Int(text), n > 0, n <= Int.max >> shift else { return nil }
        bytes = n << shift
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// Options that raise the bounds on reading a spec (see `SpecLimits`).
struct SpecLimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Largest spec file read (default 4M).", valueName: "size"))
    var maxSpecSize: ByteSize?

    @Option(help: ArgumentHelp("Deepest nesting of YAML mappings and lists (default 64).", valueName: "levels"))
    var maxNesting: Int?

    @Option(help: ArgumentHelp("Most YAML nodes once aliases are expanded (default 100000).", valueName: "count"))
    var maxYamlNodes: Int?

    @Option(help: ArgumentHelp("Largest tensor a spec may declare: one layer's parameters or one example's activations (default 8G).", valueName: "size"))
    var maxTensorSize: ByteSize?

    @Option(help: ArgumentHelp("Most diagnostics shown for one spec; the rest are counted (default 200).", valueName: "count"))
    var maxDiagnostics: Int?

    func validate() throws {
        if let n = maxDiagnostics, n < 1 { throw ValidationError("--max-diagnostics must be at least 1") }
        if let n = maxNesting, n < 1 { throw ValidationError("--max-nesting must be at least 1") }
        if let n = maxYamlNodes, n < 1 { throw ValidationError("--max-yaml-nodes must be at least 1") }
    }

    var limits: SpecLimits {
        var l = SpecLimits.default
        if let s = maxSpecSize { l.maxFileBytes = s.bytes }
        if let n = maxNesting { l.maxDepth = n }
        if let n = maxYamlNodes { l.maxExpandedNodes = n }
        if let s = maxTensorSize { l.maxTensorBytes = s.bytes }
        if let n = maxDiagnostics { l.maxDiagnostics = n }
        return l
    }
}

/// Options that raise the bounds on reading data and checkpoint files (see `DataLimits`).
struct DataLimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Largest data or checkpoint file read (default 2G).", valueName: "size"))
    var maxFileSize: ByteSize?

    @Option(help: ArgumentHelp("Largest array read from a file, counted as float32 values (default 2G).", valueName: "size"))
    var memoryBudget: ByteSize?

    var limits: DataLimits {
        let d = DataLimits.default
        return DataLimits(maxFileBytes: maxFileSize?.bytes ?? d.maxFileBytes, memoryBudget: memoryBudget?.bytes ?? d.memoryBudget)
    }
}
