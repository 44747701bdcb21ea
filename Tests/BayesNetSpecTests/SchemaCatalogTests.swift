import Foundation
import Testing
@testable import BayesNetSpec

/// The JSON Schema against the lowering itself: every mapping the schema describes is probed by loading
/// specs built from the schema's own examples, so neither side can gain or lose a key, a name or a default
/// without a test failing.
@Suite struct SchemaCatalogTests {
    nonisolated(unsafe) static let schema = try! JSONSerialization.jsonObject(with: Data(SpecSchema.json().utf8)) as! [String: Any]
    nonisolated(unsafe) static let sites = SchemaWalk(schema).sites()

    @Test func schemaIsDraft202012() {
        #expect(Self.schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
    }

    @Test func walkFindsEveryKindOfMapping() {
        let paths = Set(Self.sites.map(\.pathText))
        for p in ["", "input", "train", "train.optimizer.adam", "data.train", "layers[].Conv2DFlipout", "defaults.MaxPool",
                  "layers[].Dense.kernel_initializer.random_normal", "layers[].DenseFlipout.prior.scale_mixture"] {
            #expect(paths.contains(p), "no mapping at `\(p)`")
        }
    }

    @Test func layerTypesAreExactlyTheLoweringsTable() throws {
        let item = try #require(SchemaWalk(Self.schema).resolve(Self.schema["$defs"].flatMap { ($0 as? [String: Any])?["layer"] }))
        let branches = try #require(item["anyOf"] as? [[String: Any]])
        let bare = Set(try #require(branches.first { $0["enum"] != nil }?["enum"] as? [String]))
        let keyed = Set(try #require(branches.first { $0["properties"] != nil }?["properties"] as? [String: Any]).keys)
        #expect(bare == Set(LayerCatalog.types.keys))
        #expect(keyed == Set(LayerCatalog.types.keys))
        #expect(bare.contains("Conv2DFlipout") && bare.contains("DenseFlipout") && bare.contains("ConvolutionVariationalFlipout"))
    }

    @Test func everyLayerTypeWrittenBareIsAccepted() {
        // `Add` and `Concatenate` read at least two inputs, which only their own `inputs:` can name.
        for name in LayerCatalog.allNames where LayerCatalog.types[name]?.family.merges == false {
            var defaults: [String: Any] = [:]
            let minimal = minimalArguments(name)
            if !minimal.isEmpty { defaults[name] = minimal }
            let spec: [String: Any] = ["bayesnet": 1, "input": ["shape": inputShape(for: name)], "defaults": defaults, "layers": [name]]
            expectAccepted(spec, "bare `\(name)`")
        }
    }

    @Test func everyKeyAndEveryValueFormTheSchemaListsIsAccepted() {
        for site in Self.sites {
            for (key, property) in site.properties {
                for value in SchemaWalk.examples(property) {
                    let (spec, label) = site.spec(setting: key, to: value)
                    expectAccepted(spec, label)
                }
            }
        }
    }

    /// Every word any mapping takes, an unsupported Keras word, or a misspelling.
    nonisolated(unsafe) static let vocabulary: [(String, Any)] = {
        var words = Set(sites.flatMap { $0.properties.keys })
        words.formUnion(LayerCatalog.unsupported.keys)
        words.formUnion(spellingsTheLoweringRead)
        words.insert("learning_rat")
        var exampleFor: [String: Any] = [:]
        for site in sites {
            for (key, property) in site.properties where exampleFor[key] == nil { exampleFor[key] = SchemaWalk.examples(property).first }
        }
        return words.filter { !$0.hasPrefix(SpecCatalog.freeKeyPrefix) }.sorted().map { ($0, exampleFor[$0] ?? 1) }
    }()

    /// Sites that differ only by an alias of the same layer arguments, or that are one named value (a prior,
    /// an initializer) under different layers, are probed once.
    static let distinctSites: [Int] = {
        var seen: Set<String> = []
        return sites.indices.filter { i in
            let s = sites[i]
            var path = s.path.map { step -> String in
                guard case .key(let k) = step else { return "[]" }
                return LayerCatalog.types[k] != nil ? SpecSchema.argumentsDefinition(k) : k
            }
            if path.count > 3 { path = [path[0]] + path.suffix(min(2, path.count - 3)) }
            return seen.insert(path.joined(separator: ".") + " " + s.properties.keys.sorted().joined(separator: ",")).inserted
        }
    }()

    @Test(arguments: distinctSites)
    func everyOtherKeyIsRefused(site index: Int) {
        let site = Self.sites[index]
        for (word, example) in Self.vocabulary where site.properties[word] == nil {
            let (spec, label) = site.spec(setting: word, to: example)
            #expect(load(spec).spec == nil, "the lowering accepts \(label), which the schema does not list")
        }
    }

    /// Every key spelling the lowering consulted while loading every probe and every spec in `specs/`.
    static let spellingsTheLoweringRead: Set<String> = {
        var texts = librarySpecs().compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
        for site in sites {
            for (key, property) in site.properties {
                for value in SchemaWalk.examples(property) { texts.append(yaml(site.spec(setting: key, to: value).0)) }
            }
        }
        var read: Set<String> = []
        for text in texts {
            var diagnostics: [Diagnostic] = []
            guard let root = YAMLParser(file: "<probe>").parse(text, diagnostics: &diagnostics) else { continue }
            var lowering = Lowering(source: SpecSource(path: "<probe>", text: text))
            _ = lowering.lower(root)
            read.formUnion(lowering.r.spellingsRead)
        }
        return read
    }()

    @Test func theLoweringReadsNoKeyTheSchemaLacks() {
        let listed = Set(Self.sites.flatMap { $0.properties.keys })
        let read = Self.spellingsTheLoweringRead
        #expect(read.count > 50)
        #expect(read.subtracting(listed).isEmpty, "read by the lowering but not in the schema: \(read.subtracting(listed).sorted())")
    }

    @Test func everyDefaultTheSchemaStatesIsTheLoweringsDefault() throws {
        var checked = 0
        for site in Self.sites {
            for (key, property) in site.properties {
                guard let d = property["default"] else { continue }
                let (without, _) = site.spec(setting: nil, to: nil)
                let (with, label) = site.spec(setting: key, to: d)
                let a = try #require(load(without).spec, "base of \(label)")
                let b = try #require(load(with).spec, "\(label)")
                #expect(essence(a) == essence(b), "\(label) changes the result, so it is not the default")
                checked += 1
            }
        }
        #expect(checked > 40)
    }

    func expectAccepted(_ spec: [String: Any], _ label: String) {
        let result = load(spec)
        #expect(result.spec != nil, "\(label) is refused: \(result.diagnostics.map(\.message))\n\(yaml(spec))")
    }
}

func load(_ spec: [String: Any]) -> SpecLoadResult { SpecLoader.load(text: yaml(spec), path: "<probe>.yaml") }

/// What a spec means, without where it was written.
func essence(_ s: ModelSpec) -> String {
    "\(s.name) \(String(describing: s.seed)) \(s.dtype) \(s.input) \(s.layers.map { "\($0.name) \($0.op)" }) \(String(describing: s.likelihood)) \(s.data) \(s.train) \(s.evaluate)"
}

/// The arguments a layer of this type cannot do without (in a layer or in `defaults`).
func minimalArguments(_ typeName: String) -> [String: Any] {
    switch LayerCatalog.types[typeName]?.family {
    case .convolution?: return ["output_size": 1, "filter_shape": 1]
    case .affine?: return ["output_size": 1]
    case .add?, .concatenate?: return ["inputs": ["input", "input"]]
    case .dropout?: return ["rate": 0.5]
    case .activation?: return ["activation_fn": "relu"]
    default: return [:]
    }
}

/// Every spelling of argument `canonical` of a layer type.
func spellings(of canonical: String, in typeName: String) -> [String] {
    guard let t = LayerCatalog.types[typeName] else { return [canonical] }
    return LayerCatalog.arguments(for: t.family).first { $0.canonical == canonical }?.spellings ?? [canonical]
}

/// An input that suits a layer of this type (one channel, so `input_size: 1` fits).
func inputShape(for typeName: String) -> [Int] {
    guard let t = LayerCatalog.types[typeName] else { return [4, 4, 1] }
    switch t.family {
    case .affine: return [1]
    case .convolution, .pool: return [Int](repeating: 4, count: t.fixedRank ?? 2) + [1]
    case .flatten: return [4, 1]
    case .add, .concatenate, .batchNormalization, .dropout, .activation: return [4, 4, 1]
    case .globalPool: return [Int](repeating: 4, count: t.fixedRank ?? 2) + [1]
    }
}

/// JSON-like values as one line of YAML flow style, with plain scalars wherever YAML reads them as written.
func yaml(_ v: Any) -> String {
    switch v {
    case let d as [String: Any]:
        return "{" + d.keys.sorted().map { "\(yaml($0)): \(yaml(d[$0]!))" }.joined(separator: ", ") + "}"
    case let a as [Any]: return "[" + a.map(yaml).joined(separator: ", ") + "]"
    case is NSNull: return "null"
    case let b as NSNumber where String(cString: b.objCType) == "c": return b.boolValue ? "true" : "false"
    case let s as String:
        let plain = !s.isEmpty && s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "_./+-".unicodeScalars.contains($0) }
        return plain ? s : "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    case let n as NSNumber: return n.stringValue
    default: return "\(v)"
    }
}

/// A closed mapping of the schema (`additionalProperties: false`) and how to reach it in a spec.
struct SchemaSite {
    enum Step: Equatable { case key(String), item }
    var path: [Step]
    var properties: [String: [String: Any]]
    var required: [String]
    var maxOne: Bool

    var pathText: String {
        path.map { if case .key(let k) = $0 { return "." + k } else { return "[]" } }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    /// The layer type this mapping belongs to, when it is inside one.
    var layerType: String? {
        for case .key(let k) in path where LayerCatalog.types[k] != nil { return k }
        return nil
    }

    /// The mapping's smallest valid value: its required keys, or for a one-key mapping its first key.
    var base: [String: Any] {
        var out: [String: Any] = [:]
        for k in required { out[k] = properties[k].flatMap { SchemaWalk.examples($0).first } }

        return out
    }

    /// A whole spec with this mapping in place, `key` set to `value` in it (a one-key mapping: replaced by it).
    func spec(setting key: String?, to value: Any?) -> ([String: Any], String) {
        var mapping = maxOne ? [:] : base
        if maxOne, key == nil, let first = properties.keys.sorted().first { mapping[first] = SchemaWalk.examples(properties[first]!).first }
        if let key { mapping[key] = value }
        var spec: [String: Any] = ["bayesnet": 1, "input": ["shape": [8, 8, 1]], "layers": ["Flatten", ["Dense": ["units": 10]]]]
        func alone(_ type: String, _ arguments: Any?) {
            var a = arguments as? [String: Any] ?? [:]
            for (k, v) in minimalArguments(type) where !spellings(of: k, in: type).contains(where: { a[$0] != nil }) { a[k] = v }
            spec["input"] = ["shape": inputShape(for: type)]
            spec["layers"] = [[type: a]]
        }
        switch path.first {
        case nil:
            // The top level: the base spec, with one key set (a probe's `layers` could not be a whole network).
            if let key, key != "layers" { spec[key] = value }
        case .key("layers")?:
            if path.count == 2 {
                let type = mapping.keys.first ?? "Flatten"
                if LayerCatalog.types[type] != nil, mapping[type] is [String: Any] { alone(type, mapping[type]) } else { spec["layers"] = [mapping] }
            } else {
                alone(layerType!, Self.nest(Array(path.dropFirst(3)), mapping))
            }
        case .key("defaults")?:
            if path.count == 1 {
                spec["defaults"] = mapping
            } else {
                alone(layerType!, nil)
                spec["defaults"] = [layerType!: Self.nest(Array(path.dropFirst(2)), mapping)]
            }
        case .key(let top)?:
            spec[top] = Self.nest(Array(path.dropFirst()), mapping)
        case .item?:
            break
        }
        // A layer's dtype must be the spec's.
        if key == "dtype", !path.isEmpty, let v = value { spec["dtype"] = v }
        // A bundled dataset fixes the input shape.
        // A Bernoulli likelihood scores one logit.
        if "\(spec["likelihood"] ?? "")".contains("bernoulli") { spec["layers"] = ["Flatten", ["Dense": ["units": 1]]] }
        if case .key("data")? = path.first, let name = mapping["builtin"] as? String, let set = BuiltinDataset.named(name) {
            spec["input"] = ["shape": set.exampleShape]
        }
        let label = "`\(key ?? "(nothing)")` = \(value.map(yaml) ?? "-") in `\(pathText)`"
        return (spec, label)
    }

    private static func nest(_ steps: [Step], _ inner: [String: Any]) -> [String: Any] {
        var v = inner
        for case .key(let k) in steps.reversed() { v = [k: v] }
        return v
    }
}

/// Walks the schema's closed mappings, resolving `$ref`, `allOf`, `anyOf` and `oneOf`.
struct SchemaWalk {
    let root: [String: Any]

    init(_ root: [String: Any]) { self.root = root }

    func sites() -> [SchemaSite] {
        var found: [SchemaSite] = []
        walk(root, path: [], overlay: [:], into: &found)
        return found
    }

    func resolve(_ node: Any?) -> [String: Any]? {
        guard var n = node as? [String: Any] else { return nil }
        while let ref = n["$ref"] as? String, ref.hasPrefix("#/$defs/") {
            let defs = root["$defs"] as? [String: Any]
            guard let target = defs?[String(ref.dropFirst("#/$defs/".count))] as? [String: Any] else { return nil }
            n.removeValue(forKey: "$ref")
            n.merge(target) { own, _ in own }
        }
        return n
    }

    private func walk(_ node: Any?, path: [SchemaSite.Step], overlay: [String: Any], into sites: inout [SchemaSite]) {
        guard let n = resolve(node) else { return }
        var overlay = overlay
        if let all = n["allOf"] as? [Any] {
            // `properties` beside `allOf` narrow the keys of the mappings it names.
            if let extra = n["properties"] as? [String: Any] { overlay.merge(extra) { a, _ in a } }
            for part in all { walk(part, path: path, overlay: overlay, into: &sites) }
            return
        }
        if let properties = n["properties"] as? [String: Any], n["additionalProperties"] as? Bool == false {
            var props: [String: [String: Any]] = [:]
            for (k, p) in properties {
                guard var resolved = resolve(p) else { continue }
                if let narrower = overlay[k] { resolved = ["allOf": [resolved, narrower]] }
                props[k] = resolved
            }
            sites.append(SchemaSite(path: path, properties: props, required: n["required"] as? [String] ?? [], maxOne: n["maxProperties"] as? Int == 1))
            for (k, p) in props.sorted(by: { $0.key < $1.key }) { walk(p, path: path + [.key(k)], overlay: [:], into: &sites) }
        }
        if let items = n["items"] { walk(items, path: path + [.item], overlay: [:], into: &sites) }
        // Mappings under names the spec chooses (blocks), probed under one such name.
        if let named = n["additionalProperties"] as? [String: Any] { walk(named, path: path + [.key("probe_name")], overlay: [:], into: &sites) }
        for combinator in ["anyOf", "oneOf"] {
            for branch in n[combinator] as? [Any] ?? [] { walk(branch, path: path, overlay: overlay, into: &sites) }
        }
    }

    /// Values the schema accepts, one per form: each enumerated word, each branch, the default.
    static func examples(_ schema: [String: Any]) -> [Any] {
        let walk = SchemaWalk(SchemaCatalogTests.schema)
        guard let s = walk.resolve(schema) else { return [] }
        if let all = s["allOf"] as? [Any] {
            let parts = all.compactMap { walk.resolve($0) }
            if let fixed = parts.first(where: { $0["enum"] != nil }) { return examples(fixed) }
            return parts.first.map(examples) ?? []
        }
        if let e = s["enum"] as? [Any] { return e }
        // Values the schema states because no generic one fits (`inputs` names a layer that exists).
        if let e = s["examples"] as? [Any] { return e }
        var out: [Any] = []
        if let d = s["default"] { out.append(d) }
        for combinator in ["anyOf", "oneOf"] {
            for branch in s[combinator] as? [Any] ?? [] { out += examples(walk.resolve(branch) ?? [:]) }
        }
        if !out.isEmpty || s["anyOf"] != nil || s["oneOf"] != nil { return out }
        let type = (s["type"] as? String) ?? (s["type"] as? [String])?.first
        switch type {
        case "integer": return [s["minimum"] ?? 1]
        case "number":
            if let m = s["minimum"] { return [m] }
            // Between exclusive bounds (a fraction of the data, a decay factor).
            if s["exclusiveMinimum"] != nil, let top = s["exclusiveMaximum"] as? Double { return [top / 2] }
            return [1]
        case "string":
            if let p = s["pattern"] as? String {
                return p.contains("/") ? ["1/2"] : []
            }
            return ["x"]
        case "null": return [NSNull()]
        case "array":
            guard let item = s["items"] as? [String: Any], let first = examples(item).first else { return [] }
            return [[Any](repeating: first, count: s["minItems"] as? Int ?? 1)]
        case "object":
            var o: [String: Any] = [:]
            let properties = s["properties"] as? [String: Any] ?? [:]
            for k in s["required"] as? [String] ?? [] {
                o[k] = walk.resolve(properties[k]).flatMap { examples($0).first }
            }
            return [o]
        default: return []
        }
    }
}
