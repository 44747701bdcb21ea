import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Classification losses over logits [batch, classes].
public enum Losses {
    /// Mean over the batch of -log softmax(logits)[label] (log-sum-exp shifted by the row max);
    /// writes d(mean loss)/d logits when dlogits != nil.
    @inlinable
    public static func softmaxCrossEntropy<S: TensorScalar>(logits: UnsafePointer<S>, labels: UnsafePointer<Int32>,
                                                            batch: Int, classes: Int,
                                                            dlogits: UnsafeMutablePointer<S>?) -> S {
        precondition(classes > 0, "Losses: classes must be positive")
        if batch == 0 { return 0 }
        var total: Double = 0
        let scale = 1 / S(batch)
        for r in 0..<batch {
            let z = logits + r * classes
            let label = Int(labels[r])
            precondition(label >= 0 && label < classes, "Losses: label \(label) outside 0..<\(classes)")
            var zmax = z[0]
            for j in 1..<classes where z[j] > zmax { zmax = z[j] }
            var sum: S = 0
            for j in 0..<classes { sum += S.exp(z[j] - zmax) }
            let logSum = S.log(sum)
            total += Double(logSum + zmax - z[label])
            if let d = dlogits.map({ $0 + r * classes }) {
                let inv = 1 / sum
                for j in 0..<classes { d[j] = S.exp(z[j] - zmax) * inv * scale }
                d[label] -= scale
            }
        }
        return S(total / Double(batch))
    }

    @inlinable
    public static func softmax<S: TensorScalar>(logits: UnsafePointer<S>, probabilities: UnsafeMutablePointer<S>,
                                                batch: Int, classes: Int) {
        if classes == 0 { return }
        for r in 0..<batch {
            let z = logits + r * classes, p = probabilities + r * classes
            var zmax = z[0]
            for j in 1..<classes where z[j] > zmax { zmax = z[j] }
            var sum: S = 0
            for j in 0..<classes { let e = S.exp(z[j] - zmax); p[j] = e; sum += e }
            let inv = 1 / sum
            for j in 0..<classes { p[j] *= inv }
        }
    }
}

extension Losses {
    /// Elements per block of the Gaussian NLL's sum: fixed, so that the total does not depend on the threads.
    static let nllBlock = 32_768

    /// Σ over `count` outputs of 0.5·(out − target)²/σ² + log σ + ½ log 2π, in double; with `gradientScale`,
    /// gradient = scale·(out − target)/σ²/batch. Float runs in C kernels split over the threads (each
    /// element's gradient is the same arithmetic as one loop's; the sum is taken in fixed blocks, each in 16
    /// lanes, the blocks added in order); other types in one loop. Sums differ from one sequential loop's only
    /// in their rounding.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func gaussianNLL<S: TensorScalar>(output: UnsafePointer<S>, target: UnsafePointer<S>, count: Int,
                                                   sigma: Double, batch: Int, gradientScale: Double?,
                                                   gradient: UnsafeMutablePointer<S>) -> Double {
        let variance = sigma * sigma
        let constant = log(sigma) + 0.5 * log(2 * Double.pi)
        if S.self != Float.self {
            var total = 0.0
            for i in 0..<count {
                let r = Double(output[i]) - Double(target[i])
                total += 0.5 * r * r / variance + constant
                if let scale = gradientScale { gradient[i] = S(scale * r / variance / Double(batch)) }
            }
            return total
        }
        let blocks = (count + nllBlock - 1) / nllBlock
        if blocks == 0 { return 0 }
        // At most 64 partial sums at a time, so the scratch stays on the stack.
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: min(blocks, 64)) { sums in
            var total = 0.0, first = 0
            while first < blocks {
                let n = min(64, blocks - first)
                let parts = min(n, Runtime.threadCount)
                Runtime.parallelFor(parts, NLLTask(output: UnsafeRawPointer(output).assumingMemoryBound(to: Float.self),
                                                   target: UnsafeRawPointer(target).assumingMemoryBound(to: Float.self),
                                                   count: count, variance: variance, constant: constant, batch: batch,
                                                   gradientScale: gradientScale ?? 0, withGradient: gradientScale != nil,
                                                   gradient: UnsafeMutableRawPointer(gradient)
                                                    .assumingMemoryBound(to: Float.self),
                                                   sums: sums.baseAddress!, first: first, blocks: n, parts: parts))
                for b in 0..<n { total += sums[b] }
                first += n
            }
            return total
        }
    }

    /// Blocks `first + b` for the `part`-th slice of b in `0..<blocks`, each block's sum into `sums[b]`.
    struct NLLTask: ParallelTask {
        let output: UnsafePointer<Float>, target: UnsafePointer<Float>
        let count: Int, variance: Double, constant: Double, batch: Int
        let gradientScale: Double, withGradient: Bool
        let gradient: UnsafeMutablePointer<Float>
        let sums: UnsafeMutablePointer<Double>
        let first: Int, blocks: Int, parts: Int

        func run(_ part: Int) {
            var scale = gradientScale
            for b in sliceRange(blocks, part: part, of: parts) {
                let lo = (first + b) * Losses.nllBlock, n = min(Losses.nllBlock, count - lo)
                sums[b] = withUnsafePointer(to: &scale) { sp in
                    bn_gaussian_nll_f32(output + lo, target + lo, n, variance, constant, withGradient ? sp : nil,
                                        batch, gradient + lo)
                }
            }
        }
    }
}
