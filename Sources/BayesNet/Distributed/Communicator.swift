import Foundation
import BayesNetRuntime

/// The processes of a data-parallel job, as training sees them: every rank holds the whole model, takes its
/// share of each global minibatch, and the gradients are summed across ranks before the one optimizer update.
///
/// One process is the identity (`SingleProcess`), so the trainer has one code path; `MPICommunicator`
/// (built with the `MPI` trait) runs the same calls over Open MPI.
public protocol Communicator: AnyObject, Sendable {
    /// This process's index, 0 ..< size; rank 0 alone writes the run folder and prints.
    var rank: Int { get }
    var size: Int { get }
    /// The ranks on this machine, this one included: they share its cores.
    var ranksOnThisNode: Int { get }

    /// Sums `count` values in place across ranks; every rank ends with the same bits.
    func sum<S: TensorScalar>(_ values: UnsafeMutablePointer<S>, count: Int)

    /// Every rank's segment on every rank: rank r has filled `values[offsets[r] ..< offsets[r] + counts[r]]`, where
    /// the offsets are the running sums of `counts`; the other segments are overwritten with the other ranks'.
    func gather(_ values: UnsafeMutablePointer<Float>, counts: [Int])

    /// Every rank's text, in rank order.
    func gather(_ text: String) -> [String]

    /// Ends every rank's process now, for a failure only this rank knows of.
    func abort(status: Int32) -> Never

    /// What this rank prints if the launcher stops the job (another rank died): where the run can go on from.
    func setInterruptionNote(_ note: String)

    /// Leaves the job cleanly; called once, last, by every rank.
    func finish()
}

extension Communicator {
    /// This rank's contiguous share of `count` items in global order: [⌈r·n/p⌉, ⌈(r+1)·n/p⌉). Shares differ by
    /// at most one item and rank 0's is never empty while there is an item, so it always runs the forward pass
    /// whose draws the KL estimate reuses.
    public func share(of count: Int) -> Range<Int> {
        share(of: count, rank: rank)
    }

    /// Rank r's share, as every rank can compute it (for gathering).
    public func share(of count: Int, rank r: Int) -> Range<Int> {
        let p = size
        return ((r * count + p - 1) / p)..<(((r + 1) * count + p - 1) / p)
    }

    /// Every rank's failure, the same list on every rank (empty when none failed): lets every rank stop
    /// together, before training, with one message.
    public func failures(_ local: String?) -> [(rank: Int, message: String)] {
        guard size > 1 else { return local.map { [(0, $0)] } ?? [] }
        // A leading marker tells a failure from success, so that an empty message still counts.
        let all = gather(local.map { "!" + $0 } ?? "")
        return all.enumerated().compactMap { r, text in text.hasPrefix("!") ? (r, String(text.dropFirst())) : nil }
    }

    /// Throws the lowest failing rank's error on every rank when any rank failed; it names the rank unless
    /// every rank failed alike.
    public func agree(_ local: String?) throws {
        let failed = failures(local)
        guard let first = failed.first else { return }
        let alike = failed.count == size && failed.allSatisfy { $0.message == first.message }
        throw RunError.rankFailed(rank: alike ? nil : first.rank, ranks: size, message: first.message)
    }

    /// Runs `body` and stops every rank with the first failure if any rank's body throws (one process: the
    /// error as thrown).
    public func agree<T>(_ body: () throws -> T) throws -> T {
        if size == 1 { return try body() }
        var value: T?
        var failure: String?
        do {
            value = try body()
        } catch {
            failure = "\(error)"
        }
        try agree(failure)
        return value!
    }
}

/// One process: every collective is the identity.
public final class SingleProcess: Communicator {
    public static let shared = SingleProcess()

    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var ranksOnThisNode: Int { 1 }
    public func sum<S: TensorScalar>(_ values: UnsafeMutablePointer<S>, count: Int) {}
    public func gather(_ values: UnsafeMutablePointer<Float>, counts: [Int]) {}
    public func gather(_ text: String) -> [String] { [text] }
    public func abort(status: Int32) -> Never { exit(status) }
    public func setInterruptionNote(_ note: String) {}
    public func finish() {}
}

public enum Communicators {
    /// The job this process belongs to: the MPI world when launched by mpirun (or another MPI launcher) and
    /// built with the `MPI` trait, else a single process. A process started by a launcher in a build without
    /// MPI is refused, rather than training N independent copies that overwrite each other's run folder.
    public static func launch() throws -> any Communicator {
        #if MPI
        if launchedByMPI { return try MPICommunicator() }
        #else
        if launchedByMPI {
            throw RunError.launchedByMPIWithoutTrait
        }
        #endif
        return SingleProcess.shared
    }

    /// The environment Open MPI's mpirun, PMIx and PMI launchers (srun, hydra) give their processes.
    static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { env[$0] != nil }
    }

    /// Whether this build can run under mpirun.
    public static var supportsMPI: Bool {
        #if MPI
        return true
        #else
        return false
        #endif
    }
}
