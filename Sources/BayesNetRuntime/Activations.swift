import CKernels

/// Elementwise activations, as TensorFlow defines them.
public enum ActivationKind: Sendable, Equatable {
    case linear, relu, elu, tanh, sigmoid, softplus
    /// max(x, alpha·x).
    case leakyRelu(alpha: Double)
}

public enum Activations {
    /// Elements per task when splitting over threads.
    @usableFromInline static let grain = 1 << 15

    /// In place allowed (y == x).
    @inlinable
    public static func forward<S: TensorScalar>(_ kind: ActivationKind, x: UnsafePointer<S>,
                                                y: UnsafeMutablePointer<S>, count: Int) {
        let parts = Runtime.partitions(count, grain: grain, perThread: 4)
        Runtime.parallelFor(parts, ForwardTask(kind: kind, x: x, y: y, count: count, parts: parts))
    }

    @usableFromInline
    struct ForwardTask<S: TensorScalar>: ParallelTask {
        @usableFromInline let kind: ActivationKind
        @usableFromInline let x: UnsafePointer<S>
        @usableFromInline let y: UnsafeMutablePointer<S>
        @usableFromInline let count: Int, parts: Int

        @inlinable
        init(kind: ActivationKind, x: UnsafePointer<S>, y: UnsafeMutablePointer<S>, count: Int, parts: Int) {
            self.kind = kind; self.x = x; self.y = y; self.count = count; self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            forwardRange(kind, x: x, y: y, range: sliceRange(count, part: part, of: parts))
        }
    }

    @inlinable
    static func forwardRange<S: TensorScalar>(_ kind: ActivationKind, x: UnsafePointer<S>,
                                              y: UnsafeMutablePointer<S>, range: Range<Int>) {
        if S.self == Float.self, let code = vectorCode(kind) {
            bn_activation_forward_f32(code, x.cast(Float.self) + range.lowerBound, y.cast(Float.self) + range.lowerBound, range.count)
            return
        }
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
        let parts = Runtime.partitions(count, grain: grain, perThread: 4)
        Runtime.parallelFor(parts, BackwardTask(kind: kind, x: x, y: y, dy: dy, dx: dx, count: count, parts: parts))
    }

    @usableFromInline
    struct BackwardTask<S: TensorScalar>: ParallelTask {
        @usableFromInline let kind: ActivationKind
        @usableFromInline let x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafePointer<S>
        @usableFromInline let dx: UnsafeMutablePointer<S>
        @usableFromInline let count: Int, parts: Int

        @inlinable
        init(kind: ActivationKind, x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafePointer<S>,
             dx: UnsafeMutablePointer<S>, count: Int, parts: Int) {
            self.kind = kind; self.x = x; self.y = y; self.dy = dy; self.dx = dx; self.count = count
            self.parts = parts
        }

        @inlinable
        func run(_ part: Int) {
            backwardRange(kind, x: x, y: y, dy: dy, dx: dx, range: sliceRange(count, part: part, of: parts))
        }
    }

    @inlinable
    static func backwardRange<S: TensorScalar>(_ kind: ActivationKind, x: UnsafePointer<S>, y: UnsafePointer<S>,
                                               dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, range: Range<Int>) {
        if S.self == Float.self, kind == .softplus {
            bn_softplus_backward_f32(x.cast(Float.self) + range.lowerBound, dy.cast(Float.self) + range.lowerBound,
                                     dx.cast(Float.self) + range.lowerBound, range.count)
            return
        }
        switch kind {
        case .linear:
            if UnsafePointer(dx) != dy { (dx + range.lowerBound).update(from: dy + range.lowerBound, count: range.count) }
        // Selects rather than branches: the sign of x is unpredictable.
        case .relu:
            for i in range { let d = dy[i]; dx[i] = x[i] > 0 ? d : 0 }
        case .elu:
            for i in range { let d = dy[i], e = d * (y[i] + 1); dx[i] = x[i] > 0 ? d : e }
        case .tanh:
            for i in range { let t = y[i]; dx[i] = dy[i] * (1 - t * t) }
        case .sigmoid:
            for i in range { let s = y[i]; dx[i] = dy[i] * s * (1 - s) }
        case .softplus:
            for i in range { dx[i] = dy[i] * sigmoid(x[i]) }
        case .leakyRelu(let alpha):
            let a = S(alpha)
            for i in range { let d = dy[i], e = a * d; dx[i] = x[i] > 0 ? d : e }
        }
    }

    /// The C kernels' code for activations with transcendental parts (single precision only).
    @inlinable
    static func vectorCode(_ kind: ActivationKind) -> Int32? {
        switch kind {
        case .elu: Int32(BN_ACT_ELU)
        case .tanh: Int32(BN_ACT_TANH)
        case .sigmoid: Int32(BN_ACT_SIGMOID)
        case .softplus: Int32(BN_ACT_SOFTPLUS)
        default: nil
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
