/// A YAML node built from libyaml's events, with where it was written.
///
/// Scalars stay untyped text: the spec field a scalar fills decides its type (YAML 1.2 rules), so `no`,
/// `on` or `010` never turn into booleans or octal numbers behind the reader's back.
struct YAMLNode: Sendable {
    enum Value: Sendable {
        /// `plain` is false for quoted and block scalars and for scalars tagged `!!str`: those are always strings.
        case scalar(String, plain: Bool)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    var value: Value
    /// Where the node starts (for an alias: where the anchored value was written).
    var location: SourceLocation
    /// Where the node ends, as libyaml reports it.
    var end: SourceLocation
    /// Number of nodes in this subtree, used to bound alias expansion.
    var size: Int

    init(_ value: Value, location: SourceLocation, end: SourceLocation) {
        self.value = value
        self.location = location
        self.end = end
        switch value {
        case .scalar: size = 1
        case .sequence(let items): size = items.reduce(1) { $0 &+ $1.size }
        case .mapping(let pairs): size = pairs.reduce(1) { $0 &+ $1.key.size &+ $1.value.size }
        }
    }

    /// A plain scalar that YAML 1.2 reads as null (`~`, `null`, or nothing at all).
    var isNull: Bool {
        if case .scalar(let s, plain: true) = value { return s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL" }
        return false
    }

    var scalar: String? {
        if case .scalar(let s, _) = value { return s }
        return nil
    }

    var isPlainScalar: Bool {
        if case .scalar(_, plain: true) = value { return true }
        return false
    }

    var pairs: [YAMLPair]? {
        if case .mapping(let p) = value { return p }
        return nil
    }

    var items: [YAMLNode]? {
        if case .sequence(let i) = value { return i }
        return nil
    }

    /// How the node reads in a message: "a mapping", "a list", "nothing", "the string \"5\"", "`abc`".
    var kindDescription: String {
        switch value {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s, let plain):
            if isNull { return "nothing" }
            let shown = s.count > 40 ? String(s.prefix(37)) + "..." : s
            return plain ? "`\(shown)`" : "the string \"\(shown)\""
        }
    }
}

struct YAMLPair: Sendable {
    var key: YAMLNode
    var value: YAMLNode
    /// Copied in by a merge key `<<`; the mapping's own keys win over such pairs.
    var merged = false
}
