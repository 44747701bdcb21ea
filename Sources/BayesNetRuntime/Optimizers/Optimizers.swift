import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// In-place parameter updates on buffers the caller owns (parameters and optimizer state alike),
/// with the same update rules as Keras so that hyperparameters carry over.
public enum Optimizers {
    /// One Adam step (Kingma & Ba, in Keras's form): with t the 1-based step number,
    ///   m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,
    ///   α = lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ),  θ ← θ − α · m / (√v + ε).
    /// The bias correction is folded into α and ε is not bias-corrected, exactly as `keras.optimizers.Adam`.
    /// `m` and `v` start at zero and must be kept between steps.
    @inlinable
    public static func adamStep<S: BinaryFloatingPoint>(
        parameters: UnsafeMutablePointer<S>, gradients: UnsafePointer<S>,
        m: UnsafeMutablePointer<S>, v: UnsafeMutablePointer<S>, count: Int, step t: Int,
        learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-7
    ) {
        // Float and Double go to loops compiled here, so unspecialized generic callers still run specialized code.
        if S.self == Float.self {
            adamStepFloat(
                parameters: UnsafeMutableRawPointer(parameters).assumingMemoryBound(to: Float.self),
                gradients: UnsafeRawPointer(gradients).assumingMemoryBound(to: Float.self),
                m: UnsafeMutableRawPointer(m).assumingMemoryBound(to: Float.self),
                v: UnsafeMutableRawPointer(v).assumingMemoryBound(to: Float.self), count: count, step: t,
                learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
        } else if S.self == Double.self {
            adamStepDouble(
                parameters: UnsafeMutableRawPointer(parameters).assumingMemoryBound(to: Double.self),
                gradients: UnsafeRawPointer(gradients).assumingMemoryBound(to: Double.self),
                m: UnsafeMutableRawPointer(m).assumingMemoryBound(to: Double.self),
                v: UnsafeMutableRawPointer(v).assumingMemoryBound(to: Double.self), count: count, step: t,
                learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
        } else {
            adamUpdate(parameters: parameters, gradients: gradients, m: m, v: v, count: count, step: t,
                       learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
        }
    }

    @usableFromInline
    static func adamStepFloat(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
        v: UnsafeMutablePointer<Float>, count: Int, step t: Int, learningRate: Double, beta1: Double, beta2: Double,
        epsilon: Double
    ) {
        precondition(t >= 1, "Adam steps are numbered from 1")
        // The C kernel takes the constants as adamUpdate forms them.
        let alpha = Float(learningRate * (1 - pow(beta2, Double(t))).squareRoot() / (1 - pow(beta1, Double(t))))
        if bn_adam_step_f32(parameters, gradients, m, v, max(count, 0), alpha, Float(1 - beta1), Float(1 - beta2),
                            Float(epsilon)) != 0 {
            return
        }
        adamUpdate(parameters: parameters, gradients: gradients, m: m, v: v, count: count, step: t,
                   learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    @usableFromInline
    static func adamStepDouble(
        parameters: UnsafeMutablePointer<Double>, gradients: UnsafePointer<Double>, m: UnsafeMutablePointer<Double>,
        v: UnsafeMutablePointer<Double>, count: Int, step t: Int, learningRate: Double, beta1: Double, beta2: Double,
        epsilon: Double
    ) {
        adamUpdate(parameters: parameters, gradients: gradients, m: m, v: v, count: count, step: t,
                   learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    @inlinable
    static func adamUpdate<S: BinaryFloatingPoint>(
        parameters: UnsafeMutablePointer<S>, gradients: UnsafePointer<S>,
        m: UnsafeMutablePointer<S>, v: UnsafeMutablePointer<S>, count: Int, step t: Int,
        learningRate: Double, beta1: Double, beta2: Double, epsilon: Double
    ) {
        precondition(t >= 1, "Adam steps are numbered from 1")
        let alpha = S(learningRate * (1 - pow(beta2, Double(t))).squareRoot() / (1 - pow(beta1, Double(t))))
        let oneMinusB1 = S(1 - beta1), oneMinusB2 = S(1 - beta2), eps = S(epsilon)
        for i in 0..<max(count, 0) {
            let g = gradients[i]
            let mi = m[i] + (g - m[i]) * oneMinusB1
            let vi = v[i] + (g * g - v[i]) * oneMinusB2
            m[i] = mi
            v[i] = vi
            parameters[i] -= mi * alpha / (vi.squareRoot() + eps)
        }
    }

    /// One step of SGD with (heavy-ball) momentum, in Keras's form:
    ///   velocity ← momentum · velocity − lr · g,  θ ← θ + velocity.
    /// With momentum 0 this is θ ← θ − lr · g; `velocity` starts at zero and must be kept between steps.
    @inlinable
    public static func sgdStep<S: BinaryFloatingPoint>(
        parameters: UnsafeMutablePointer<S>, gradients: UnsafePointer<S>, velocity: UnsafeMutablePointer<S>,
        count: Int, learningRate: Double, momentum: Double = 0
    ) {
        if S.self == Float.self {
            sgdStepFloat(
                parameters: UnsafeMutableRawPointer(parameters).assumingMemoryBound(to: Float.self),
                gradients: UnsafeRawPointer(gradients).assumingMemoryBound(to: Float.self),
                velocity: UnsafeMutableRawPointer(velocity).assumingMemoryBound(to: Float.self), count: count,
                learningRate: learningRate, momentum: momentum)
        } else if S.self == Double.self {
            sgdStepDouble(
                parameters: UnsafeMutableRawPointer(parameters).assumingMemoryBound(to: Double.self),
                gradients: UnsafeRawPointer(gradients).assumingMemoryBound(to: Double.self),
                velocity: UnsafeMutableRawPointer(velocity).assumingMemoryBound(to: Double.self), count: count,
                learningRate: learningRate, momentum: momentum)
        } else {
            sgdUpdate(parameters: parameters, gradients: gradients, velocity: velocity, count: count,
                      learningRate: learningRate, momentum: momentum)
        }
    }

    @usableFromInline
    static func sgdStepFloat(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, velocity: UnsafeMutablePointer<Float>,
        count: Int, learningRate: Double, momentum: Double
    ) {
        if bn_sgd_step_f32(parameters, gradients, velocity, max(count, 0), Float(learningRate), Float(momentum)) != 0 {
            return
        }
        sgdUpdate(parameters: parameters, gradients: gradients, velocity: velocity, count: count,
                  learningRate: learningRate, momentum: momentum)
    }

    @usableFromInline
    static func sgdStepDouble(
        parameters: UnsafeMutablePointer<Double>, gradients: UnsafePointer<Double>, velocity: UnsafeMutablePointer<Double>,
        count: Int, learningRate: Double, momentum: Double
    ) {
        sgdUpdate(parameters: parameters, gradients: gradients, velocity: velocity, count: count,
                  learningRate: learningRate, momentum: momentum)
    }

    @inlinable
    static func sgdUpdate<S: BinaryFloatingPoint>(
        parameters: UnsafeMutablePointer<S>, gradients: UnsafePointer<S>, velocity: UnsafeMutablePointer<S>,
        count: Int, learningRate: Double, momentum: Double
    ) {
        let lr = S(learningRate), mu = S(momentum)
        for i in 0..<max(count, 0) {
            let vel = mu * velocity[i] - lr * gradients[i]
            velocity[i] = vel
            parameters[i] += vel
        }
    }
}
