/// One row of `bayesnet inspect` (also written into a run's summary.json).
public struct LayerSummary: Sendable, Equatable {
    public var name: String
    public var typeName: String
    public var outputShape: [Int]
    /// Variational layers count loc and scale of kernel and bias.
    public var parameters: Int
    /// Multiply-adds per example; a Flipout layer counts both of its products.
    public var macs: Int
    /// Variational layers only.
    public var penaltyWeight: PenaltyWeight?

    public init(name: String, typeName: String, outputShape: [Int], parameters: Int, macs: Int, penaltyWeight: PenaltyWeight?) {
        self.name = name
        self.typeName = typeName
        self.outputShape = outputShape
        self.parameters = parameters
        self.macs = macs
        self.penaltyWeight = penaltyWeight
    }
}

extension Layer {
    /// Weights of the layer (kernel and bias), before counting posterior parameters.
    public var weightCount: Int {
        switch op {
        case .convolution(let c): return checkedSum(saturatingProduct(c.kernelShape), c.outputSize) ?? Int.max
        case .affine(let a): return checkedSum(saturatingProduct(a.kernelShape), a.outputSize) ?? Int.max
        case .pool, .flatten: return 0
        }
    }

    public var summary: LayerSummary {
        switch op {
        case .convolution(let c):
            let products = c.estimator == .flipout ? 2 : 1
            let macs = saturatingProduct(outputShape.dropLast() + c.filterShape + [c.inputSize, c.outputSize, products])
            return LayerSummary(name: name, typeName: typeName, outputShape: outputShape,
                                parameters: saturatingProduct([weightCount, c.variational == nil ? 1 : 2]), macs: macs,
                                penaltyWeight: c.variational?.penaltyWeight)
        case .affine(let a):
            let products = a.estimator == .flipout ? 2 : 1
            return LayerSummary(name: name, typeName: typeName, outputShape: outputShape,
                                parameters: saturatingProduct([weightCount, a.variational == nil ? 1 : 2]),
                                macs: saturatingProduct([a.inputSize, a.outputSize, products]), penaltyWeight: a.variational?.penaltyWeight)
        case .pool, .flatten:
            return LayerSummary(name: name, typeName: typeName, outputShape: outputShape, parameters: 0, macs: 0, penaltyWeight: nil)
        }
    }
}

extension ModelSpec {
    /// Rows of `bayesnet inspect`, also written into a run's summary.json.
    public var layerSummaries: [LayerSummary] { layers.map(\.summary) }

    /// Resolves a data path written in the spec: relative paths are relative to the spec file's folder.
    public func resolve(path: String) -> String {
        if path.hasPrefix("/") || source.path.hasPrefix("<") { return path }
        guard let slash = source.path.lastIndex(of: "/") else { return path }
        return String(source.path[...slash]) + path
    }
}
