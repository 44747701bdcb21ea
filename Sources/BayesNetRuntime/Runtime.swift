import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// Facts about the machine the kernels run on.
public enum Runtime {
    /// Whether the AVX2+FMA micro-kernels can run here.
    public static let hasAVX2FMA: Bool = bn_cpu_has_avx2_fma() != 0
    /// Whether the AVX-512 micro-kernel can run here.
    public static let hasAVX512: Bool = bn_cpu_has_avx512f() != 0

    /// Instruction-set levels of the C kernels; one choice serves every kernel family (named by the Float GEMM
    /// tile; Double tiles have half the columns).
    public enum CPULevel: Int, Sendable, CaseIterable, CustomStringConvertible {
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

    /// FLOP/s of one thread running nothing but independent FMAs of this kernel's vector width: the
    /// per-core ceiling to compare GEMM figures with (0 if unsupported). Timed in the thread's own CPU time,
    /// so other processes sharing the core do not lower it (cores that share FMA units still do).
    public static func peakFlops(_ kernel: CPULevel, seconds: Double = 0.2) -> Double {
        var iterations = 1 << 16
        while true {
            let start = threadCPUSeconds()
            let flops = bn_fma_peak_loop(Int32(kernel.rawValue), iterations)
            let elapsed = threadCPUSeconds() - start
            if flops == 0 { return 0 }
            if elapsed >= seconds { return flops / elapsed }
            iterations *= 2
        }
    }

    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// The level in use: the widest the CPU supports (capped by BAYESNET_KERNEL) unless set. Setting an
    /// unsupported level is ignored.
    public static var cpuLevel: CPULevel {
        get { CPULevel(rawValue: Int(bn_cpu_level())) ?? .portable }
        set { _ = bn_cpu_set_level(Int32(newValue.rawValue)) }
    }

    /// Whether Float convolutions read their patches in place at the AVX-512 level rather than packing them
    /// for the GEMM: those with at most 8 input channels, and the fused Flipout layer's per-example products
    /// (padded planes). Same bits either way, but for the fused layer's input gradient with fewer than 8
    /// input channels, which takes the convolution form on the planes; settable to compare the two.
    public static var fewChannelKernels: Bool {
        get { bn_few_channels_kernels() != 0 }
        set { bn_set_few_channels_kernels(newValue ? 1 : 0) }
    }

    /// Fixes the level before any kernel runs; a plan calls it when it is built, so no kernel call, on any
    /// thread, is the first to read the environment.
    @discardableResult
    public static func selectCPULevel() -> CPULevel {
        CPULevel(rawValue: Int(bn_cpu_select_level())) ?? .portable
    }
}
