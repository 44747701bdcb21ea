/// Exact gradient variances of the reference setup: a 3x3 SAME convolution 4 → 8 on [N, 8, 8, 4] inputs, no
/// activation, loss ½ · mean of y² over the M = N·8·8·8 outputs, kernel scale σ, bias scale σ_b.
///
/// The loss is quadratic and the network linear, so the μ-gradient is linear in the noise and its variance
/// exact. With Pⁿ example n's 64 × 36 patch matrix, Gⁿ = Pⁿᵀ Pⁿ and uⁿ = Pⁿᵀ 1 (its column sums):
/// - kernel noise, shared sample: σ²/M² · C_out · Σ_kj (Σ_n Gⁿ_kj)²; Flipout and independent samples:
///   σ²/M² · C_out · Σ_n Σ_kj (Gⁿ_kj)² (independent signs or samples cancel the cross terms between examples);
/// - bias noise, a sample shared by the batch (shared and Flipout, which does not flip the bias):
///   σ_b²/M² · C_out · Σ_k (Σ_n uⁿ_k)²; independent samples: σ_b²/M² · C_out · Σ_n Σ_k (uⁿ_k)².
struct ConvolutionClosedForm {
    static let channelsIn = 4
    static let channelsOut = 8
    static let taps = 9 * channelsIn

    let batch: Int
    /// Σ_n Gⁿ, Σ_n Σ_kj (Gⁿ_kj)², Σ_n uⁿ and Σ_n Σ_k (uⁿ_k)².
    private var gramTotal: [Double]
    private var gramSquares = 0.0
    private var sumTotal: [Double]
    private var sumSquares = 0.0

    /// `inputs`: [batch, 8, 8, 4], channels-last.
    init(inputs x: [Double], batch: Int) {
        let taps = Self.taps, c = Self.channelsIn
        self.batch = batch
        gramTotal = [Double](repeating: 0, count: taps * taps)
        sumTotal = [Double](repeating: 0, count: taps)
        for n in 0..<batch {
            var patches = [Double](repeating: 0, count: 64 * taps)
            for i in 0..<8 {
                for j in 0..<8 {
                    for di in 0..<3 {
                        for dj in 0..<3 {
                            let (y, xx) = (i + di - 1, j + dj - 1)
                            guard y >= 0, y < 8, xx >= 0, xx < 8 else { continue }
                            for ch in 0..<c {
                                patches[(i * 8 + j) * taps + (di * 3 + dj) * c + ch] = x[((n * 8 + y) * 8 + xx) * c + ch]
                            }
                        }
                    }
                }
            }
            for k in 0..<taps {
                var u = 0.0
                for p in 0..<64 { u += patches[p * taps + k] }
                sumTotal[k] += u
                sumSquares += u * u
                for j in 0..<taps {
                    var g = 0.0
                    for p in 0..<64 { g += patches[p * taps + k] * patches[p * taps + j] }
                    gramTotal[k * taps + j] += g
                    gramSquares += g * g
                }
            }
        }
    }

    func variances(sigma: Double, biasSigma: Double) -> (shared: Double, flipout: Double, independent: Double) {
        let m = Double(batch * 64 * Self.channelsOut)
        let kernel = sigma * sigma / (m * m) * Double(Self.channelsOut)
        let bias = biasSigma * biasSigma / (m * m) * Double(Self.channelsOut)
        let sharedBias = bias * sumTotal.reduce(0) { $0 + $1 * $1 }
        return (kernel * gramTotal.reduce(0) { $0 + $1 * $1 } + sharedBias, kernel * gramSquares + sharedBias,
                kernel * gramSquares + bias * sumSquares)
    }
}
