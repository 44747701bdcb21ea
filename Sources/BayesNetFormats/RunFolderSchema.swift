import Foundation

// The JSON files of a run folder (docs/run-folder.md), one set of types for the writer (`bayesnet run`, `evaluate`),
// the resume code and the report. Encoded and decoded by `RunFolderJSON`: property names in snake case, in
// declaration order. Optional fields stay optional so that a report can still be drawn from a regression run
// or an older run that lacks some of them.

/// One line of `metrics.jsonl`: one finished epoch.
public struct EpochMetrics: Codable, Sendable, Equatable {
    public var epoch: Int
    /// Optimizer steps so far.
    public var step: Int
    /// NaN when the run diverged (written as null).
    public var loss: Double
    public var nll: Double
    public var kl: Double
    public var trainAccuracy: Double?
    public var testAccuracy: Double?
    public var testNll: Double?
    public var validationAccuracy: Double?
    public var validationNll: Double?
    /// The learning rate at the epoch's last step, when a schedule moves it.
    public var learningRate: Double?
    /// The KL term's weight at the epoch's last step, while KL annealing raises it.
    public var klWeight: Double?
    /// Wall time since the run started, rounded to milliseconds when written.
    public var seconds: Double

    public init(epoch: Int, step: Int, loss: Double, nll: Double, kl: Double, trainAccuracy: Double? = nil,
                testAccuracy: Double? = nil, testNll: Double? = nil, validationAccuracy: Double? = nil,
                validationNll: Double? = nil, learningRate: Double? = nil, klWeight: Double? = nil, seconds: Double = 0) {
        self.epoch = epoch
        self.step = step
        self.loss = loss
        self.nll = nll
        self.kl = kl
        self.trainAccuracy = trainAccuracy
        self.testAccuracy = testAccuracy
        self.testNll = testNll
        self.validationAccuracy = validationAccuracy
        self.validationNll = validationNll
        self.learningRate = learningRate
        self.klWeight = klWeight
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case epoch, step, loss, nll, kl, trainAccuracy, testAccuracy, testNll, validationAccuracy, validationNll,
             learningRate, klWeight, seconds
    }

    /// null (a non-finite figure) reads back as NaN; `step` and `seconds` default for hand-made lines.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func figure(_ key: CodingKeys) throws -> Double { try c.decodeIfPresent(Double.self, forKey: key) ?? .nan }
        epoch = try c.decode(Int.self, forKey: .epoch)
        step = try c.decodeIfPresent(Int.self, forKey: .step) ?? 0
        loss = try figure(.loss)
        nll = try figure(.nll)
        kl = try figure(.kl)
        trainAccuracy = try c.decodeIfPresent(Double.self, forKey: .trainAccuracy)
        testAccuracy = try c.decodeIfPresent(Double.self, forKey: .testAccuracy)
        testNll = try c.decodeIfPresent(Double.self, forKey: .testNll)
        validationAccuracy = try c.decodeIfPresent(Double.self, forKey: .validationAccuracy)
        validationNll = try c.decodeIfPresent(Double.self, forKey: .validationNll)
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate)
        klWeight = try c.decodeIfPresent(Double.self, forKey: .klWeight)
        seconds = try c.decodeIfPresent(Double.self, forKey: .seconds) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(step, forKey: .step)
        try c.encode(loss, forKey: .loss)
        try c.encode(nll, forKey: .nll)
        try c.encode(kl, forKey: .kl)
        try c.encodeIfPresent(trainAccuracy, forKey: .trainAccuracy)
        try c.encodeIfPresent(testAccuracy, forKey: .testAccuracy)
        try c.encodeIfPresent(testNll, forKey: .testNll)
        try c.encodeIfPresent(validationAccuracy, forKey: .validationAccuracy)
        try c.encodeIfPresent(validationNll, forKey: .validationNll)
        try c.encodeIfPresent(learningRate, forKey: .learningRate)
        try c.encodeIfPresent(klWeight, forKey: .klWeight)
        try c.encode((seconds * 1000).rounded() / 1000, forKey: .seconds)
    }
}

/// `summary.json`: the final figures and the run's settings.
public struct RunSummary: Codable, Sendable, Equatable {
    public var name: String
    /// Written as a number up to Int.max and as a string beyond it.
    public var seed: UInt64?
    public var specSha256: String?
    public var threads: Int?
    /// Processes that trained the run (`mpirun -np`).
    public var ranks: Int?
    public var wallSeconds: Double?
    public var trainSeconds: Double?
    public var epochs: Int?
    public var steps: Int?
    public var trainingExamples: Int?
    /// With more than one rank: the gradient sums of this invocation.
    public var allreduce: Allreduce?
    public var final: FinalFigures?
    public var evaluation: Evaluation?
    /// What the run flagged about itself, such as a diverging loss; written only when there is one.
    public var warnings: [String]
    public var earlyStopping: EarlyStopping?
    public var layers: [LayerRow]
    public var totals: Totals?

    public init(name: String, seed: UInt64?, specSha256: String?, threads: Int?, ranks: Int?, wallSeconds: Double?,
                trainSeconds: Double?, epochs: Int?, steps: Int?, trainingExamples: Int?, allreduce: Allreduce? = nil,
                final: FinalFigures? = nil, evaluation: Evaluation? = nil, warnings: [String] = [],
                earlyStopping: EarlyStopping? = nil, layers: [LayerRow], totals: Totals?) {
        self.name = name
        self.seed = seed
        self.specSha256 = specSha256
        self.threads = threads
        self.ranks = ranks
        self.wallSeconds = wallSeconds
        self.trainSeconds = trainSeconds
        self.epochs = epochs
        self.steps = steps
        self.trainingExamples = trainingExamples
        self.allreduce = allreduce
        self.final = final
        self.evaluation = evaluation
        self.warnings = warnings
        self.earlyStopping = earlyStopping
        self.layers = layers
        self.totals = totals
    }

    public struct Allreduce: Codable, Sendable, Equatable {
        public var steps: Int
        public var bytesPerStep: Int
        /// Mean time in the gradient sum, waiting for the slowest rank included.
        public var msPerStep: Double
        public init(steps: Int, bytesPerStep: Int, msPerStep: Double) {
            self.steps = steps
            self.bytesPerStep = bytesPerStep
            self.msPerStep = msPerStep
        }
    }

    public struct FinalFigures: Codable, Sendable, Equatable {
        public var loss: Double?
        public var nll: Double?
        public var kl: Double?
        public init(loss: Double?, nll: Double?, kl: Double?) {
            self.loss = loss
            self.nll = nll
            self.kl = kl
        }
    }

    public struct Evaluation: Codable, Sendable, Equatable {
        public var samples: Int?
        public var examples: Int?
        public var predictive: Figures?
        public var posteriorMean: Figures?
        public var reliability: Reliability?
        public init(samples: Int?, examples: Int?, predictive: Figures?, posteriorMean: Figures?, reliability: Reliability?) {
            self.samples = samples
            self.examples = examples
            self.predictive = predictive
            self.posteriorMean = posteriorMean
            self.reliability = reliability
        }
    }

    /// A classifier fills accuracy, nll, ece, brier, entropy and mutual information; a regression rmse, nll,
    /// predictive std, crps and (for the predictive) coverage. The declaration order is the written order of both.
    public struct Figures: Codable, Sendable, Equatable {
        public var accuracy: Double?
        public var rmse: Double?
        public var nll: Double?
        public var ece: Double?
        public var brier: Double?
        public var entropy: Double?
        public var mutualInformation: Double?
        public var predictiveStd: Double?
        public var crps: Double?
        public var coverage: Coverage?
        public init(accuracy: Double? = nil, rmse: Double? = nil, nll: Double? = nil, ece: Double? = nil,
                    brier: Double? = nil, entropy: Double? = nil, mutualInformation: Double? = nil,
                    predictiveStd: Double? = nil, crps: Double? = nil, coverage: Coverage? = nil) {
            self.accuracy = accuracy
            self.rmse = rmse
            self.nll = nll
            self.ece = ece
            self.brier = brier
            self.entropy = entropy
            self.mutualInformation = mutualInformation
            self.predictiveStd = predictiveStd
            self.crps = crps
            self.coverage = coverage
        }
    }

    /// Regression: the observed share of test targets inside each central predictive interval.
    public struct Coverage: Codable, Sendable, Equatable {
        public var levels: [Double]
        public var observed: [Double]
        public init(levels: [Double], observed: [Double]) {
            self.levels = levels
            self.observed = observed
        }
    }

    public struct Reliability: Codable, Sendable, Equatable {
        /// Runs write 15; a report draws every bin, so it bounds the count.
        public var bins: Int
        /// Bin means; `nil` for an empty bin.
        public var confidence: [Double?]
        public var accuracy: [Double?]
        public var count: [Int]
        public init(bins: Int, confidence: [Double?], accuracy: [Double?], count: [Int]) {
            self.bins = bins
            self.confidence = confidence
            self.accuracy = accuracy
            self.count = count
        }
    }

    public struct EarlyStopping: Codable, Sendable, Equatable {
        public var bestEpoch: Int
        public var bestValidationNll: Double
        /// nil (written as null) when every epoch ran.
        public var stoppedAfterEpoch: Int?
        public init(bestEpoch: Int, bestValidationNll: Double, stoppedAfterEpoch: Int?) {
            self.bestEpoch = bestEpoch
            self.bestValidationNll = bestValidationNll
            self.stoppedAfterEpoch = stoppedAfterEpoch
        }
        enum CodingKeys: String, CodingKey { case bestEpoch, bestValidationNll, stoppedAfterEpoch }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(bestEpoch, forKey: .bestEpoch)
            try c.encode(bestValidationNll, forKey: .bestValidationNll)
            if let stoppedAfterEpoch { try c.encode(stoppedAfterEpoch, forKey: .stoppedAfterEpoch) } else {
                try c.encodeNil(forKey: .stoppedAfterEpoch)
            }
        }
    }

    public struct LayerRow: Codable, Sendable, Equatable {
        public var name: String
        public var type: String
        public var outputShape: [Int]
        public var parameters: Int
        public var macs: Int
        /// `nil` for deterministic layers, which carry no KL penalty.
        public var penaltyWeight: Double?
        public init(name: String, type: String, outputShape: [Int], parameters: Int, macs: Int, penaltyWeight: Double?) {
            self.name = name
            self.type = type
            self.outputShape = outputShape
            self.parameters = parameters
            self.macs = macs
            self.penaltyWeight = penaltyWeight
        }
    }

    public struct Totals: Codable, Sendable, Equatable {
        public var parameters: Int
        public var macs: Int
        public init(parameters: Int, macs: Int) {
            self.parameters = parameters
            self.macs = macs
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, seed, specSha256, threads, ranks, wallSeconds, trainSeconds, epochs, steps, trainingExamples,
             allreduce, final, evaluation, warnings, earlyStopping, layers, totals
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        if let n = try? c.decodeIfPresent(UInt64.self, forKey: .seed) {
            seed = n
        } else if let text = try c.decodeIfPresent(String.self, forKey: .seed) {
            guard let n = UInt64(text) else {
                throw DecodingError.dataCorruptedError(forKey: .seed, in: c, debugDescription: "not a seed: \"\(text)\"")
            }
            seed = n
        } else {
            seed = nil
        }
        specSha256 = try c.decodeIfPresent(String.self, forKey: .specSha256)
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
        ranks = try c.decodeIfPresent(Int.self, forKey: .ranks)
        wallSeconds = try c.decodeIfPresent(Double.self, forKey: .wallSeconds)
        trainSeconds = try c.decodeIfPresent(Double.self, forKey: .trainSeconds)
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs)
        steps = try c.decodeIfPresent(Int.self, forKey: .steps)
        trainingExamples = try c.decodeIfPresent(Int.self, forKey: .trainingExamples)
        allreduce = try c.decodeIfPresent(Allreduce.self, forKey: .allreduce)
        final = try c.decodeIfPresent(FinalFigures.self, forKey: .final)
        evaluation = try c.decodeIfPresent(Evaluation.self, forKey: .evaluation)
        warnings = (try? c.decodeIfPresent([String].self, forKey: .warnings)) ?? []
        earlyStopping = try c.decodeIfPresent(EarlyStopping.self, forKey: .earlyStopping)
        layers = try c.decodeIfPresent([LayerRow].self, forKey: .layers) ?? []
        totals = try c.decodeIfPresent(Totals.self, forKey: .totals)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        if let seed {
            if seed <= UInt64(Int.max) { try c.encode(Int(seed), forKey: .seed) } else { try c.encode(String(seed), forKey: .seed) }
        }
        try c.encodeIfPresent(specSha256, forKey: .specSha256)
        try c.encodeIfPresent(threads, forKey: .threads)
        try c.encodeIfPresent(ranks, forKey: .ranks)
        try c.encodeIfPresent(wallSeconds.map { ($0 * 1000).rounded() / 1000 }, forKey: .wallSeconds)
        try c.encodeIfPresent(trainSeconds.map { ($0 * 1000).rounded() / 1000 }, forKey: .trainSeconds)
        try c.encodeIfPresent(epochs, forKey: .epochs)
        try c.encodeIfPresent(steps, forKey: .steps)
        try c.encodeIfPresent(trainingExamples, forKey: .trainingExamples)
        try c.encodeIfPresent(allreduce, forKey: .allreduce)
        try c.encodeIfPresent(final, forKey: .final)
        try c.encodeIfPresent(evaluation, forKey: .evaluation)
        if !warnings.isEmpty { try c.encode(warnings, forKey: .warnings) }
        try c.encodeIfPresent(earlyStopping, forKey: .earlyStopping)
        try c.encode(layers, forKey: .layers)
        try c.encodeIfPresent(totals, forKey: .totals)
    }

    /// True when the evaluation is a classifier's (it has an accuracy), so predictions.csv is expected.
    public var isCategorical: Bool { evaluation?.predictive?.accuracy != nil }
}

/// `ood.json`, written by `bayesnet evaluate --ood`.
public struct OODStudy: Codable, Sendable, Equatable {
    public struct Scores: Codable, Sendable, Equatable {
        /// nil for a score that is not finite.
        public var entropy: [Double?]
        public var mutualInformation: [Double?]
        public init(entropy: [Double?], mutualInformation: [Double?]) {
            self.entropy = entropy
            self.mutualInformation = mutualInformation
        }
    }
    public struct Separation: Codable, Sendable, Equatable {
        public var auroc: Double?
        public var aupr: Double?
        public init(auroc: Double?, aupr: Double?) {
            self.auroc = auroc
            self.aupr = aupr
        }
    }
    public var inExamples: Int?
    public var outExamples: Int?
    public var entropy: Separation
    public var mutualInformation: Separation
    public var `in`: Scores
    public var out: Scores

    public init(inExamples: Int?, outExamples: Int?, entropy: Separation, mutualInformation: Separation, in: Scores, out: Scores) {
        self.inExamples = inExamples
        self.outExamples = outExamples
        self.entropy = entropy
        self.mutualInformation = mutualInformation
        self.in = `in`
        self.out = out
    }
}

/// `shift.json`, written by `bayesnet evaluate --shift`.
public struct ShiftStudy: Codable, Sendable, Equatable {
    public struct Row: Codable, Sendable, Equatable {
        public var level: Double?
        public var accuracy: Double?
        public var nll: Double?
        public var ece: Double?
        public var entropy: Double?
        public var mutualInformation: Double?
        public init(level: Double?, accuracy: Double?, nll: Double?, ece: Double?, entropy: Double?, mutualInformation: Double?) {
            self.level = level
            self.accuracy = accuracy
            self.nll = nll
            self.ece = ece
            self.entropy = entropy
            self.mutualInformation = mutualInformation
        }
    }
    public var kind: String
    public var rows: [Row]
    public init(kind: String, rows: [Row]) {
        self.kind = kind
        self.rows = rows
    }
}
