import BayesNetFormats
import Foundation

/// Which data set a problem was found in.
public enum DataRole: String, Sendable, Equatable {
    case training, test, validation
}

/// Data that loaded but does not fit the network: found only once the plan is known.
public enum DataMismatch: Error, Sendable, Equatable, CustomStringConvertible {
    case exampleShape(role: DataRole, data: [Int], input: [Int])
    case noExamples(role: DataRole)
    case noLabels(role: DataRole)
    case labelOutOfRange(role: DataRole, label: Int32, example: Int, classes: Int)
    case targetCount(role: DataRole, perExample: Int)

    public var description: String {
        switch self {
        case .exampleShape(let role, let data, let input):
            return "the \(role.rawValue) data's examples have shape \(data), but input.shape is \(input)"
        case .noExamples(let role): return "the \(role.rawValue) data has no examples"
        case .noLabels(let role): return "the \(role.rawValue) data has no labels, but the likelihood is categorical"
        case .labelOutOfRange(let role, let label, let example, let classes):
            return "\(role.rawValue) label \(label) of example \(example) is outside 0..<\(classes) (the network has \(classes) outputs)"
        case .targetCount(let role, let per):
            return "the \(role.rawValue) data needs \(per) regression target value(s) per example"
        }
    }
}

/// A run, evaluation or study that could not start or had to stop. `exitCode` follows the command line's
/// conventions; `agreed` says every rank of a distributed job stops with this same error, so the job can end
/// without an abort.
public enum RunError: Error, CustomStringConvertible, Sendable, Equatable {
    case noLikelihood
    case noTrainingData
    case noTestData
    /// `--ood` and `--shift` on a spec whose likelihood is not categorical or Bernoulli.
    case notAClassifier
    /// The test data lacks what the likelihood scores against: labels (a classifier) or targets.
    case testDataLacksAnswers(labels: Bool)
    case validationLeavesNothing(fraction: Double, examples: Int, kept: Int)
    case earlyStoppingWithoutValidation
    case data(DataError)
    case mismatch(DataMismatch)
    case plan(PlanError)
    /// The weights to evaluate or predict with (`--weights`) do not load into the plan.
    case weightsUnreadable(CheckpointError)
    case resumeUnreadable(folder: String, CheckpointError)
    case resumeOtherSpec(folder: String, checkpointSHA256: String, specSHA256: String)
    case folderHoldsRun(folder: String, holding: String)
    /// Creating, clearing or writing the run folder failed; `reason` is the file system's own account.
    case folderUnwritable(folder: String, reason: String)
    case trainingStopped(TrainingError, folder: String)
    case gradientsUnwritable(FileWriteError)
    case bestCheckpointUnreadable(CheckpointError)
    case rankSpecMismatch(rank: Int, ranks: Int, sha256: String, rankZeroSHA256: String)
    /// A rank of a distributed job failed before training; `message` is that rank's error as it printed it
    /// (nil rank: every rank failed alike).
    case rankFailed(rank: Int?, ranks: Int, message: String)
    case launchedByMPIWithoutTrait
    case mpiInitFailed

    /// Wraps what a loader, the data checks or the plan threw; a `RunError` passes through.
    static func wrapping(_ error: any Error) -> RunError {
        switch error {
        case let e as RunError: return e
        case let e as DataError: return .data(e)
        case let e as TrainingError:
            if case .mismatch(let m) = e { return .mismatch(m) }
            if case .noLikelihood = e { return .noLikelihood }
            return .trainingStopped(e, folder: "")
        case let e as PlanError: return .plan(e)
        case let e as CheckpointError: return .weightsUnreadable(e)
        default: return .rankFailed(rank: nil, ranks: 1, message: "\(error)")
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .launchedByMPIWithoutTrait: return 64
        default: return 1
        }
    }

    public var agreed: Bool {
        switch self {
        case .trainingStopped, .rankSpecMismatch, .rankFailed: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .noLikelihood: return TrainingError.noLikelihood.description
        case .noTrainingData: return "the spec has no `data.train`, so there is nothing to train on"
        case .noTestData: return "the spec has no `data.test` to evaluate on"
        case .notAClassifier:
            return "--ood and --shift measure a classifier's uncertainty; this spec's likelihood is not categorical or Bernoulli"
        case .testDataLacksAnswers(let labels):
            return "the test data has no \(labels ? "labels" : "targets") to evaluate against"
        case .validationLeavesNothing(let f, let examples, let kept):
            return "`data.validation: {fraction: \(f)}` of \(examples) training examples leaves \(kept < 1 ? "none to train on" : "none to validate on")"
        case .earlyStoppingWithoutValidation:
            return "`train.early_stopping` watches the validation NLL, but the spec has no `data.validation` (e.g. `validation: {fraction: 0.1}`)"
        case .data(let e): return e.description
        case .mismatch(let m): return m.description
        case .plan(let e): return e.description
        case .weightsUnreadable(let e): return e.description
        case .resumeUnreadable(let folder, let e): return "cannot resume from \(folder): \(e)"
        case .resumeOtherSpec(let folder, let theirs, let ours):
            return "cannot resume: \(folder) holds a run of a different spec (sha256 \(theirs.prefix(12))…, this spec \(ours.prefix(12))…); use --force to resume anyway"
        case .folderHoldsRun(let folder, let holding):
            return "\(folder) holds \(holding); choose another folder with --out, or replace it with --force"
        case .folderUnwritable(let folder, let reason): return "cannot write to the run folder \(folder): \(reason)"
        case .trainingStopped(let e, let folder):
            return folder.isEmpty ? "training stopped: \(e)" : "training stopped: \(e); the last good checkpoint is kept in \(folder)"
        case .gradientsUnwritable(let e): return "cannot write the gradients: \(e)"
        case .bestCheckpointUnreadable(let e): return "cannot restore the best epoch's weights: \(e)"
        case .rankSpecMismatch(let rank, let ranks, let theirs, let ours):
            return "rank \(rank) of \(ranks) read a different spec than rank 0 (sha256 \(theirs.prefix(12))…, rank 0 \(ours.prefix(12))…; data paths count, made absolute): every rank must read the same spec and data"
        case .rankFailed(let rank, let ranks, let message):
            return rank.map { "rank \($0) of \(ranks): \(message)" } ?? message
        case .launchedByMPIWithoutTrait:
            return "this bayesnet was built without MPI, but it was started by an MPI launcher; build it with `swift build -c release --traits MPI`"
        case .mpiInitFailed: return "MPI_Init_thread failed"
        }
    }
}
