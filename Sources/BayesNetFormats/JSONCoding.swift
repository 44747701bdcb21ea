import Foundation

/// Encodes and decodes the run folder's JSON files. Keys are the properties' names in snake case, in the order
/// the properties are declared: Foundation's JSONEncoder keeps no order, and the run folder promises one.
/// A number that is not finite is written as `null` (JSON has no NaN).
public enum RunFolderJSON {
    /// The value as an ordered JSON tree.
    public static func value<T: Encodable>(_ value: T) -> JSONValue {
        let encoder = TreeEncoder()
        do {
            try value.encode(to: encoder)
        } catch {
            // The tree encoder itself never throws; only a type's own `encode(to:)` could.
            preconditionFailure("encoding \(T.self) failed: \(error)")
        }
        return encoder.storage.value
    }

    /// One line of text (metrics.jsonl) or, with `indent`, a pretty-printed document ending in a newline.
    public static func text<T: Encodable>(_ value: T, indent: Int? = nil) -> String {
        let rendered = Self.value(value).rendered(indent: indent)
        return indent == nil ? rendered : rendered + "\n"
    }

    /// A decoder for the same files: snake-case keys.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// `trainAccuracy` → `train_accuracy`, as the decoder's `.convertFromSnakeCase` reverses it.
    public static func snakeCase(_ key: String) -> String {
        var out = ""
        for ch in key {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }
}

/// A reference to the node being built, so nested containers can fill it after they are handed out.
private final class Node {
    enum Content {
        case empty
        case scalar(JSONValue)
        case object([(String, Node)])
        case array([Node])
    }
    var content = Content.empty

    var value: JSONValue {
        switch content {
        case .empty: return .object([])
        case .scalar(let v): return v
        case .object(let pairs): return .object(pairs.map { ($0.0, $0.1.value) })
        case .array(let items): return .array(items.map(\.value))
        }
    }
}

private final class TreeEncoder: Encoder {
    let storage: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(storage: Node = Node(), codingPath: [any CodingKey] = []) {
        self.storage = storage
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = storage.content {} else { storage.content = .object([]) }
        return KeyedEncodingContainer(KeyedTree<Key>(node: storage, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = storage.content {} else { storage.content = .array([]) }
        return UnkeyedTree(node: storage, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleTree(node: storage, codingPath: codingPath)
    }
}

/// Scalars as JSON values; anything else goes through its own `encode(to:)` into a child node.
private func encodeValue<T: Encodable>(_ value: T, into node: Node, codingPath: [any CodingKey]) throws {
    // Exact type tests: a cast through `Any` could turn an integer into a Double or a Bool into an integer.
    if T.self == Double.self { node.content = .scalar(.finite((value as! Double))) }
    else if T.self == Float.self { node.content = .scalar(.finite(Double(value as! Float))) }
    else if T.self == Int.self { node.content = .scalar(.int(value as! Int)) }
    else if T.self == Int32.self { node.content = .scalar(.int(Int(value as! Int32))) }
    else if T.self == String.self { node.content = .scalar(.string(value as! String)) }
    else if T.self == Bool.self { node.content = .scalar(.bool(value as! Bool)) }
    else { try value.encode(to: TreeEncoder(storage: node, codingPath: codingPath)) }
}

private struct KeyedTree<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    func child(_ key: Key) -> Node {
        let child = Node()
        guard case .object(var pairs) = node.content else { preconditionFailure("keyed container on a non-object") }
        let name = RunFolderJSON.snakeCase(key.stringValue)
        if let i = pairs.firstIndex(where: { $0.0 == name }) { pairs[i].1 = child } else { pairs.append((name, child)) }
        node.content = .object(pairs)
        return child
    }

    mutating func encodeNil(forKey key: Key) throws { child(key).content = .scalar(.null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeValue(value, into: child(key), codingPath: codingPath + [key])
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let c = child(key)
        c.content = .object([])
        return KeyedEncodingContainer(KeyedTree<NestedKey>(node: c, codingPath: codingPath + [key]))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let c = child(key)
        c.content = .array([])
        return UnkeyedTree(node: c, codingPath: codingPath + [key])
    }
    mutating func superEncoder() -> any Encoder { TreeEncoder(storage: node, codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { TreeEncoder(storage: child(key), codingPath: codingPath + [key]) }
}

private struct IndexKey: CodingKey {
    var stringValue: String { String(intValue!) }
    var intValue: Int?
    init(_ i: Int) { intValue = i }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct UnkeyedTree: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int {
        if case .array(let items) = node.content { return items.count }
        return 0
    }

    func append() -> Node {
        let child = Node()
        guard case .array(var items) = node.content else { preconditionFailure("unkeyed container on a non-array") }
        items.append(child)
        node.content = .array(items)
        return child
    }

    mutating func encodeNil() throws { append().content = .scalar(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try encodeValue(value, into: append(), codingPath: codingPath + [IndexKey(count)])
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let c = append()
        c.content = .object([])
        return KeyedEncodingContainer(KeyedTree<NestedKey>(node: c, codingPath: codingPath))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let c = append()
        c.content = .array([])
        return UnkeyedTree(node: c, codingPath: codingPath)
    }
    mutating func superEncoder() -> any Encoder { TreeEncoder(storage: append(), codingPath: codingPath) }
}

private struct SingleTree: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    mutating func encodeNil() throws { node.content = .scalar(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try encodeValue(value, into: node, codingPath: codingPath) }
}
