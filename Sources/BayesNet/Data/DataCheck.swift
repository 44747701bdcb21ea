import BayesNetFormats
import Foundation
import BayesNetSpec

extension DataLoader {
    /// The shape a data file declares, read from its header alone: the first bytes of a plain file, or of a gzip
    /// file's content inflated only that far. A CSV file, which has no header of sizes, is read whole.
    static func declaredShape(_ format: DataFormat, _ path: String, limits: DataLimits) throws -> [Int] {
        if format == .csv {
            let table = try CSVData.read(path: path, limits: limits)
            return [table.rows, table.columns]
        }
        var (bytes, size) = try DataFile.read(path, limits: limits, upTo: NPY.maxHeaderBytes + 16)
        do {
            let compressed = Gzip.isCompressed(bytes)
            func total(_ content: [UInt8], complete: Bool) throws(DataError) -> (shape: [Int], bytes: Int)? {
                switch format {
                case .idx: return try IDX.layout(content, limits: limits, complete: complete).map { ($0.shape, $0.totalBytes) }
                default: return try NPY.layout(content, limits: limits, complete: complete).map { ($0.header.shape, $0.totalBytes) }
                }
            }
            if compressed {
                bytes = try Gzip.head(try DataFile.read(path, limits: limits)) { (head) throws(DataError) in try total(head, complete: false)?.bytes }
            }
            let declared = try total(bytes, complete: true)!
            if !compressed, declared.bytes != size {
                throw DataError(file: nil, "its header declares shape \(declared.shape) (\(declared.bytes == .max ? "too many" : String(declared.bytes)) bytes) but the file has \(size) bytes")
            }
            return declared.shape
        } catch let e as DataError {
            throw e.named(path)
        }
    }

    /// Checks the spec's data files against the spec from their headers, without reading the data: that each file
    /// exists and reads, that the inputs fit `input.shape` under the training input rule, and that labels or targets
    /// are there, one per example, of the model's output size. Each problem is located at its `data:` entry.
    public static func check(_ spec: ModelSpec, limits: DataLimits = .default) -> [Diagnostic] {
        var out: [Diagnostic] = []
        func entry(_ key: String) -> SourceLocation {
            spec.dataLocations[key] ?? spec.locations["data"] ?? SourceLocation(file: spec.source.path, line: 1, column: 1)
        }
        if spec.data.train != nil, spec.likelihood == nil {
            out.append(Diagnostic(id: .missingLikelihood,
                message: "`data.train` is given but there is no `likelihood` to train by",
                location: entry("train"),
                help: "add `likelihood: categorical` for class labels, or `likelihood: {normal: {scale: 0.1}}` for regression targets"))
        }
        for (key, source) in [("train", spec.data.train), ("test", spec.data.test)] {
            guard case .files(let format, let x, let y, _)? = source else { continue }
            let location = entry(key)
            func problem(_ error: Error, help: String? = nil) {
                out.append(Diagnostic(id: .dataFile, message: "`data.\(key)`: \(error)", location: location, help: help))
            }
            let xPath = resolve(x, specPath: spec.source.path)
            let count: Int
            do {
                let shape = try declaredShape(format, xPath, limits: limits)
                count = shape.first ?? 0
                guard count > 0 else { throw DataError(file: xPath, "holds no examples") }
                try checkExampleShape(Array(shape.dropFirst()), format: format, file: xPath, spec: spec)
            } catch {
                problem(error)
                continue
            }
            guard spec.likelihood != nil else { continue }
            guard let y else {
                out.append(Diagnostic(id: .missingLabels,
                    message: "`data.\(key)` has no `y`: \(key == "train" ? "training" : "evaluation") needs a label or target for every example",
                    location: location, help: "add `y: PATH` with one \(spec.labelClasses != nil ? "class index" : "target") per example"))
                continue
            }
            let yPath = resolve(y, specPath: spec.source.path)
            do {
                let shape = try declaredShape(format, yPath, limits: limits)
                let labelled = spec.labelClasses != nil
                let what = labelled ? "labels" : "targets"
                guard shape.first == count else {
                    throw DataError(file: yPath, "holds \(shape.first ?? 0) \(what) but \(xPath) holds \(count) examples")
                }
                let perExample = shape.dropFirst().reduce(1, *)
                let expected = labelled ? 1 : spec.outputShape.reduce(1, *)
                guard perExample == expected else {
                    throw DataError(file: yPath, labelled
                        ? "labels have shape \(shape); expected one class index per example, shape [\(count)]"
                        : "targets have shape \(shape) but the model's output shape is \(spec.outputShape), so \(expected) values per example were expected")
                }
            } catch {
                problem(error)
            }
        }
        return out
    }
}

extension DataLoader {
    /// The number of examples training runs on, from the headers of `data.train` (a CSV file is read whole), less
    /// a held-out validation fraction: the N of `penalty_weight: auto`. Nil when the spec has no `data.train`.
    public static func trainingExampleCount(_ spec: ModelSpec, limits: DataLimits = .default) throws -> Int? {
        let total: Int
        switch spec.data.train {
        case nil: return nil
        case .builtin(let name, let split)?:
            guard let set = BuiltinDataset.named(name), let files = set.split(named: split),
                  let folder = Bundle.module.resourceURL?.appendingPathComponent(set.name) else {
                throw DataError(file: nil, "no bundled dataset \(name) with a split \(split)")
            }
            total = try declaredShape(.idx, folder.appendingPathComponent(files.images).path, limits: limits).first ?? 0
        case .files(let format, let x, _, _)?:
            total = try declaredShape(format, resolve(x, specPath: spec.source.path), limits: limits).first ?? 0
        }
        if case .fraction(let f)? = spec.data.validation {
            return ValidationSource.trainedExamples(of: total, holdingOut: f)
        }
        return total
    }
}
