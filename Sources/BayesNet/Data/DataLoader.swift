import BayesNetFormats
import BayesNetRuntime
import BayesNetSpec
import Foundation

/// Examples ready for the interpreter: float inputs, channels-last, laid out as [count] + exampleShape.
public struct Dataset: Sendable, Equatable {
    public var exampleShape: [Int]
    public var count: Int
    /// Class indices, for a categorical likelihood.
    public var labels: [Int32]?
    /// Regression targets, [count] + targetShape.
    public var targets: [Float]?
    public var targetShape: [Int]
    var storage: InputStorage

    /// How the inputs are held. Bundled image sets keep their bytes (a quarter of the floats' size: MNIST's
    /// training images are 47 MB instead of 188 MB) with the float value of each of the 256 byte values.
    enum InputStorage: Sendable, Equatable {
        case floats([Float])
        case bytes([UInt8], values: [Float])
    }

    public init(
        exampleShape: [Int], count: Int, inputs: [Float], labels: [Int32]? = nil, targets: [Float]? = nil,
        targetShape: [Int] = []
    ) {
        self.exampleShape = exampleShape
        self.count = count
        self.storage = .floats(inputs)
        self.labels = labels
        self.targets = targets
        self.targetShape = targetShape
    }

    /// Inputs stored as bytes, each standing for `Float(Double(byte) * scale)`.
    init(exampleShape: [Int], count: Int, bytes: [UInt8], scale: Double, labels: [Int32]?) {
        self.exampleShape = exampleShape
        self.count = count
        self.storage = .bytes(bytes, values: (0...255).map { Float(Double($0) * scale) })
        self.labels = labels
        self.targets = nil
        self.targetShape = []
    }

    /// The inputs as floats, [count] + exampleShape. Data held as bytes is converted on each read: the training
    /// loop reads examples through `copyExamples` instead.
    public var inputs: [Float] {
        get {
            switch storage {
            case .floats(let values): return values
            case .bytes(let bytes, let values): return bytes.map { values[Int($0)] }
            }
        }
        set { storage = .floats(newValue) }
    }

    /// Copies the examples `indices` to consecutive rows of `to`, converting to `S` (no allocation).
    @inline(__always)
    func copyExamples<S: TensorScalar>(_ indices: ArraySlice<Int>, to: UnsafeMutablePointer<S>, size n: Int) {
        switch storage {
        case .floats(let values):
            values.withUnsafeBufferPointer { src in
                for (row, index) in indices.enumerated() {
                    let from = src.baseAddress! + index * n
                    let out = to + row * n
                    for j in 0..<n { out[j] = S(from[j]) }
                }
            }
        case .bytes(let bytes, let values):
            bytes.withUnsafeBufferPointer { src in
                values.withUnsafeBufferPointer { value in
                    for (row, index) in indices.enumerated() {
                        let from = src.baseAddress! + index * n
                        let out = to + row * n
                        for j in 0..<n { out[j] = S(value[Int(from[j])]) }
                    }
                }
            }
        }
    }

    /// Values per example.
    public var exampleSize: Int { exampleShape.reduce(1, *) }

    /// The examples before `index` and those from it on, stored as this one is.
    public func split(at index: Int) -> (head: Dataset, tail: Dataset) {
        let n = exampleSize, k = targetShape.reduce(1, *)
        func part(_ range: Range<Int>) -> Dataset {
            var d = self
            d.count = range.count
            switch storage {
            case .floats(let values): d.storage = .floats(Array(values[(range.lowerBound * n)..<(range.upperBound * n)]))
            case .bytes(let bytes, let values):
                d.storage = .bytes(Array(bytes[(range.lowerBound * n)..<(range.upperBound * n)]), values: values)
            }
            d.labels = labels.map { Array($0[range]) }
            d.targets = targets.map { Array($0[(range.lowerBound * k)..<(range.upperBound * k)]) }
            return d
        }
        return (part(0..<index), part(index..<count))
    }

    /// Equal examples are equal datasets, however they are stored.
    public static func == (a: Dataset, b: Dataset) -> Bool {
        a.exampleShape == b.exampleShape && a.count == b.count && a.labels == b.labels && a.targets == b.targets
            && a.targetShape == b.targetShape && (a.storage == b.storage || a.inputs == b.inputs)
    }
}

/// Turns the spec's `data:` entries into `Dataset`s, checking everything before training starts.
public enum DataLoader {
    /// Loads a `DataSource` for `spec`. `classes` is the number of classes of a categorical model
    /// (labels are checked against it), nil for regression (targets must match the output shape).
    /// Relative paths are relative to the spec file's folder.
    public static func load(
        _ source: DataSource, spec: ModelSpec, classes: Int?, limits: DataLimits = .default
    ) throws(DataError) -> Dataset {
        switch source {
        case .builtin(let name, let split):
            guard let set = BuiltinDataset.named(name) else {
                let names = BuiltinDataset.all.map(\.name).joined(separator: ", ")
                throw DataError(file: nil, "unknown builtin dataset '\(name)' (available: \(names))")
            }
            let data = try builtin(set, split: split)
            guard sameLayout(stored: data.exampleShape, expected: spec.input.shape) || spec.input.shape == [data.exampleSize] else {
                throw DataError(file: nil, "builtin \(name) examples have shape \(data.exampleShape) but input.shape is \(spec.input.shape)")
            }
            if let classes {
                try checkLabels(data.labels ?? [], classes: classes, file: "builtin \(name) (\(split))")
            }
            var shaped = data
            shaped.exampleShape = spec.input.shape
            return shaped
        case .files(let format, let x, let y, let scale):
            return try load(
                format: format, x: resolve(x, specPath: spec.source.path), y: y.map { resolve($0, specPath: spec.source.path) },
                scale: scale, spec: spec, classes: classes, limits: limits)
        }
    }

    /// Loads files whose paths are used as given (e.g. `predict --input`, relative to the working folder).
    public static func load(
        format: DataFormat, x: String, y: String?, scale: Double?, spec: ModelSpec, classes: Int?,
        limits: DataLimits = .default
    ) throws(DataError) -> Dataset {
        let xArray = try read(format, x, limits: limits)
        let count = xArray.shape.first ?? 0
        guard count > 0, xArray.count > 0 else { throw DataError(file: x, "holds no examples") }
        let inputs = try examples(xArray, format: format, file: x, spec: spec, scale: scale).values
        var data = Dataset(exampleShape: spec.input.shape, count: count, inputs: inputs)
        guard let y else { return data }
        let yArray = try read(format, y, limits: limits)
        let yCount = yArray.shape.first ?? 0
        guard yCount == count else {
            throw DataError(file: y, "holds \(yCount) \(classes == nil ? "targets" : "labels") but \(x) holds \(count) examples")
        }
        let perExample = yArray.shape.dropFirst().reduce(1, *)
        if let classes {
            guard perExample == 1 else {
                throw DataError(file: y, "labels have shape \(yArray.shape); expected one class index per example, shape [\(count)]")
            }
            var labels = [Int32](repeating: 0, count: count)
            for i in 0..<count {
                guard let v = yArray.integer(at: i) else {
                    throw DataError(file: y, "label of example \(i) is \(yArray.doubles()[i]), not a class index")
                }
                labels[i] = Int32(clamping: v)
            }
            try checkLabels(labels, classes: classes, file: y)
            data.labels = labels
        } else {
            let targetShape = spec.outputShape
            guard perExample == targetShape.reduce(1, *) else {
                throw DataError(file: y, "targets have shape \(yArray.shape) but the model's output shape is \(targetShape), so \(targetShape.reduce(1, *)) values per example were expected")
            }
            data.targets = yArray.floats()
            guard data.targets!.allSatisfy(\.isFinite) else { throw DataError(file: y, "targets include a value that is not finite") }
            data.targetShape = targetShape
        }
        return data
    }

    /// The bundled digits (UCI optical digits, 8×8 grey levels 0-16), scaled by 1/16 to [0, 1], shape [8, 8, 1].
    public static func builtinDigits(split: String) throws(DataError) -> Dataset {
        try builtin(.digits, split: split)
    }

    /// A bundled dataset's split, scaled to [0, 1], with its example shape. Byte images stay in the buffer
    /// they were read (or inflated) into, with no float copy: that is what keeps MNIST's memory small.
    public static func builtin(_ set: BuiltinDataset, split: String) throws(DataError) -> Dataset {
        guard let files = set.split(named: split) else {
            throw DataError(file: nil, "builtin \(set.name) has no split '\(split)' (available: \(set.splits.map(\.name).joined(separator: ", ")))")
        }
        guard let folder = Bundle.module.resourceURL?.appendingPathComponent(set.name) else {
            throw DataError(file: nil, "the bundled \(set.name) data is missing from this installation")
        }
        let labels = try IDX.read(path: folder.appendingPathComponent(files.labels).path)
        let images = try IDX.read(path: folder.appendingPathComponent(files.images).path)
        let stored = Array(images.shape.dropFirst())
        guard images.shape.count >= 2, sameLayout(stored: stored, expected: set.exampleShape), labels.shape == [images.shape[0]] else {
            throw DataError(file: nil, "the bundled \(set.name) data has unexpected shapes \(images.shape) and \(labels.shape)")
        }
        let n = images.shape[0]
        let classes = (0..<n).map { Int32(labels.integer(at: $0) ?? -1) }
        guard case .uint8(let bytes) = images.storage else {
            return Dataset(exampleShape: set.exampleShape, count: n, inputs: images.floats(scale: set.scale), labels: classes)
        }
        return Dataset(exampleShape: set.exampleShape, count: n, bytes: bytes, scale: set.scale, labels: classes)
    }

    /// A path from a spec: absolute as is, relative to the spec file's folder otherwise
    /// (to the working folder for a spec that did not come from a file).
    public static func resolve(_ path: String, specPath: String) -> String {
        if path.hasPrefix("/") || specPath.hasPrefix("<") { return path }
        guard let slash = specPath.lastIndex(of: "/") else { return path }
        return String(specPath[...slash]) + path
    }

    // MARK: - Helpers

    static func read(_ format: DataFormat, _ path: String, limits: DataLimits) throws(DataError) -> NumericArray {
        switch format {
        case .idx: return try IDX.read(path: path, limits: limits)
        case .npy: return try NPY.readArray(path: path, limits: limits)
        case .csv:
            let table = try CSVData.read(path: path, limits: limits)
            return NumericArray(shape: [table.rows, table.columns], doubles: table.values)
        }
    }

    /// Whether an example stored with shape `stored` holds the layout `expected`, ignoring dimensions of size 1
    /// (so MNIST's [28, 28] images serve an input of shape [28, 28, 1]).
    static func sameLayout(stored: [Int], expected: [Int]) -> Bool {
        stored == expected || stored.filter { $0 != 1 } == expected.filter { $0 != 1 }
    }

    /// What to do with an input value that is not finite.
    public enum NonFinite: Sendable {
        /// Refuse the file, naming the first such example (training and evaluation data always are).
        case refuse
        /// Zero the example's values and report its index, so its outputs can be marked invalid.
        case zeroAndReport
    }

    /// The inputs as channels-last floats, checked against input.shape and the spec's layout: the one input-shape
    /// rule of training, evaluation and prediction. An example may be stored with extra or missing dimensions of
    /// size 1 ([16, 16] or [1, 16, 16] for input.shape [16, 16, 1]); CSV rows hold one flattened example.
    static func examples(_ array: NumericArray, format: DataFormat, file: String, spec: ModelSpec, scale: Double?,
                         nonFinite: NonFinite = .refuse) throws(DataError) -> (values: [Float], nonFinite: [Int]) {
        let shape = spec.input.shape
        let channelsFirst = spec.input.layout == .channelsFirst && shape.count >= 2
        let size = shape.reduce(1, *)
        try checkExampleShape(Array(array.shape.dropFirst()), format: format, file: file, spec: spec)
        var values = array.floats(scale: scale)
        var bad: [Int] = []
        var i = 0
        while let k = values[i...].firstIndex(where: { !$0.isFinite }) {
            let example = k / max(size, 1)
            guard nonFinite == .zeroAndReport else {
                throw DataError(file: file, "value \(k) (example \(example)) is not finite", kind: .nonFinite(example: example))
            }
            bad.append(example)
            for j in (example * size)..<((example + 1) * size) { values[j] = 0 }
            i = (example + 1) * size
            if i >= values.count { break }
        }
        if channelsFirst && shape.last! > 1 {
            values = toChannelsLast(values, count: array.shape[0], channels: shape.last!, positions: size / shape.last!)
        }
        return (values, bad)
    }

    /// The input-shape rule: `stored`, one example's shape in the file, must hold input.shape in the spec's layout.
    static func checkExampleShape(_ stored: [Int], format: DataFormat, file: String, spec: ModelSpec) throws(DataError) {
        let shape = spec.input.shape
        let channelsFirst = spec.input.layout == .channelsFirst && shape.count >= 2
        // The shape one example has on disk.
        let onDisk = channelsFirst ? [shape.last!] + shape.dropLast() : shape
        let size = shape.reduce(1, *)
        if format == .csv {
            guard stored == [size] else {
                throw DataError(file: file, "rows have \(stored.first ?? 0) values but input.shape \(shape) needs \(size)")
            }
        } else {
            guard sameLayout(stored: stored, expected: onDisk) else {
                throw DataError(file: file, "examples have shape \(stored) but input.shape is \(shape)"
                                + layoutHint(stored: stored, shape: shape, channelsFirst: channelsFirst))
            }
        }
    }

    /// Names the `layout:` setting when the stored examples are the spec's shape with the channels moved.
    static func layoutHint(stored: [Int], shape: [Int], channelsFirst: Bool) -> String {
        guard shape.count >= 2 else { return "" }
        let firstLayout = [shape.last!] + shape.dropLast()
        if !channelsFirst && sameLayout(stored: stored, expected: firstLayout) {
            return "; the examples look channels-first: add `layout: channels_first` to the spec's `input`"
        }
        if channelsFirst && sameLayout(stored: stored, expected: shape) {
            return " with `layout: channels_first`, so \(firstLayout) was expected on disk; the examples look channels-last: remove `layout: channels_first`"
        }
        return channelsFirst ? " (channels_first: \(firstLayout) on disk)" : ""
    }

    /// [n, C, positions] → [n, positions, C].
    static func toChannelsLast(_ x: [Float], count: Int, channels: Int, positions: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        let size = channels * positions
        for n in 0..<count {
            for c in 0..<channels {
                for p in 0..<positions {
                    out[n * size + p * channels + c] = x[n * size + c * positions + p]
                }
            }
        }
        return out
    }

    static func checkLabels(_ labels: [Int32], classes: Int, file: String) throws(DataError) {
        if let bad = OutputHead.firstLabelOutOfRange(labels, classes: classes) {
            throw DataError(file: file, "label \(bad.label) of example \(bad.example) is outside 0...\(classes - 1) (the model has \(classes) classes)")
        }
    }
}
