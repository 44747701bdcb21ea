/// The network as a graph: `blocks:` expanded into their instances, `inputs:` resolved to layers, cycles and
/// unread outputs found, and shapes inferred in topological order. A spec without `inputs:` and `blocks:` is a
/// chain, lowered exactly as a stack always was.
extension Lowering {
    /// A block as defined under `blocks:`.
    struct Block {
        var name: String
        var nameNode: YAMLNode
        /// Parameter name to its default (nil: every instance must give it), in written order.
        var parameters: [(name: String, key: YAMLNode, value: YAMLNode?)]
        var layers: [YAMLNode]
        /// False after a problem in the definition itself; its instances are then not expanded.
        var usable: Bool
    }

    /// Where a layer came from when it belongs to a block instance.
    struct Instance {
        var name: String
        var block: String
        /// The instance's list item, where every diagnostic inside it carries a note.
        var location: SourceLocation
        /// What the instance reads; resolved in the top-level scope.
        var input: Source
    }

    /// Something a layer reads, before names are resolved.
    enum Source {
        case networkInput
        case node(Int)
        /// A name as written, looked up in the top-level scope (nil) or inside instance `scope`.
        case named(String, YAMLNode, scope: Int?)
        /// The input of instance `k` (`input` inside a block, or a block's first layer).
        case instanceInput(Int)
    }

    /// One layer once blocks are expanded.
    struct Node {
        var item: LayerItem?
        /// The full name (`stage1/conv_0` inside an instance); nil when the item could not be read.
        var name: String?
        var nameLocation: SourceLocation
        var location: SourceLocation
        var sources: [Source]
        /// The `inputs:` field when written.
        var inputsField: Field?
        var instance: Int?
        /// The layer's index in its list (`layers:` or the block's), for default names.
        var index: Int
        /// Resolved producers, `-1` for the network's input; nil when a name could not be resolved.
        var producers: [Int]?
    }

    /// The lowered network: layers in topological order ending with the output, and what `lower` needs after.
    struct Graph {
        var layers: [Layer] = []
        var ok = true
        var outputShape: [Int]?
        var lastItem: LayerItem?
    }

    // MARK: Blocks

    mutating func readBlocks(_ f: Field?) -> [String: Block] {
        guard let f else { return [:] }
        guard let pairs = f.value.pairs else {
            if !f.value.isNull { r.error(.wrongType, "`blocks` must be a mapping from block name to `{parameters, layers}`, found \(f.value.kindDescription)", at: f.value) }
            return [:]
        }
        var out: [String: Block] = [:]
        for pair in pairs {
            let name = pair.key.scalar ?? ""
            var usable = true
            if LayerCatalog.types[name] != nil {
                r.error(.invalidName, "block `\(name)` has the name of a layer type; give it a name of its own", at: pair.key)
                continue
            }
            if name.isEmpty || name.contains(where: { $0.isNewline || $0 == "/" }) || name == Layer.networkInput {
                r.error(.invalidName, "a block name must be a non-empty single line without `/`, and not `\(Layer.networkInput)`", at: pair.key)
                continue
            }
            guard pair.value.pairs != nil else {
                r.error(.wrongType, "block `\(name)` must be a mapping with `layers` (and `parameters`), found \(pair.value.kindDescription)", at: pair.value)
                continue
            }
            let fs = r.fields(of: pair.value, context: "block `\(name)`", names: SpecCatalog.block)
            var parameters: [(name: String, key: YAMLNode, value: YAMLNode?)] = []
            if let p = fs["parameters"], !p.value.isNull {
                if let ps = p.value.pairs {
                    for q in ps {
                        let pname = q.key.scalar ?? ""
                        if ["name", "inputs"].contains(pname) || pname.isEmpty {
                            r.error(.invalidName, "`\(pname)` cannot be a parameter: every instance takes `name` and `inputs` of its own", at: q.key)
                            usable = false
                            continue
                        }
                        parameters.append((pname, q.key, q.value.isNull ? nil : q.value))
                    }
                } else {
                    r.error(.wrongType, "`parameters` must be a mapping from parameter name to default, such as `{filters: 16, strides: 1}`, found \(p.value.kindDescription)", at: p.value)
                    usable = false
                }
            }
            var layers: [YAMLNode] = []
            if let l = fs["layers"] {
                let items = l.value.items
                if let items, !items.isEmpty { layers = items } else {
                    r.error(items == nil ? .wrongType : .emptyList,
                            items == nil ? "the `layers` of block `\(name)` must be a list of layers, found \(l.value.kindDescription)" : "the `layers` of block `\(name)` is empty",
                            at: l.value)
                    usable = false
                }
            } else {
                r.error(.missingKey, "block `\(name)` needs `layers`, the list of its layers", at: pair.key)
                usable = false
            }
            // Every `$reference` must name a parameter; checked once here, not once per instance.
            let names = parameters.map(\.name)
            for layer in layers {
                forEachReference(in: layer) { ref, node in
                    if !names.contains(ref) {
                        r.error(.unknownParameter, "block `\(name)` has no parameter `\(ref)`", at: node,
                                help: Suggestions.help(for: ref, among: names) ?? (names.isEmpty ? "declare it under `parameters:` of block `\(name)`" : nil))
                        usable = false
                    }
                }
            }
            out[name] = Block(name: name, nameNode: pair.key, parameters: parameters, layers: layers, usable: usable)
        }
        return out
    }

    /// A plain scalar `$name` is a reference to parameter `name`.
    static func reference(_ node: YAMLNode) -> String? {
        guard case .scalar(let s, true) = node.value, s.hasPrefix("$"), s.count > 1 else { return nil }
        return String(s.dropFirst())
    }

    func forEachReference(in node: YAMLNode, _ body: (String, YAMLNode) -> Void) {
        switch node.value {
        case .scalar: if let ref = Self.reference(node) { body(ref, node) }
        case .sequence(let items): for i in items { forEachReference(in: i, body) }
        case .mapping(let pairs): for p in pairs { forEachReference(in: p.value, body) }
        }
    }

    /// The node with every `$parameter` replaced by its value (which keeps the place it was written).
    func substitute(_ node: YAMLNode, _ values: [String: YAMLNode]) -> YAMLNode {
        switch node.value {
        case .scalar:
            if let ref = Self.reference(node), let v = values[ref] { return v }
            return node
        case .sequence(let items):
            return YAMLNode(.sequence(items.map { substitute($0, values) }), location: node.location, end: node.end)
        case .mapping(let pairs):
            return YAMLNode(.mapping(pairs.map { YAMLPair(key: $0.key, value: substitute($0.value, values), merged: $0.merged) }),
                            location: node.location, end: node.end)
        }
    }

    /// Runs `body` and adds a note at the instance to every diagnostic it reports.
    mutating func inInstance<T>(_ instance: Instance?, _ body: (inout Lowering) -> T) -> T {
        let before = r.diagnostics.count
        let result = body(&self)
        if let instance {
            for i in before..<r.diagnostics.count {
                r.diagnostics[i].notes.append(.init("in `\(instance.name)`, an instance of block `\(instance.block)`", at: instance.location))
            }
        }
        return result
    }

    // MARK: The network

    mutating func lowerNetwork(_ f: Field, input: [Int]?, inputLocation: SourceLocation?, blocks: [String: Block],
                               defaults: [String: [String: Field]]) -> Graph {
        var graph = Graph()
        guard let items = f.value.items else {
            r.error(.wrongType, "`layers` must be a list of layers, found \(f.value.kindDescription)", at: f.value,
                    help: f.value.pairs != nil ? "start each layer with `- `, e.g. `- Flatten`" : nil)
            graph.ok = false
            return graph
        }
        if items.isEmpty { r.error(.emptyList, "`layers` is empty; a network needs at least one layer", at: f.value) }

        // 1. Expand: one node per layer, instances flattened in place.
        var nodes: [Node] = []
        var instances: [Instance] = []
        /// Top-level names (layers and instances) to the node that is their output.
        var names: [String: (node: Int, at: SourceLocation)] = [:]
        /// Names inside each instance, without the prefix.
        var localNames: [[String: Int]] = []
        var previous = Source.networkInput
        var expanded = 0
        func register(_ name: String, node: Int, at: SourceLocation, into table: inout [String: (node: Int, at: SourceLocation)], r: inout Reader) -> Bool {
            if name.isEmpty || name.contains(where: { $0.isNewline }) {
                r.error(.invalidName, "a layer name must be a non-empty single line", at: at)
                return false
            }
            if name == Layer.networkInput {
                r.error(.invalidName, "`\(Layer.networkInput)` names the network's input in `inputs:`; give the layer another name", at: at)
                return false
            }
            if let first = table[name] {
                r.error(.duplicateLayerName, "duplicate layer name `\(name)`", at: at,
                        help: "layer names key checkpoints and random streams, so they must be unique",
                        notes: [.init("`\(name)` first used here", at: first.at)])
                return false
            }
            table[name] = (node, at)
            return true
        }

        for (i, yaml) in items.enumerated() {
            if let block = instanceBlock(yaml, blocks: blocks) {
                // A block instance: `- block` or `- block: {name, inputs, parameter: value}`.
                let k = instances.count
                guard let args = instanceArguments(yaml, block: block) else {
                    graph.ok = false
                    previous = placeholder(yaml, name: nil, previous: previous, index: i, nodes: &nodes)
                    continue
                }
                let instanceName = args.name?.value.scalar ?? "\(block.name)_\(i)"
                let nameAt = args.name?.value.location ?? yaml.location
                var instanceInput = previous
                if let inputs = args.inputs {
                    let written = inputNames(inputs)
                    if written.count != 1 {
                        r.error(.inputCount, "an instance of a block reads one input, but `inputs` lists \(written.count)", at: inputs.value)
                        graph.ok = false
                    } else {
                        instanceInput = .named(written[0].0, written[0].1, scope: nil)
                    }
                }
                instances.append(Instance(name: instanceName, block: block.name, location: yaml.location, input: instanceInput))
                localNames.append([:])
                guard block.usable, args.complete else {
                    graph.ok = false
                    previous = placeholder(yaml, name: instanceName, previous: previous, index: i, nodes: &nodes)
                    if !register(instanceName, node: nodes.count - 1, at: nameAt, into: &names, r: &r) { graph.ok = false }
                    continue
                }
                var blockPrevious = Source.instanceInput(k)
                let first = nodes.count
                for (j, layerNode) in block.layers.enumerated() {
                    let substituted = substitute(layerNode, args.values)
                    expanded = expanded &+ substituted.size
                    if expanded > limits.maxExpandedNodes {
                        r.error(.aliasExpansionLimit, "expanding the instances of blocks makes more than \(limits.maxExpandedNodes) YAML nodes (raise the limit with \(SpecLimits.Option.maxExpandedNodes))", at: yaml)
                        graph.ok = false
                        return graph
                    }
                    let instance = instances[k]
                    var n = inInstance(instance) { me in me.node(substituted, index: j, scope: k, previous: blockPrevious, blocks: blocks, inBlock: true) }
                    n.instance = k
                    if let local = n.name {
                        let ok = inInstance(instance) { me -> Bool in
                            var table = localNames[k].mapValues { (node: $0, at: nodes[$0].nameLocation) }
                            let ok = register(local, node: nodes.count, at: n.nameLocation, into: &table, r: &me.r)
                            localNames[k] = table.mapValues(\.node)
                            return ok
                        }
                        if !ok { graph.ok = false }
                        n.name = instanceName + "/" + local
                    }
                    if n.item == nil { graph.ok = false }
                    blockPrevious = .node(nodes.count)
                    nodes.append(n)
                }
                // The instance's name stands for its output: its last layer.
                if !register(instanceName, node: nodes.count - 1, at: nameAt, into: &names, r: &r) { graph.ok = false }
                for j in first..<nodes.count {
                    if let full = nodes[j].name, let clash = names[full], clash.node != j {
                        r.error(.duplicateLayerName, "duplicate layer name `\(full)`", at: nodes[j].nameLocation,
                                help: "layer names key checkpoints and random streams, so they must be unique",
                                notes: [.init("`\(full)` first used here", at: clash.at), .init("in `\(instanceName)`, an instance of block `\(block.name)`", at: yaml.location)])
                        graph.ok = false
                    }
                }
                previous = .node(nodes.count - 1)
                continue
            }
            let n = node(yaml, index: i, scope: nil, previous: previous, blocks: blocks, inBlock: false)
            if n.item == nil { graph.ok = false }
            if let name = n.name, !register(name, node: nodes.count, at: n.nameLocation, into: &names, r: &r) { graph.ok = false }
            previous = .node(nodes.count)
            nodes.append(n)
        }
        // Full names inside instances (`stage1/conv_0`) can be read from the top level too.
        var allNames = names.mapValues(\.node)
        for (j, n) in nodes.enumerated() where n.instance != nil { if let name = n.name, allNames[name] == nil { allNames[name] = j } }

        // 2. Resolve every source to nodes.
        var resolvedOK = true
        func resolve(_ s: Source, me: inout Lowering) -> Int? {
            switch s {
            case .networkInput: return -1
            case .node(let j): return j
            case .instanceInput(let k): return resolve(instances[k].input, me: &me)
            case .named(let name, let at, let scope):
                if let scope {
                    if name == Layer.networkInput { return resolve(.instanceInput(scope), me: &me) }
                    if let j = localNames[scope][name] { return j }
                    let known = [Layer.networkInput] + localNames[scope].keys.sorted()
                    me.r.error(.unknownInput, "unknown input `\(name)`: block `\(instances[scope].block)` has no layer of that name", at: at,
                               help: Suggestions.help(for: name, among: known) ?? "inside a block, `inputs` names the block's layers, or `\(Layer.networkInput)` for the instance's input")
                    return nil
                }
                if name == Layer.networkInput { return -1 }
                if let j = allNames[name] { return j }
                let known = [Layer.networkInput] + names.keys.sorted()
                me.r.error(.unknownInput, "unknown input `\(name)`: no layer or block instance has that name", at: at,
                           help: Suggestions.help(for: name, among: known))
                return nil
            }
        }
        for j in nodes.indices {
            let instance = nodes[j].instance.map { instances[$0] }
            let sources = nodes[j].sources
            let producers: [Int]? = inInstance(instance) { me in
                var out: [Int] = []
                var ok = true
                for s in sources {
                    if let p = resolve(s, me: &me) { out.append(p) } else { ok = false }
                }
                return ok ? out : nil
            }
            if producers == nil { resolvedOK = false }
            nodes[j].producers = producers
        }

        // 3. How many inputs each layer reads.
        for j in nodes.indices {
            // An empty `inputs` list is reported as such.
            guard let item = nodes[j].item, let producers = nodes[j].producers, nodes[j].inputsField?.value.items?.isEmpty != true else { continue }
            let instance = nodes[j].instance.map { instances[$0] }
            let field = nodes[j].inputsField
            let ok = inInstance(instance) { me -> Bool in
                if item.type.family.merges {
                    if producers.count < 2 {
                        me.r.error(.inputCount, "`\(item.typeName)` needs at least two inputs, but \(field == nil ? "it reads only the layer before it" : "`inputs` lists \(producers.count)")",
                                   at: field?.value ?? item.typeNode, help: field == nil ? "list the layers it joins in `inputs`, e.g. `inputs: [a, b]`" : nil)
                        return false
                    }
                } else if producers.count != 1 {
                    me.r.error(.inputCount, "`\(item.typeName)` reads one input, but `inputs` lists \(producers.count)", at: field?.value ?? item.typeNode,
                               help: "join several inputs first with `Add` or `Concatenate`")
                    return false
                }
                return true
            }
            if !ok { graph.ok = false }
        }

        // 4. Cycles, and a topological order that keeps the written order where the edges allow.
        var readers = [[Int]](repeating: [], count: nodes.count)
        var waiting = [Int](repeating: 0, count: nodes.count)
        for (j, n) in nodes.enumerated() {
            for p in n.producers ?? [] where p >= 0 {
                readers[p].append(j)
                waiting[j] += 1
            }
        }
        var heap = MinHeap()
        for j in nodes.indices where waiting[j] == 0 { heap.push(j) }
        var order: [Int] = []
        while let j = heap.pop() {
            order.append(j)
            for k in readers[j] {
                waiting[k] -= 1
                if waiting[k] == 0 { heap.push(k) }
            }
        }
        if order.count < nodes.count {
            graph.ok = false
            reportCycles(nodes, instances: instances, waiting: waiting)
        }

        // 5. Shapes, in topological order.
        let output = nodes.count - 1
        var shapes = [[Int]?](repeating: nil, count: nodes.count)
        var lowered = [Layer?](repeating: nil, count: nodes.count)
        for j in order {
            guard var item = nodes[j].item else { continue }
            item.isLast = j == output
            if j == output { graph.lastItem = item }
            let producers = nodes[j].producers ?? []
            var inputShapes: [[Int]]? = []
            if nodes[j].producers == nil { inputShapes = nil }
            for p in producers {
                if p < 0, let input { inputShapes?.append(input) } else if p >= 0, let s = shapes[p] { inputShapes?.append(s) } else { inputShapes = nil }
            }
            let operands = producers.map { p -> Operand in
                p < 0 ? Operand(name: Layer.networkInput, location: inputLocation ?? nodes[j].location)
                    : Operand(name: nodes[p].name ?? "?", location: nodes[p].location)
            }
            let canonical = item.type.canonical
            let instance = nodes[j].instance.map { instances[$0] }
            let index = nodes[j].index
            let (layer, out) = inInstance(instance) { me in
                me.lowerLayer(item, index: index, inputs: inputShapes, operands: operands, defaults: defaults[canonical] ?? [:])
            }
            shapes[j] = out
            guard var layer else {
                graph.ok = false
                continue
            }
            if let name = nodes[j].name { layer.name = name }
            layer.inputs = producers.map { $0 < 0 ? Layer.networkInput : nodes[$0].name ?? "" }
            lowered[j] = layer
        }
        graph.outputShape = nodes.isEmpty ? nil : shapes[output]
        if !graph.ok || !resolvedOK { graph.ok = false }

        // 6. Outputs nothing reads: a second head is an error, a dangling layer without weights a warning.
        if graph.ok, !nodes.isEmpty {
            var live = [Bool](repeating: false, count: nodes.count)
            var stack = [output]
            while let j = stack.popLast() {
                guard !live[j] else { continue }
                live[j] = true
                stack += (nodes[j].producers ?? []).filter { $0 >= 0 }
            }
            for j in nodes.indices where j != output && readers[j].isEmpty {
                var branch: [Int] = []
                var seen = Set<Int>()
                var stack = [j]
                while let k = stack.popLast() {
                    guard !live[k], seen.insert(k).inserted else { continue }
                    branch.append(k)
                    stack += (nodes[k].producers ?? []).filter { $0 >= 0 }
                }
                let name = nodes[j].name ?? "?"
                let outName = nodes[output].name ?? "?"
                let instance = nodes[j].instance.map { instances[$0] }
                let trained = branch.compactMap { lowered[$0] }.filter(\.hasWeights)
                inInstance(instance) { me in
                    if let weighted = trained.first {
                        me.r.error(.multipleOutputs, "the network has more than one final output: nothing reads `\(name)`, and the likelihood reads only `\(outName)`, the last layer",
                                   at: nodes[j].location,
                                   help: "join `\(name)` into the network (`Add`, `Concatenate`) or remove it: the weights of `\(weighted.name)` would be trained by their KL term alone",
                                   notes: [.init("`\(outName)`, the network's output", at: nodes[output].location)])
                    } else {
                        me.r.warning(.unreadOutput, "nothing reads the output of `\(name)`; it does not change the network's output", at: nodes[j].location,
                                     help: "remove it, or list `\(name)` in a later layer's `inputs`")
                    }
                }
                if !trained.isEmpty { graph.ok = false }
            }
        }
        graph.layers = order.compactMap { lowered[$0] }
        return graph
    }

    /// Stands for an instance that could not be expanded: what reads it gets no shape, so it reports nothing more.
    func placeholder(_ yaml: YAMLNode, name: String?, previous: Source, index: Int, nodes: inout [Node]) -> Source {
        nodes.append(Node(item: nil, name: name, nameLocation: yaml.location, location: yaml.location, sources: [previous],
                          inputsField: nil, instance: nil, index: index, producers: nil))
        return .node(nodes.count - 1)
    }

    /// A layer operand, for messages that name it and point at it.
    struct Operand {
        var name: String
        var location: SourceLocation
    }

    /// The block an item instantiates, when its type is not a layer type but a block's name.
    func instanceBlock(_ node: YAMLNode, blocks: [String: Block]) -> Block? {
        var typeName: String?
        if node.isPlainScalar, !node.isNull { typeName = node.scalar }
        if let pairs = node.pairs, pairs.count == 1 { typeName = pairs[0].key.scalar }
        guard let typeName, LayerCatalog.types[typeName] == nil else { return nil }
        return blocks[typeName]
    }

    struct InstanceArguments {
        var name: Field?
        var inputs: Field?
        var values: [String: YAMLNode]
        /// False when a parameter without default is missing.
        var complete: Bool
    }

    mutating func instanceArguments(_ node: YAMLNode, block: Block) -> InstanceArguments? {
        var out = InstanceArguments(name: nil, inputs: nil, values: [:], complete: true)
        let keyNode = node.pairs?.first?.key ?? node
        if let argsNode = node.pairs?.first?.value, !argsNode.isNull {
            guard let pairs = argsNode.pairs else {
                r.error(.wrongType, "the arguments of block `\(block.name)` must be a mapping such as `{name: x}`, found \(argsNode.kindDescription)", at: argsNode)
                return nil
            }
            let parameterNames = block.parameters.map(\.name)
            for pair in pairs.filter({ !$0.merged }) + pairs.filter(\.merged) {
                let key = pair.key.scalar ?? ""
                let field = Field(written: key, key: pair.key, value: pair.value)
                switch key {
                case "name":
                    if out.name == nil { out.name = field }
                case "inputs":
                    if out.inputs == nil { out.inputs = field }
                default:
                    guard parameterNames.contains(key) else {
                        r.error(.unknownKey, "block `\(block.name)` has no parameter `\(key)`", at: pair.key,
                                help: Suggestions.help(for: key, among: parameterNames + ["name", "inputs"]))
                        out.complete = false
                        continue
                    }
                    if out.values[key] == nil || !pair.merged { out.values[key] = pair.value }
                }
            }
        }
        if let n = out.name, n.value.scalar == nil || n.value.isNull {
            r.error(.wrongType, "`name` must be a name, found \(n.value.kindDescription)", at: n.value)
            return nil
        }
        for p in block.parameters where out.values[p.name] == nil {
            if let d = p.value { out.values[p.name] = d } else {
                r.error(.missingKey, "this instance of block `\(block.name)` needs `\(p.name)`, which has no default", at: keyNode,
                        notes: [.init("`\(p.name)` is declared here", at: p.key.location)])
                out.complete = false
            }
        }
        return out
    }

    /// The names an `inputs:` field lists, with where each was written.
    mutating func inputNames(_ f: Field) -> [(String, YAMLNode)] {
        let nodes = f.value.items ?? [f.value]
        if f.value.items?.isEmpty == true {
            r.error(.emptyList, "`inputs` must not be an empty list", at: f.value)
            return []
        }
        var out: [(String, YAMLNode)] = []
        for n in nodes {
            guard let s = n.scalar, !n.isNull else {
                r.error(.wrongType, "`inputs` must be a layer name or a list of them, found \(n.kindDescription)", at: n)
                continue
            }
            out.append((s, n))
        }
        return out
    }

    /// One layer item as a node: its type read, its name and its inputs noted.
    mutating func node(_ yaml: YAMLNode, index: Int, scope: Int?, previous: Source, blocks: [String: Block], inBlock: Bool) -> Node {
        var n = Node(item: nil, name: nil, nameLocation: yaml.location, location: yaml.location, sources: [previous],
                     inputsField: nil, instance: nil, index: index, producers: nil)
        if inBlock, let block = instanceBlock(yaml, blocks: blocks) {
            r.error(.malformedLayer, "a block's layers cannot instantiate block `\(block.name)`; instantiate both blocks in `layers`", at: yaml)
            return n
        }
        guard let item = layerItem(yaml, blocks: blocks) else {
            // The name is still known to the graph, so that layers reading it are not reported too.
            if let args = yaml.pairs?.first?.value.pairs, let name = args.first(where: { $0.key.scalar == "name" })?.value.scalar {
                n.name = name
            }
            return n
        }
        n.item = item
        n.name = item.arguments["name"]?.value.scalar ?? defaultName(for: item.type.family, index: index)
        if let f = item.arguments["name"] { n.nameLocation = f.value.location } else { n.nameLocation = item.typeNode.location }
        if let f = item.arguments["inputs"] {
            n.inputsField = f
            n.sources = inputNames(f).map { .named($0.0, $0.1, scope: scope) }
        }
        return n
    }

    /// Reports each cycle once, at its first layer in written order, with a note at every other layer on it.
    mutating func reportCycles(_ nodes: [Node], instances: [Instance], waiting: [Int]) {
        var covered = Set<Int>()
        for start in nodes.indices where waiting[start] > 0 && !covered.contains(start) {
            var path: [Int] = []
            var position: [Int: Int] = [:]
            var j = start
            var closed = false
            while !covered.contains(j) {
                if position[j] != nil {
                    closed = true
                    break
                }
                position[j] = path.count
                path.append(j)
                // Follow a producer that is itself still waiting: one exists for every waiting node.
                guard let p = (nodes[j].producers ?? []).first(where: { $0 >= 0 && waiting[$0] > 0 }) else { break }
                j = p
            }
            covered.formUnion(path)
            guard closed, let at = position[j] else { continue }
            // The producers were followed backwards; the cycle in reading order is the reverse.
            let cycle = Array(path[at...].reversed())
            let first = cycle.min()!
            let rotated = Array(cycle[cycle.firstIndex(of: first)!...] + cycle[..<cycle.firstIndex(of: first)!])
            let names = rotated.map { nodes[$0].name ?? "?" }
            let text = (names + [names[0]]).map { "`\($0)`" }.joined(separator: " → ")
            let instance = nodes[first].instance.map { instances[$0] }
            inInstance(instance) { me in
                me.r.error(.graphCycle, "the layers form a cycle, so no order can run them: \(text)",
                           at: nodes[first].inputsField?.value.location ?? nodes[first].location,
                           help: "a layer may read only layers that do not depend on its own output",
                           notes: rotated.dropFirst().map { .init("`\(nodes[$0].name ?? "?")` is on the cycle", at: nodes[$0].inputsField?.value.location ?? nodes[$0].location) })
            }
        }
    }
}

/// The smallest index first: the topological order follows the written order wherever the edges allow.
struct MinHeap {
    private var items: [Int] = []

    mutating func push(_ x: Int) {
        items.append(x)
        var i = items.count - 1
        while i > 0, items[(i - 1) / 2] > items[i] {
            items.swapAt(i, (i - 1) / 2)
            i = (i - 1) / 2
        }
    }

    mutating func pop() -> Int? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count, items[l] < items[m] { m = l }
                if r < items.count, items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}

extension Layer {
    /// Whether the layer learns weights (kernels, biases, batch-normalization factors).
    var hasWeights: Bool {
        switch op {
        case .convolution, .affine: return true
        case .batchNormalization(let b): return b.center || b.scale
        case .pool, .flatten, .add, .concatenate, .dropout, .globalPool, .activation: return false
        }
    }
}
