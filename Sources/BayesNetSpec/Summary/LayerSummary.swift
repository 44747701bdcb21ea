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
    /// The layers read (`Layer.inputs`).
    public var inputs: [String]

    public init(name: String, typeName: String, outputShape: [Int], parameters: Int, macs: Int, penaltyWeight: PenaltyWeight?,
                inputs: [String] = []) {
        self.name = name
        self.typeName = typeName
        self.outputShape = outputShape
        self.parameters = parameters
        self.macs = macs
        self.penaltyWeight = penaltyWeight
        self.inputs = inputs
    }
}

extension Layer {
    /// Weights of the layer (kernel and bias), before counting posterior parameters.
    public var weightCount: Int {
        switch op {
        case .convolution(let c): return checkedSum(saturatingProduct(c.kernelShape), c.outputSize) ?? Int.max
        case .affine(let a): return checkedSum(saturatingProduct(a.kernelShape), a.outputSize) ?? Int.max
        case .batchNormalization(let b): return b.channels * ((b.center ? 1 : 0) + (b.scale ? 1 : 0))
        case .pool, .flatten, .add, .concatenate, .dropout, .globalPool, .activation: return 0
        }
    }

    public var summary: LayerSummary {
        var row = opSummary
        row.inputs = inputs
        return row
    }

    private var opSummary: LayerSummary {
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
        case .batchNormalization(let b):
            // As Keras counts them: gamma and beta, and the moving mean and variance (not trained).
            return LayerSummary(name: name, typeName: typeName, outputShape: outputShape, parameters: weightCount + 2 * b.channels,
                                macs: saturatingProduct(outputShape), penaltyWeight: nil)
        case .add:
            return LayerSummary(name: name, typeName: typeName, outputShape: outputShape, parameters: 0,
                                macs: saturatingProduct([max(inputShapes.count - 1, 0)] + outputShape), penaltyWeight: nil)
        case .pool, .flatten, .concatenate, .dropout, .globalPool, .activation:
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
