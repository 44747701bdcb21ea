/// One problem found in a spec. Every stage reports these instead of throwing, so all problems surface at once.
public struct Diagnostic: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Equatable, Codable { case error, warning, note }

    /// A secondary location that explains the diagnostic, e.g. where a duplicated key was first written.
    public struct Note: Sendable, Equatable, Codable {
        public var message: String
        public var location: SourceLocation

        public init(_ message: String, at location: SourceLocation) {
            self.message = message
            self.location = location
        }
    }

    /// What kind of problem this is; stable across releases, so tools and tests match on it, not on the text.
    public var id: DiagnosticID
    public var severity: Severity
    public var message: String
    public var location: SourceLocation
    /// A likely fix, e.g. "did you mean `filter_shape`?".
    public var help: String?
    public var notes: [Note]

    public init(id: DiagnosticID, severity: Severity = .error, message: String, location: SourceLocation,
                help: String? = nil, notes: [Note] = []) {
        self.id = id
        self.severity = severity
        self.message = message
        self.location = location
        self.help = help
        self.notes = notes
    }
}
