/// One problem found in a spec. Every stage reports these instead of throwing, so all problems surface at once.
public struct Diagnostic: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Equatable, Codable { case error, warning, note }
    public var severity: Severity
    public var message: String
    public var location: SourceLocation
    /// A likely fix, e.g. "did you mean `filter_shape`?".
    public var help: String?

    public init(severity: Severity = .error, message: String, location: SourceLocation, help: String? = nil) {
        self.severity = severity
        self.message = message
        self.location = location
        self.help = help
    }
}
