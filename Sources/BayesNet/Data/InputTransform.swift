import BayesNetFormats
import BayesNetSpec

/// How stored inputs become the network's inputs: the scale and layout training applied. `predict` and
/// `evaluate` apply the same transform, so a model trained on bytes scaled by 1/255 is served bytes too.
public struct InputTransform: Sendable, Equatable {
    /// Multiplies every stored value (nil: none).
    public var scale: Double?
    /// The layout inputs are stored in; the network always sees channels-last.
    public var layout: Layout

    public init(scale: Double?, layout: Layout) {
        self.scale = scale
        self.layout = layout
    }

    /// The transform of the spec's training data (its test data when it has none).
    public init(spec: ModelSpec) {
        self.init(scale: (spec.data.train ?? spec.data.test).flatMap(Self.scale(of:)), layout: spec.input.layout)
    }

    /// The scale a data source applies to its stored values.
    public static func scale(of source: DataSource) -> Double? {
        switch source {
        case .builtin(let name, _): return BuiltinDataset.named(name)?.scale
        case .files(_, _, _, let scale): return scale
        }
    }

    /// A one-line description for the terminal ("inputs × 0.0625, channels-last").
    public var summary: String {
        let s = scale.map { "inputs × \($0)" } ?? "inputs as stored"
        return s + (layout == .channelsFirst ? ", channels-first on disk" : "")
    }
}

/// Inputs read for prediction: channels-last values of `count` examples, and the examples whose stored
/// values were not finite (zeroed, to be marked invalid in every output).
public struct InputFile: Sendable {
    public var values: [Float]
    public var count: Int
    public var nonFinite: [Int]
}

extension DataLoader {
    /// Reads prediction inputs from `path` (NPY, IDX or CSV by extension, gzip-compressed or not) under the same
    /// input-shape rule as training, applying `transform`'s scale (pass nil to take values as they are).
    public static func inputs(path: String, spec: ModelSpec, scale: Double?, allowNonFinite: Bool,
                              limits: DataLimits = .default) throws -> InputFile {
        let format = DataFormat(path: path)
        let array = try read(format, path, limits: limits)
        let count = array.shape.first ?? 0
        guard count > 0, array.count > 0 else { throw DataError(file: path, "holds no examples") }
        let (values, bad) = try examples(array, format: format, file: path, spec: spec, scale: scale,
                                         nonFinite: allowNonFinite ? .zeroAndReport : .refuse)
        return InputFile(values: values, count: count, nonFinite: bad)
    }
}

extension DataFormat {
    /// The format a file name suggests: `.csv` and `.idx`/`-ubyte` by name, NPY otherwise (`.gz` is looked through).
    public init(path: String) {
        var name = path.lowercased()
        if name.hasSuffix(".gz") { name.removeLast(3) }
        if name.hasSuffix(".csv") {
            self = .csv
        } else if name.hasSuffix(".idx") || name.hasSuffix("-ubyte") || name.contains(".idx") {
            self = .idx
        } else {
            self = .npy
        }
    }
}
