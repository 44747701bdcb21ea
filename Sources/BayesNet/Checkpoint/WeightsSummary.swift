import BayesNetFormats
import BayesNetRuntime

/// What a safetensors file holds, tensor by tensor: for `bayesnet weights`.
public struct TensorSummary: Sendable {
    public var name: String
    public var dtype: String
    public var shape: [Int]
    public var mean: Double
    public var std: Double
    public var minimum: Double
    public var maximum: Double
    /// For a posterior's untransformed scale ρ: the mean scale σ = 1e-5 + softplus(ρ) it stands for.
    public var meanScale: Double?
}

public enum WeightsSummary {
    /// Every tensor of the file at `path` (optimizer state last), and the run it continues, if its metadata names one.
    public static func read(path: String, limits: DataLimits = .default) throws -> (tensors: [TensorSummary], step: Int?, epoch: Int?, seed: UInt64?) {
        let (entries, info) = try CheckpointIO.readWeights(path: path, limits: limits)
        let sorted = entries.filter { !$0.name.hasPrefix("optimizer.") } + entries.filter { $0.name.hasPrefix("optimizer.") }
        let tensors = sorted.map { e -> TensorSummary in
            let n = e.shape.reduce(1, *)
            let values = UnsafeMutablePointer<Double>.allocate(capacity: max(n, 1))
            defer { values.deallocate() }
            do { try CheckpointIO.values(e, into: values, count: n) } catch {
                return TensorSummary(name: e.name, dtype: e.dtype, shape: e.shape, mean: .nan, std: .nan, minimum: .nan, maximum: .nan)
            }
            var sum = 0.0, squares = 0.0, low = Double.infinity, high = -Double.infinity, scales = 0.0
            let isRho = e.name.hasSuffix("untransformed_scale")
            for i in 0..<n {
                let v = values[i]
                sum += v
                squares += v * v
                low = min(low, v)
                high = max(high, v)
                if isRho { scales += Softplus.scale(rho: v) }
            }
            let count = Double(max(n, 1)), mean = sum / count
            return TensorSummary(name: e.name, dtype: e.dtype, shape: e.shape, mean: mean,
                                 std: max(squares / count - mean * mean, 0).squareRoot(), minimum: low, maximum: high,
                                 meanScale: isRho ? scales / count : nil)
        }
        return (tensors, info?.step, info?.epoch, info?.seed)
    }
}
