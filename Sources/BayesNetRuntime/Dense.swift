/// Affine layers: x [batch, in], kernel [in, out], bias [out], y [batch, out]. Flattening is free:
/// a channels-last tensor is already [batch, product(rest)] in memory.
public enum Dense {
    @inlinable
    public static func forward<S: TensorScalar>(x: UnsafePointer<S>, kernel: UnsafePointer<S>, bias: UnsafePointer<S>?,
                                                y: UnsafeMutablePointer<S>, batch: Int, inputs: Int, outputs: Int) {
        if batch == 0 || outputs == 0 { return }
        if let bias {
            for r in 0..<batch { (y + r * outputs).update(from: bias, count: outputs) }
        }
        Gemm.gemm(transA: false, transB: false, m: batch, n: outputs, k: inputs, alpha: 1, a: x, lda: max(inputs, 1),
                  b: kernel, ldb: outputs, beta: bias == nil ? 0 : 1, c: y, ldc: outputs)
    }

    /// dx (+)= dy · kernelᵀ.
    @inlinable
    public static func backwardInput<S: TensorScalar>(dy: UnsafePointer<S>, kernel: UnsafePointer<S>,
                                                      dx: UnsafeMutablePointer<S>, batch: Int, inputs: Int, outputs: Int,
                                                      accumulate: Bool) {
        if batch == 0 || inputs == 0 { return }
        Gemm.gemm(transA: false, transB: true, m: batch, n: inputs, k: outputs, alpha: 1, a: dy, lda: max(outputs, 1),
                  b: kernel, ldb: max(outputs, 1), beta: accumulate ? 1 : 0, c: dx, ldc: inputs)
    }

    /// dkernel (+)= xᵀ · dy.
    @inlinable
    public static func backwardKernel<S: TensorScalar>(x: UnsafePointer<S>, dy: UnsafePointer<S>,
                                                       dkernel: UnsafeMutablePointer<S>, batch: Int, inputs: Int,
                                                       outputs: Int, accumulate: Bool) {
        if inputs == 0 || outputs == 0 { return }
        Gemm.gemm(transA: true, transB: false, m: inputs, n: outputs, k: batch, alpha: 1, a: x, lda: inputs,
                  b: dy, ldb: outputs, beta: accumulate ? 1 : 0, c: dkernel, ldc: outputs)
    }
}
