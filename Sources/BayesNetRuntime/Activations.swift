/// Elementwise activations, as TensorFlow defines them.
public enum ActivationKind: Sendable, Equatable {
    case linear, relu, elu, tanh, sigmoid, softplus
    /// max(x, alpha·x); tf.nn.leaky_relu's default alpha is 0.2.
    case leakyRelu(alpha: Double = 0.2)
}

public enum Activations {
    /// Elements per task when splitting over threads.
    @usableFromInline static let grain = 1 << 15

    /// In place allowed (y == x).
    @inlinable
    public static func forward<S: TensorScalar>(_ kind: ActivationKind, x: UnsafePointer<S>,
                                                y: UnsafeMutablePointer<S>, count: Int) {
        let parts = Runtime.partitions(count, grain: grain)
        Runtime.parallelFor(parts) { part in
            let r = sliceRange(count, part: part, of: parts)
            forwardRange(kind, x: x, y: y, range: r)
        }
    }

    @inlinable
    static func forwardRange<S: TensorScalar>(_ kind: ActivationKind, x: UnsafePointer<S>,
                                              y: UnsafeMutablePointer<S>, range: Range<Int>) {
        switch kind {
        case .linear:
            if UnsafePointer(y) != x { (y + range.lowerBound).update(from: x + range.lowerBound, count: range.count) }
        case .relu:
            for i in range { let v = x[i]; y[i] = v > 0 ? v : 0 }
        case .elu:
            for i in range { let v = x[i]; y[i] = v > 0 ? v : S.expm1(v) }
        case .tanh:
            for i in range { y[i] = S.tanh(x[i]) }
        case .sigmoid:
            for i in range { y[i] = sigmoid(x[i]) }
        case .softplus:
            // log(1 + e^x) = max(x, 0) + log1p(e^-|x|), exact for large |x|.
            for i in range { let v = x[i]; y[i] = max(v, 0) + S.log1p(S.exp(-abs(v))) }
        case .leakyRelu(let alpha):
            let a = S(alpha)
            for i in range { let v = x[i]; y[i] = v > 0 ? v : a * v }
        }
    }

    /// x: pre-activation, y: output; in place allowed (dx == dy).
    @inlinable
    public static func backward<S: TensorScalar>(_ kind: ActivationKind, x: UnsafePointer<S>, y: UnsafePointer<S>,
                                                 dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, count: Int) {
        let parts = Runtime.partitions(count, grain: grain)
        Runtime.parallelFor(parts) { part in
            let r = sliceRange(count, part: part, of: parts)
            backwardRange(kind, x: x, y: y, dy: dy, dx: dx, range: r)
        }
    }

    @inlinable
    static func backwardRange<S: TensorScalar>(_ kind: ActivationKind, x: UnsafePointer<S>, y: UnsafePointer<S>,
                                               dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, range: Range<Int>) {
        switch kind {
        case .linear:
            if UnsafePointer(dx) != dy { (dx + range.lowerBound).update(from: dy + range.lowerBound, count: range.count) }
        case .relu:
            for i in range { dx[i] = x[i] > 0 ? dy[i] : 0 }
        case .elu:
            for i in range { dx[i] = x[i] > 0 ? dy[i] : dy[i] * (y[i] + 1) }
        case .tanh:
            for i in range { let t = y[i]; dx[i] = dy[i] * (1 - t * t) }
        case .sigmoid:
            for i in range { let s = y[i]; dx[i] = dy[i] * s * (1 - s) }
        case .softplus:
            for i in range { dx[i] = dy[i] * sigmoid(x[i]) }
        case .leakyRelu(let alpha):
            let a = S(alpha)
            for i in range { dx[i] = x[i] > 0 ? dy[i] : a * dy[i] }
        }
    }

    /// 1 / (1 + e^-x) without overflow for large |x|.
    @inlinable @inline(__always)
    static func sigmoid<S: TensorScalar>(_ v: S) -> S {
        if v >= 0 { return 1 / (1 + S.exp(-v)) }
        let e = S.exp(v)
        return e / (1 + e)
    }
}
