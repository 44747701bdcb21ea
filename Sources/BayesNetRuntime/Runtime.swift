import CKernels

/// Facts about the machine the kernels run on.
public enum Runtime {
    /// Whether the AVX2+FMA micro-kernels can run here.
    public static let hasAVX2FMA: Bool = bn_cpu_has_avx2_fma() != 0
}
