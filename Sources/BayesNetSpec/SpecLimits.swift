/// Bounds on what reading a spec may cost, each checked before the work it bounds. Every error that one of them
/// causes names the limit and the command-line option that raises it.
public struct SpecLimits: Sendable, Equatable {
    /// Largest spec file read, in bytes (a spec is a few kilobytes). `--max-spec-size`.
    public var maxFileBytes: Int
    /// Deepest nesting of YAML mappings and lists. `--max-nesting`.
    public var maxDepth: Int
    /// Nodes in the document once every alias is expanded (bounds "billion laughs" documents). `--max-yaml-nodes`.
    public var maxExpandedNodes: Int
    /// Largest tensor a spec may declare: one layer's parameters or one example's activations, in bytes.
    /// `--max-tensor-size`.
    public var maxTensorBytes: Int
    /// Diagnostics reported; the rest are counted in a last one. Each shows a source line, so thousands of them
    /// from one short file would make the output quadratic in its size. `--max-diagnostics`.
    public var maxDiagnostics: Int

    public init(
        maxFileBytes: Int = 4 << 20, maxDepth: Int = 64, maxExpandedNodes: Int = 100_000, maxTensorBytes: Int = 8 << 30,
        maxDiagnostics: Int = 200
    ) {
        self.maxFileBytes = maxFileBytes
        self.maxDepth = maxDepth
        self.maxExpandedNodes = maxExpandedNodes
        self.maxTensorBytes = maxTensorBytes
        self.maxDiagnostics = maxDiagnostics
    }

    public static let `default` = SpecLimits()

    /// The options that raise each limit (the `bayesnet` commands that read a spec accept them).
    public enum Option {
        public static let maxFileBytes = "--max-spec-size"
        public static let maxDepth = "--max-nesting"
        public static let maxExpandedNodes = "--max-yaml-nodes"
        public static let maxTensorBytes = "--max-tensor-size"
        public static let maxDiagnostics = "--max-diagnostics"
    }
}
