import CKernels

/// Facts about the machine the kernels run on.
public enum Runtime {
    /// Whether the AVX2+FMA micro-kernels can run here.
    public static let hasAVX2FMA: Bool = bn_cpu_has_avx2_fma() != 0
    /// Whether the AVX-512 micro-kernel can run here.
    public static let hasAVX512: Bool = bn_cpu_has_avx512f() != 0

    /// The single-precision GEMM micro-kernel families.
    public enum GemmKernel: Int, Sendable, CaseIterable, CustomStringConvertible {
        case portable = 0, avx2 = 1, avx512 = 2
        public var description: String {
            switch self {
            case .portable: "portable"
            case .avx2: "avx2+fma 6x16"
            case .avx512: "avx512 12x32"
            }
        }
        public var isSupported: Bool {
            switch self {
            case .portable: true
            case .avx2: Runtime.hasAVX2FMA
            case .avx512: Runtime.hasAVX512
            }
        }
    }

    /// The micro-kernel in use: the widest the CPU supports unless set. Setting an unsupported kernel is ignored.
    public static var gemmKernel: GemmKernel {
        get { GemmKernel(rawValue: Int(bn_sgemm_kernel())) ?? .portable }
        set { _ = bn_sgemm_set_kernel(Int32(newValue.rawValue)) }
    }
}
