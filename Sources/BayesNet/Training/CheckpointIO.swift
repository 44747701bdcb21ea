import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// A checkpoint that cannot be used with this spec.
public enum CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
    case notFound(path: String)
    /// Not a safetensors file this reader accepts, or larger than the size limit (the `DataError` says which).
    case unreadable(path: String, DataError)
    /// Weights that serve `predict` and `evaluate`, but name no run that `--resume` could continue.
    case noRunMetadata(path: String)
    /// Every tensor that is missing, misshapen or extra, at once.
    case doesNotFit(path: String, problems: [TensorProblem])
    case wrongValueCount(tensor: String, found: Int, expected: Int)
    case truncated(tensor: String)
    case unsupportedDType(tensor: String, dtype: String)
    case missingOptimizerState(path: String, tensor: String)

    /// Problems listed in one message; more than this many end in "...".
    static let listedProblems = 20

    public var description: String {
        switch self {
        case .notFound(let path): return "\(path): no such checkpoint file"
        case .unreadable(let path, let error):
            if error.kind == .overFileSizeLimit { return error.description }
            return "\(path): not a readable safetensors file (\(error.message))"
        case .noRunMetadata(let path):
            return "\(path): the file's metadata lacks step, epoch or seed, so a run cannot continue from it (it can still serve `predict` and `evaluate`)"
        case .doesNotFit(let path, let problems):
            let listed = problems.prefix(Self.listedProblems).map { "\n  - \($0)" }.joined()
            let more = problems.count > Self.listedProblems ? "\n  - ..." : ""
            return "\(path) does not fit the spec (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\(listed)\(more)"
        case .wrongValueCount(let tensor, let found, let expected):
            return "tensor \(tensor) has \(found) values, the network expects \(expected)"
        case .truncated(let tensor): return "tensor \(tensor) is truncated"
        case .unsupportedDType(let tensor, let dtype): return "tensor \(tensor) has dtype \(dtype); expected F32, F64, F16 or BF16"
        case .missingOptimizerState(let path, let tensor): return "\(path): no optimizer state \(tensor)"
        }
    }
}

/// One way a weights file fails to match the spec's tensors.
public enum TensorProblem: Sendable, Equatable, CustomStringConvertible {
    case missing(name: String, shape: [Int], closest: String?)
    case misshapen(name: String, found: [Int], expected: [Int])
    case extra(name: String)

    public var description: String {
        switch self {
        case .missing(let name, let shape, let closest):
            return "missing \(name), shape \(shape)" + (closest.map { " (did you mean `\($0)`?)" } ?? "")
        case .misshapen(let name, let found, let expected): return "\(name) has shape \(found), the spec gives \(expected)"
        case .extra(let name): return "\(name) is not a tensor of this spec"
        }
    }
}

/// What a checkpoint records besides the tensors.
public struct CheckpointInfo: Sendable, Equatable {
    public var step: Int
    public var epoch: Int
    public var seed: UInt64
    public var specSHA256: String
    public var specText: String
}

/// Posterior parameters, optimizer state, step and spec text in one safetensors file.
enum CheckpointIO {
    static func dtype<S: TensorScalar>(_: S.Type) -> String { S.self == Double.self ? "F64" : "F32" }

    static func bytes<S: TensorScalar>(_ p: UnsafePointer<S>, count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count * MemoryLayout<S>.size)
        for i in 0..<count {
            if S.self == Double.self {
                withUnsafeBytes(of: Double(p[i]).bitPattern.littleEndian) { out.append(contentsOf: $0) }
            } else {
                withUnsafeBytes(of: Float(p[i]).bitPattern.littleEndian) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    static func values<S: TensorScalar>(_ entry: SafeTensors.Entry, into p: UnsafeMutablePointer<S>, count: Int) throws(CheckpointError) {
        let n = entry.shape.reduce(1, *)
        guard n == count else {
            throw CheckpointError.wrongValueCount(tensor: entry.name, found: n, expected: count)
        }
        let b = entry.bytes
        switch entry.dtype {
        case "F32":
            guard b.count == 4 * n else { throw CheckpointError.truncated(tensor: entry.name) }
            for i in 0..<n {
                let bits = UInt32(b[4 * i]) | UInt32(b[4 * i + 1]) << 8 | UInt32(b[4 * i + 2]) << 16 | UInt32(b[4 * i + 3]) << 24
                p[i] = S(Float(bitPattern: bits))
            }
        case "F64":
            guard b.count == 8 * n else { throw CheckpointError.truncated(tensor: entry.name) }
            for i in 0..<n {
                var bits: UInt64 = 0
                for k in 0..<8 { bits |= UInt64(b[8 * i + k]) << (8 * UInt64(k)) }
                p[i] = S(Double(bitPattern: bits))
            }
        case "F16", "BF16":
            guard b.count == 2 * n else { throw CheckpointError.truncated(tensor: entry.name) }
            for i in 0..<n {
                let bits = UInt16(b[2 * i]) | UInt16(b[2 * i + 1]) << 8
                p[i] = S(entry.dtype == "F16" ? halfToFloat(bits) : Float(bitPattern: UInt32(bits) << 16))
            }
        default:
            throw CheckpointError.unsupportedDType(tensor: entry.name, dtype: entry.dtype)
        }
    }

    /// IEEE binary16 to Float, exactly (every half is a float).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign: Float = h & 0x8000 != 0 ? -1 : 1
        let exponent = Int((h >> 10) & 0x1F), fraction = Float(h & 0x3FF)
        switch exponent {
        case 0: return sign * fraction * 0x1p-24
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1 + fraction / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }

    static func slotNames(_ optimizer: Optimizer) -> [String] {
        switch optimizer {
        case .adam: return ["m", "v"]
        case .sgd: return ["velocity"]
        }
    }

    static func encode<S: TensorScalar>(network: Network<S>, info: CheckpointInfo, includeOptimizer: Bool) -> [UInt8] {
        var entries: [SafeTensors.Entry] = []
        let dt = dtype(S.self)
        for p in network.checkpointTensors {
            entries.append(.init(name: p.name, dtype: dt, shape: p.shape, bytes: bytes(p.value.pointer, count: p.count)))
        }
        if includeOptimizer {
            let slots = slotNames(network.spec.train.optimizer)
            for p in network.parameters {
                for (k, slot) in slots.enumerated() {
                    let buffer = k == 0 ? p.slot1 : p.slot2
                    entries.append(.init(name: "optimizer.\(slot).\(p.name)", dtype: dt, shape: p.shape,
                                         bytes: bytes(buffer.pointer, count: p.count)))
                }
            }
        }
        let metadata = [
            "format": "bayesnet-checkpoint", "step": String(info.step), "epoch": String(info.epoch),
            "seed": String(info.seed), "spec_sha256": info.specSHA256, "spec": info.specText,
        ]
        return SafeTensors.encode(entries, metadata: metadata)
    }

    /// The run a checkpoint continues, or nil for weights written elsewhere (metadata is optional: only a resumed
    /// run needs step, epoch and seed).
    static func readInfo(_ metadata: [String: String]) -> CheckpointInfo? {
        guard let step = metadata["step"].flatMap(Int.init), let epoch = metadata["epoch"].flatMap(Int.init),
              let seed = metadata["seed"].flatMap(UInt64.init)
        else { return nil }
        return CheckpointInfo(step: step, epoch: epoch, seed: seed, specSHA256: metadata["spec_sha256"] ?? "",
                              specText: metadata["spec"] ?? "")
    }

    /// A checkpoint that a run can continue from: its metadata is required.
    static func read(path: String, limits: DataLimits = .default) throws(CheckpointError) -> (entries: [SafeTensors.Entry], info: CheckpointInfo) {
        let (entries, info) = try readWeights(path: path, limits: limits)
        guard let info else {
            throw CheckpointError.noRunMetadata(path: path)
        }
        return (entries, info)
    }

    /// Any safetensors file; `info` is nil when its metadata names no run. The size is checked against `limits`
    /// before it is read.
    static func readWeights(path: String, limits: DataLimits = .default) throws(CheckpointError) -> (entries: [SafeTensors.Entry], info: CheckpointInfo?) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CheckpointError.notFound(path: path)
        }
        let decoded: (entries: [SafeTensors.Entry], metadata: [String: String])
        do {
            decoded = try SafeTensors.read(path: path, limits: limits)
        } catch let error as DataError {
            throw CheckpointError.unreadable(path: path, error)
        } catch {
            throw CheckpointError.unreadable(path: path, DataError(file: path, "\(error)"))
        }
        return (decoded.entries, readInfo(decoded.metadata))
    }

    /// Loads the weights (and, when asked, the optimizer slots) into `network`; every tensor must be present.
    static func restore<S: TensorScalar>(_ network: Network<S>, from entries: [SafeTensors.Entry], optimizer: Bool,
                                         path: String) throws(CheckpointError) {
        var byName: [String: SafeTensors.Entry] = [:]
        for e in entries { byName[e.name] = e }
        // Every problem at once: a file written by another tool is usually off in more than one tensor.
        let expected = Set(network.checkpointTensors.map(\.name))
        let extra = entries.map(\.name).filter { !expected.contains($0) && !$0.hasPrefix("optimizer.") }
        var problems: [TensorProblem] = []
        for p in network.checkpointTensors {
            guard let e = byName[p.name] else {
                problems.append(.missing(name: p.name, shape: p.shape, closest: Suggestions.closest(to: p.name, among: extra)))
                continue
            }
            if e.shape != p.shape { problems.append(.misshapen(name: p.name, found: e.shape, expected: p.shape)) }
        }
        problems += extra.map { .extra(name: $0) }
        if !problems.isEmpty { throw CheckpointError.doesNotFit(path: path, problems: problems) }
        for p in network.state {
            try values(byName[p.name]!, into: p.value.pointer, count: p.count)
        }
        for p in network.parameters {
            let e = byName[p.name]!
            try values(e, into: p.value.pointer, count: p.count)
            if optimizer {
                for (k, slot) in slotNames(network.spec.train.optimizer).enumerated() {
                    guard let s = byName["optimizer.\(slot).\(p.name)"] else {
                        throw CheckpointError.missingOptimizerState(path: path, tensor: "optimizer.\(slot).\(p.name)")
                    }
                    try values(s, into: (k == 0 ? p.slot1 : p.slot2).pointer, count: p.count)
                }
            }
        }
    }
}
