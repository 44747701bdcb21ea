import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// Command-line settings of `bayesnet run` that override the spec or place its output.
public struct RunOptions: Sendable {
    /// The run folder; default `runs/<spec name>/`.
    public var outputDirectory: String?
    public var epochs: Int?
    public var seed: UInt64?
    /// Continue the run whose checkpoint is in this folder (which becomes the output folder).
    public var resume: String?
    /// Overwrite a folder that holds another spec's run.
    public var force: Bool
    /// Stop after this many epochs of this invocation (tests use it to interrupt a run cleanly).
    public var stopAfterEpochs: Int?
    /// Bounds on the data and checkpoint files read (`--max-file-size`, `--memory-budget`).
    public var limits: DataLimits
    /// The ranks training together; rank 0 writes the run folder.
    public var communicator: any Communicator = SingleProcess.shared
    /// Where to write the gradients of the first step this run takes, summed across ranks (checks that N ranks
    /// compute what one does, from the start or from a resumed checkpoint).
    public var gradientsPath: String?

    public init(outputDirectory: String? = nil, epochs: Int? = nil, seed: UInt64? = nil, resume: String? = nil,
                force: Bool = false, stopAfterEpochs: Int? = nil, limits: DataLimits = .default) {
        self.outputDirectory = outputDirectory
        self.epochs = epochs
        self.seed = seed
        self.resume = resume
        self.force = force
        self.stopAfterEpochs = stopAfterEpochs
        self.limits = limits
    }
}

/// Callbacks for the terminal: a progress bar or one line per epoch.
public struct RunProgress {
    public var message: (String) -> Void = { _ in }
    /// Something the user must see even with `--quiet` (a diverging loss).
    public var warning: (String) -> Void = { _ in }
    /// (total epochs, epochs already done, steps per epoch)
    public var started: (Int, Int, Int) -> Void = { _, _, _ in }
    /// (epoch being trained, 1-based; step within it; steps per epoch; running mean loss)
    public var step: (Int, Int, Int, Double) -> Void = { _, _, _, _ in }
    /// (metrics, total epochs)
    public var epochFinished: (EpochMetrics, Int) -> Void = { _, _ in }
    public init() {}
}

public struct RunResult: Sendable {
    public var directory: String
    public var seed: UInt64
    public var epochs: [EpochMetrics]
    public var evaluation: EvaluationResult?
    public var wallSeconds: Double
    public var trainSeconds: Double
}

/// `bayesnet run`: data, run folder, training with a checkpoint every epoch, evaluation, summary.
public enum Runner {
    public static func run(spec: ModelSpec, options: RunOptions, progress: RunProgress = RunProgress()) throws -> RunResult {
        if spec.likelihood == nil { throw RunError.noLikelihood }
        let classes = spec.labelClasses
        guard let trainSource = spec.data.train else {
            throw RunError.noTrainingData
        }
        let train: Dataset, test: Dataset?, validation: Dataset?
        do {
            // A rank that cannot read its data stops every rank.
            (train, test, validation) = try options.communicator.agree { () throws -> (Dataset, Dataset?, Dataset?) in
                var train = try DataLoader.load(trainSource, spec: spec, classes: classes, limits: options.limits)
                let test = try spec.data.test.map { try DataLoader.load($0, spec: spec, classes: classes, limits: options.limits) }
                var validation: Dataset?
                switch spec.data.validation {
                case nil: break
                case .fraction(let f)?:
                    // As Keras's validation_split: the last examples, before any shuffling.
                    let kept = ValidationSource.trainedExamples(of: train.count, holdingOut: f)
                    guard kept >= 1, kept < train.count else {
                        throw RunError.validationLeavesNothing(fraction: f, examples: train.count, kept: kept)
                    }
                    (train, validation) = train.split(at: kept)
                case .source(let source)?:
                    validation = try DataLoader.load(source, spec: spec, classes: classes, limits: options.limits)
                }
                return (train, test, validation)
            }
        } catch {
            throw RunError.wrapping(error)
        }
        return try run(spec: spec, train: train, test: test, validation: validation, options: options, progress: progress)
    }

    public static func run(spec: ModelSpec, train: Dataset, test: Dataset?, validation: Dataset? = nil,
                           options: RunOptions, progress: RunProgress = RunProgress()) throws -> RunResult {
        // Everything the data can be refused for is found before the run folder is made.
        if spec.likelihood == nil { throw RunError.noLikelihood }
        do {
            try options.communicator.agree {
                try TrainingSession<Float>.check(train, spec: spec, role: .training)
                if let test { try TrainingSession<Float>.check(test, spec: spec, role: .test) }
                if let validation { try TrainingSession<Float>.check(validation, spec: spec, role: .validation) }
                if spec.train.earlyStopping != nil, validation == nil {
                    throw RunError.earlyStoppingWithoutValidation
                }
            }
        } catch {
            throw RunError.wrapping(error)
        }
        switch spec.dtype {
        case .float32: return try RunDriver<Float>(spec: spec, train: train, test: test, validation: validation, options: options, progress: progress).run()
        case .float64: return try RunDriver<Double>(spec: spec, train: train, test: test, validation: validation, options: options, progress: progress).run()
        }
    }

    /// The hash of the spec as its run folder keeps it (data paths made absolute).
    public static func specHash(_ spec: ModelSpec) -> String { SHA256.hex(SpecCopy.text(of: spec)) }
}

/// Flags a loss that grew by orders of magnitude: finite, so nothing else stops the run, yet its result is junk.
struct DivergenceWatch {
    /// How many times its lowest value the loss may reach before the run counts as diverged.
    static let factor = 100.0
    private var lowest: (loss: Double, epoch: Int)?
    /// The first warning given; later epochs do not repeat it.
    private(set) var warning: String?

    /// The loss of the run's first step: a run that diverges within its first epoch has no earlier epoch.
    mutating func started(loss: Double) {
        if lowest == nil, loss.isFinite, loss > 0 { lowest = (loss, 0) }
    }

    /// Returns a warning the first time an epoch's loss exceeds `factor` times the lowest seen.
    mutating func epochEnded(_ epoch: Int, loss: Double) -> String? {
        guard loss.isFinite else { return nil }
        if let low = lowest, warning == nil, low.loss > 0, loss > Self.factor * low.loss {
            let since = low.epoch == 0 ? "the first step's" : "epoch \(low.epoch)'s"
            warning = String(format: "training diverged: the loss of epoch %d is %.3g, %.0f times %@ %.3g; lower the learning rate, or check the data's scale", epoch, loss, loss / low.loss, since, low.loss)
            return warning
        }
        if loss > 0, lowest.map({ loss < $0.loss }) ?? true { lowest = (loss, epoch) }
        return nil
    }
}

/// Keras's EarlyStopping on the validation NLL: the best epoch so far and how long since it.
struct EarlyStoppingWatch {
    let settings: EarlyStopping
    private(set) var best: (nll: Double, epoch: Int)?
    private(set) var waited = 0

    var shouldStop: Bool { waited >= settings.patience }

    /// Records an epoch's validation NLL; true when it is the new best.
    mutating func epochEnded(_ epoch: Int, validationNLL nll: Double) -> Bool {
        if let b = best, !(nll < b.nll - settings.minDelta) {
            waited += 1
            return false
        }
        best = (nll, epoch)
        waited = 0
        return true
    }
}

/// The files `bayesnet run` writes into a run folder.
public enum RunFolderFiles {
    /// What a run produces; a folder holding any of them holds a run.
    public static let results = ["checkpoint.safetensors", "metrics.jsonl", "summary.json", "predictions.csv", "test-inputs.npy",
                                 bestCheckpoint]
    /// A folder holding one of these holds a run that could be resumed or reported.
    static let held = ["checkpoint.safetensors", "summary.json"]
    /// The weights of the epoch with the lowest validation NLL, kept by early stopping.
    public static let bestCheckpoint = "best-checkpoint.safetensors"
    /// Drawn from the results by `bayesnet report`, so stale once they change.
    public static let report = "report.html"
}

/// Writes a file through a temporary name and a rename.
func writeAtomically(_ text: String, to path: String) throws {
    try AtomicFile.write(Array(text.utf8), to: path)
}

final class RunDriver<S: TensorScalar> {
    let spec: ModelSpec
    let train: Dataset
    let test: Dataset?
    let validation: Dataset?
    let options: RunOptions
    let progress: RunProgress
    let directory: String
    /// The spec as the run folder and checkpoint keep it.
    let specText: String
    let hash: String

    init(spec: ModelSpec, train: Dataset, test: Dataset?, validation: Dataset?, options: RunOptions, progress: RunProgress) {
        self.spec = spec
        self.train = train
        self.test = test
        self.validation = validation
        self.options = options
        self.progress = progress
        directory = RunDriver.freshDirectory(for: spec, options: options)
        specText = SpecCopy.text(of: spec)
        hash = SHA256.hex(specText)
    }

    func path(_ file: String) -> String { (directory as NSString).appendingPathComponent(file) }

    var communicator: any Communicator { options.communicator }
    /// Rank 0 alone writes the run folder; every rank reads what it needs (checkpoints) from it.
    var writes: Bool { communicator.rank == 0 }

    /// What a folder already holds of an earlier run, described for a refusal; nil when it holds none.
    static func existingRun(in directory: String, limits: DataLimits) -> String? {
        let fm = FileManager.default
        func path(_ file: String) -> String { (directory as NSString).appendingPathComponent(file) }
        // Metrics without a checkpoint are an epoch cut short: nothing that could be resumed or reported.
        guard RunFolderFiles.held.contains(where: { fm.fileExists(atPath: path($0)) }) else { return nil }
        if let data = fm.contents(atPath: path("summary.json")),
           let summary = try? RunFolderJSON.decoder().decode(RunSummary.self, from: data) {
            let epochs = summary.epochs ?? 0
            let seed = summary.seed.map { "\($0)" } ?? "?"
            return "a finished run (\(epochs) epoch\(epochs == 1 ? "" : "s"), seed \(seed)) whose checkpoint, metrics and summary would be lost"
        }
        if let (_, info) = try? CheckpointIO.read(path: path("checkpoint.safetensors"), limits: limits) {
            return "a partial run stopped after epoch \(info.epoch) (seed \(info.seed)); continue it with --resume \(directory)"
        }
        return "the checkpoint of an earlier run that does not load"
    }

    /// The folder a new run writes to: `--out` as given, else `runs/<name>`, or `runs/<name>-2`, `-3`, ... when
    /// that already holds a run, so re-running a spec never replaces an earlier result.
    static func freshDirectory(for spec: ModelSpec, options: RunOptions) -> String {
        if let out = options.resume ?? options.outputDirectory { return out }
        let base = "runs/\(spec.name)"
        if options.force || existingRun(in: base, limits: options.limits) == nil { return base }
        var k = 2
        while existingRun(in: "\(base)-\(k)", limits: options.limits) != nil { k += 1 }
        return "\(base)-\(k)"
    }

    func run() throws -> RunResult {
        let started = Date()
        let fm = FileManager.default
        try agreeOnSpec()
        // Nothing is written until every rank has its checkpoint and knows the folder may be used.
        let resumeFrom = try communicator.agree { () throws -> (entries: [SafeTensors.Entry], info: CheckpointInfo)? in
            if let resume = options.resume {
                let resumeFrom: (entries: [SafeTensors.Entry], info: CheckpointInfo)
                do throws(CheckpointError) {
                    resumeFrom = try CheckpointIO.read(path: path("checkpoint.safetensors"), limits: options.limits)
                } catch {
                    throw RunError.resumeUnreadable(folder: resume, error)
                }
                if resumeFrom.info.specSHA256 != hash && !options.force {
                    throw RunError.resumeOtherSpec(folder: resume, checkpointSHA256: resumeFrom.info.specSHA256, specSHA256: hash)
                }
                return resumeFrom
            } else if writes, let existing = RunDriver.existingRun(in: directory, limits: options.limits) {
                guard options.force else {
                    throw RunError.folderHoldsRun(folder: directory, holding: existing)
                }
            }
            return nil
        }
        try communicator.agree {
            guard writes else { return }
            do {
                try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
                // A new run replaces every result of the old one; a resumed run makes its report stale.
                for file in options.resume == nil ? RunFolderFiles.results + [RunFolderFiles.report] : [RunFolderFiles.report]
                where fm.fileExists(atPath: path(file)) {
                    try fm.removeItem(atPath: path(file))
                }
                try writeAtomically(specText, to: path("spec.yaml"))
            } catch {
                throw RunError.folderUnwritable(folder: directory, reason: "\(error)")
            }
        }

        let seed: UInt64
        if let info = resumeFrom?.info {
            seed = info.seed
        } else if let s = options.seed ?? spec.seed {
            seed = s
        } else {
            // Rank 0's draw serves every rank.
            seed = UInt64(communicator.gather(String(UInt64.random(in: 0..<(1 << 31))))[0])!
            progress.message("seed: \(seed) (drawn; pass --seed \(seed) to repeat this run)")
        }

        let session: TrainingSession<S>
        do {
            session = try communicator.agree {
                try TrainingSession<S>(spec: spec, seed: seed, train: train, test: test, validation: validation,
                                       communicator: communicator)
            }
        } catch {
            throw RunError.wrapping(error)
        }
        var lines: [EpochMetrics] = []
        var lineTexts: [String] = []
        /// The epochs a resumed checkpoint holds, as metrics.jsonl recorded them.
        var keptLines: [EpochMetrics] = []
        var secondsOffset = 0.0
        var final: (loss: Double, nll: Double, kl: Double)?
        if let (entries, info) = resumeFrom {
            try communicator.agree {
                do throws(CheckpointError) {
                    try CheckpointIO.restore(session.network, from: entries, optimizer: true, path: path("checkpoint.safetensors"))
                } catch {
                    throw RunError.resumeUnreadable(folder: directory, error)
                }
            }
            session.step = info.step
            session.epoch = info.epoch
            // Keep the metrics of the epochs the checkpoint holds; a later line belongs to a lost epoch.
            if let text = fm.contents(atPath: path("metrics.jsonl")).flatMap({ String(data: $0, encoding: .utf8) }) {
                let decoder = RunFolderJSON.decoder()
                for line in text.split(separator: "\n") {
                    guard let kept = try? decoder.decode(EpochMetrics.self, from: Data(line.utf8)),
                          kept.epoch <= info.epoch else { continue }
                    keptLines.append(kept)
                    lineTexts.append(String(line))
                    secondsOffset = max(secondsOffset, kept.seconds)
                    final = (kept.loss, kept.nll, kept.kl)
                }
            }
            progress.message("resuming \(directory) at epoch \(info.epoch), step \(info.step)\(communicator.size > 1 ? " on \(communicator.size) ranks" : "")")
            noteCheckpoint(epoch: info.epoch)
        }
        var gradientsFailure: FileWriteError?
        if writes, let gradientsPath = options.gradientsPath {
            var written = false
            session.onGradients = { [unowned session] network in
                guard !written else { return }
                written = true
                var entries: [SafeTensors.Entry] = []
                for p in network.parameters {
                    entries.append(.init(name: p.name, dtype: CheckpointIO.dtype(S.self), shape: p.shape,
                                         bytes: CheckpointIO.bytes(p.gradient.pointer, count: p.count)))
                }
                do throws(FileWriteError) {
                    try AtomicFile.write(SafeTensors.encode(entries, metadata: ["ranks": String(session.communicator.size)]),
                                         to: gradientsPath)
                } catch {
                    gradientsFailure = error
                }
            }
        }

        let epochs = options.epochs ?? spec.train.epochs
        progress.started(epochs, session.epoch, session.stepsPerEpoch)
        var firstStepLoss: Double?
        session.onStep = { [progress, unowned session] s, steps, loss in
            if firstStepLoss == nil { firstStepLoss = loss }
            progress.step(session.epoch + 1, s, steps, loss)
        }
        let trainStart = Date()
        var trainedThisRun = 0
        var divergence = DivergenceWatch()
        var stopping = spec.train.earlyStopping.map { EarlyStoppingWatch(settings: $0) }
        for kept in keptLines {
            _ = divergence.epochEnded(kept.epoch, loss: kept.loss)
            if let nll = kept.validationNll { _ = stopping?.epochEnded(kept.epoch, validationNLL: nll) }
        }
        while session.epoch < epochs, stopping?.shouldStop != true {
            if let stop = options.stopAfterEpochs, trainedThisRun >= stop { break }
            var m: EpochMetrics
            do {
                m = try session.runEpoch()
            } catch let error as TrainingError {
                // Every rank sees the same error: the figures that fail are summed across ranks first.
                throw RunError.trainingStopped(error, folder: directory)
            }
            if let gradientsFailure { throw RunError.gradientsUnwritable(gradientsFailure) }
            trainedThisRun += 1
            final = (m.loss, m.nll, m.kl)
            m.seconds = secondsOffset + Date().timeIntervalSince(started)
            lines.append(m)
            lineTexts.append(RunFolderJSON.text(m))
            if let first = firstStepLoss { divergence.started(loss: first) }
            let warning = divergence.epochEnded(session.epoch, loss: m.loss)
            let improved = m.validationNll.map { stopping?.epochEnded(session.epoch, validationNLL: $0) ?? false } ?? false
            try writeFolder {
                if improved {
                    let info = CheckpointInfo(step: session.step, epoch: session.epoch, seed: seed, specSHA256: hash, specText: specText)
                    try AtomicFile.write(CheckpointIO.encode(network: session.network, info: info, includeOptimizer: false),
                                         to: path(RunFolderFiles.bestCheckpoint))
                }
                // metrics first: a resumed run drops lines past the checkpoint's epoch.
                try writeAtomically(lineTexts.joined(separator: "\n") + "\n", to: path("metrics.jsonl"))
                let info = CheckpointInfo(step: session.step, epoch: session.epoch, seed: seed, specSHA256: hash,
                                          specText: specText)
                try AtomicFile.write(CheckpointIO.encode(network: session.network, info: info, includeOptimizer: true),
                                     to: path("checkpoint.safetensors"))
            }
            noteCheckpoint(epoch: session.epoch)
            progress.epochFinished(m, epochs)
            if let warning { progress.warning(warning) }
        }
        let trainSeconds = Date().timeIntervalSince(trainStart)
        let stoppedEarly = stopping?.shouldStop == true && session.epoch < epochs
        if stoppedEarly { progress.message("early stopping after epoch \(session.epoch): the validation NLL last improved at epoch \(stopping!.best!.epoch)") }
        if session.epoch < epochs && !stoppedEarly {
            return RunResult(directory: directory, seed: seed, epochs: lines, evaluation: nil,
                             wallSeconds: Date().timeIntervalSince(started), trainSeconds: trainSeconds)
        }

        // The evaluation is of the best epoch's weights when early stopping watched the run.
        if let best = stopping?.best, best.epoch != session.epoch {
            try communicator.agree {
                do throws(CheckpointError) {
                    let (entries, _) = try CheckpointIO.read(path: path(RunFolderFiles.bestCheckpoint), limits: options.limits)
                    try CheckpointIO.restore(session.network, from: entries, optimizer: false, path: path(RunFolderFiles.bestCheckpoint))
                } catch {
                    throw RunError.bestCheckpointUnreadable(error)
                }
            }
        }
        var evaluation: EvaluationResult?
        if let test {
            let result = Evaluation.evaluate(session.network, data: test, samples: spec.evaluate.samples,
                                             communicator: communicator)
            evaluation = result
            try writeFolder {
                if let csv = result.predictionsCSV { try writeAtomically(csv, to: path("predictions.csv")) }
                try NPY.writeFloat32(test.inputs, shape: [test.count] + spec.input.shape, to: path("test-inputs.npy"))
            }
        }
        let wall = Date().timeIntervalSince(started)
        let layers = spec.layerSummaries
        var summary = RunSummary(
            name: spec.name, seed: seed, specSha256: hash, threads: Runtime.threadCount, ranks: communicator.size,
            wallSeconds: wall, trainSeconds: trainSeconds, epochs: session.epoch, steps: session.step,
            trainingExamples: train.count,
            final: final.map { RunSummary.FinalFigures(loss: $0.loss, nll: $0.nll, kl: $0.kl) },
            evaluation: evaluation?.summary, warnings: divergence.warning.map { [$0] } ?? [],
            layers: layers.map { l in
                RunSummary.LayerRow(name: l.name, type: l.typeName, outputShape: l.outputShape, parameters: l.parameters,
                                    macs: l.macs, penaltyWeight: l.penaltyWeight?.resolved(trainingExamples: train.count))
            },
            totals: .init(parameters: layers.reduce(0) { $0 + $1.parameters }, macs: layers.reduce(0) { $0 + $1.macs }))
        if session.reducedSteps > 0 {
            let bytes = session.network.parameters.reduce(0) { $0 + $1.count } * session.reducedScalarSize
            summary.allreduce = .init(steps: session.reducedSteps, bytesPerStep: bytes,
                                      msPerStep: Double(session.reduceNanoseconds) / 1e6 / Double(session.reducedSteps))
        }
        if let stopping, let best = stopping.best {
            summary.earlyStopping = .init(bestEpoch: best.epoch, bestValidationNll: best.nll,
                                          stoppedAfterEpoch: stoppedEarly ? session.epoch : nil)
        }
        try writeFolder {
            try writeAtomically(RunFolderJSON.text(summary, indent: 2), to: path("summary.json"))
        }
        return RunResult(directory: directory, seed: seed, epochs: lines, evaluation: evaluation, wallSeconds: wall,
                         trainSeconds: trainSeconds)
    }

    /// Rank 0's writes into the run folder; the other ranks skip them.
    func writeFolder(_ body: () throws -> Void) throws {
        guard writes else { return }
        do {
            try body()
        } catch {
            throw RunError.folderUnwritable(folder: directory, reason: "\(error)")
        }
    }

    /// Every rank must train the same spec: one whose file or data paths differ stops the job before training.
    func agreeOnSpec() throws {
        guard communicator.size > 1 else { return }
        let hashes = communicator.gather(hash)
        if let r = hashes.firstIndex(where: { $0 != hashes[0] }) {
            throw RunError.rankSpecMismatch(rank: r, ranks: communicator.size, sha256: hashes[r], rankZeroSHA256: hashes[0])
        }
    }

    /// What rank 0 prints if mpirun stops the job after a rank died: the run goes on from the last checkpoint.
    func noteCheckpoint(epoch: Int) {
        guard communicator.size > 1 else { return }
        communicator.setInterruptionNote("bayesnet: the job was stopped (a rank ended or mpirun was interrupted); the checkpoint of epoch \(epoch) in \(directory) is intact: continue with `bayesnet run SPEC --resume \(directory)`, on any number of ranks")
    }
}
