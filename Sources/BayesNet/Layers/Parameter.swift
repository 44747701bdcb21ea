#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import BayesNetFormats
import BayesNetRuntime

/// Memory owned by the plan: allocated once, zeroed, never resized, so a training step allocates nothing.
///
/// Zeroed by calloc, which takes large blocks from the kernel's zero pages: a buffer the run never writes
/// (an SGD run's second optimizer slot, the gradients and slots of a plan that only predicts) costs address
/// space, not resident memory.
final class Buffer<S: TensorScalar> {
    let pointer: UnsafeMutablePointer<S>
    let count: Int

    init(count: Int) {
        self.count = count
        guard let raw = calloc(max(count, 1), MemoryLayout<S>.stride) else {
            fatalError("out of memory: \(count) values of \(S.self)")
        }
        pointer = raw.bindMemory(to: S.self, capacity: max(count, 1))
    }

    deinit { free(pointer) }

    var array: [S] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// One trainable tensor with its gradient and two optimizer slots (Adam's m and v, or SGD's velocity).
public final class Parameter<S: TensorScalar> {
    /// The checkpoint name, e.g. `conv_0.kernel_posterior_loc`.
    public let name: String
    public let shape: [Int]
    public let count: Int
    let value: Buffer<S>
    let gradient: Buffer<S>
    let slot1: Buffer<S>
    let slot2: Buffer<S>

    init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
        count = shape.reduce(1, *)
        value = Buffer(count: count)
        gradient = Buffer(count: count)
        slot1 = Buffer(count: count)
        slot2 = Buffer(count: count)
    }

    public var values: [S] {
        get { value.array }
        set {
            precondition(newValue.count == count, "parameter \(name): \(newValue.count) values for \(count)")
            for i in 0..<count { value.pointer[i] = newValue[i] }
        }
    }

    public var gradients: [S] { gradient.array }
}
