#if MPI
import Foundation
import BayesNetRuntime
import CMPI

/// The ranks of `MPI_COMM_WORLD`. Only the main thread calls MPI (the kernels' worker threads never do), so
/// `MPI_THREAD_FUNNELED` is all it asks for.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public let ranksOnThisNode: Int
    private let world: MPI_Comm

    init() throws {
        var provided: Int32 = 0
        guard MPI_Init_thread(nil, nil, bn_mpi_thread_funneled(), &provided) == bn_mpi_success() else {
            throw RunError.mpiInitFailed
        }
        world = bn_mpi_comm_world()
        var r: Int32 = 0, n: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &n)
        rank = Int(r)
        size = Int(n)
        var node: MPI_Comm?
        var local: Int32 = 1
        if MPI_Comm_split_type(world, bn_mpi_comm_type_shared(), r, bn_mpi_info_null(), &node) == bn_mpi_success() {
            MPI_Comm_size(node, &local)
            MPI_Comm_free(&node)
        }
        ranksOnThisNode = Int(local)
        InterruptionNote.install()
    }

    /// MPI counts are 32-bit: larger buffers go in pieces.
    private static let piece = 1 << 30

    public func sum<S: TensorScalar>(_ values: UnsafeMutablePointer<S>, count: Int) {
        let type = S.self == Double.self ? bn_mpi_double() : bn_mpi_float()
        var done = 0
        while done < count {
            let n = min(count - done, Self.piece)
            MPI_Allreduce(bn_mpi_in_place(), values + done, Int32(n), type, bn_mpi_sum(), world)
            done += n
        }
    }

    public func gather(_ values: UnsafeMutablePointer<Float>, counts: [Int]) {
        precondition(counts.count == size, "one count per rank")
        var offsets = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) { offsets[r] = offsets[r - 1] + Int32(counts[r - 1]) }
        let sizes = counts.map { Int32($0) }
        MPI_Allgatherv(bn_mpi_in_place(), 0, bn_mpi_float(), values, sizes, offsets, bn_mpi_float(), world)
    }

    public func gather(_ text: String) -> [String] {
        let mine = Array(text.utf8).map { CChar(bitPattern: $0) }
        var lengths = [Int32](repeating: 0, count: size)
        var length = Int32(mine.count)
        MPI_Allgather(&length, 1, bn_mpi_int(), &lengths, 1, bn_mpi_int(), world)
        var offsets = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) { offsets[r] = offsets[r - 1] + lengths[r - 1] }
        let total = Int(offsets[size - 1] + lengths[size - 1])
        var all = [CChar](repeating: 0, count: max(total, 1))
        mine.withUnsafeBufferPointer { m in
            _ = MPI_Allgatherv(UnsafeMutableRawPointer(mutating: m.baseAddress), length, bn_mpi_char(), &all,
                               lengths, offsets, bn_mpi_char(), world)
        }
        return (0..<size).map { r in
            let bytes = all[Int(offsets[r])..<Int(offsets[r] + lengths[r])].map { UInt8(bitPattern: $0) }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    public func abort(status: Int32) -> Never {
        MPI_Abort(world, status)
        exit(status)
    }

    public func setInterruptionNote(_ note: String) {
        InterruptionNote.set(rank == 0 ? note : "")
    }

    public func finish() {
        MPI_Finalize()
    }
}

/// The line a rank prints when mpirun stops it with SIGTERM (as it does to every rank once one has died),
/// kept in a fixed buffer because a signal handler may only call async-signal-safe functions.
enum InterruptionNote {
    private static let capacity = 4096
    nonisolated(unsafe) private static var buffer = UnsafeMutablePointer<CChar>.allocate(capacity: capacity)
    nonisolated(unsafe) private static var length = 0

    static func install() {
        _ = buffer
        signal(SIGTERM) { _ in
            if InterruptionNote.length > 0 { _ = write(2, InterruptionNote.buffer, InterruptionNote.length) }
            _exit(143)
        }
    }

    static func set(_ note: String) {
        length = 0
        let bytes = Array((note.isEmpty ? "" : note + "\n").utf8.prefix(capacity))
        for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
        length = bytes.count
    }
}
#endif
