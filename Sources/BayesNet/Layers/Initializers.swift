import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// Keras' weight initializers with TensorFlow's fan definitions: for a kernel of shape `filter + [in, out]`,
/// fan_in = filter volume · in and fan_out = filter volume · out; a vector of length n has fan_in = fan_out = n.
enum WeightInitializer {
    static func fans(_ shape: [Int]) -> (fanIn: Double, fanOut: Double) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (Double(shape[0]), Double(shape[0]))
        default:
            let receptive = shape.dropLast(2).reduce(1, *)
            return (Double(receptive * shape[shape.count - 2]), Double(receptive * shape[shape.count - 1]))
        }
    }

    /// Truncated normals (resampled beyond two standard deviations) divide by this to keep the requested variance.
    static let truncatedStddevCorrection = 0.87962566103423978

    static func fill<S: TensorScalar>(_ p: UnsafeMutablePointer<S>, shape: [Int], initializer: Initializer,
                                      random: RandomStream) {
        let count = shape.reduce(1, *)
        let (fanIn, fanOut) = fans(shape)
        switch initializer {
        case .zeros:
            p.update(repeating: 0, count: count)
        case .glorotUniform:
            uniform(p, count: count, limit: (6 / (fanIn + fanOut)).squareRoot(), random: random)
        case .heUniform:
            uniform(p, count: count, limit: (6 / fanIn).squareRoot(), random: random)
        case .glorotNormal:
            truncatedNormal(p, count: count, stddev: (2 / (fanIn + fanOut)).squareRoot() / truncatedStddevCorrection,
                            random: random)
        case .heNormal:
            truncatedNormal(p, count: count, stddev: (2 / fanIn).squareRoot() / truncatedStddevCorrection, random: random)
        case .randomNormal(let stddev):
            random.fillNormal(p, count: count)
            for i in 0..<count { p[i] *= S(stddev) }
        }
    }

    private static func uniform<S: TensorScalar>(_ p: UnsafeMutablePointer<S>, count: Int, limit: Double,
                                                 random: RandomStream) {
        random.fillUniform(p, count: count)
        for i in 0..<count { p[i] = S((2 * Double(p[i]) - 1) * limit) }
    }

    /// Element i tries the draws at offsets i, count + i, 2·count + i, … until one lies within two deviations.
    private static func truncatedNormal<S: TensorScalar>(_ p: UnsafeMutablePointer<S>, count: Int, stddev: Double,
                                                         random: RandomStream) {
        var draw: Double = 0
        for i in 0..<count {
            var attempt = 0
            repeat {
                random.fillNormal(&draw, count: 1, offset: attempt * count + i)
                attempt += 1
            } while abs(draw) > 2 && attempt < 64
            p[i] = S(max(-2, min(2, draw)) * stddev)
        }
    }
}
