import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// Why a training run stopped early.
public enum TrainingError: Error, CustomStringConvertible, Sendable, Equatable {
    case nonFinite(step: Int, epoch: Int, layer: String?, what: String)
    case noLikelihood
    case mismatch(DataMismatch)

    public var description: String {
        switch self {
        case .nonFinite(let step, let epoch, let layer, let what):
            let place = layer.map { "; first non-finite values in layer '\($0)'" } ?? ""
            return "\(what) became NaN or infinite at step \(step) (epoch \(epoch))\(place)"
        case .noLikelihood:
            return "the spec has no `likelihood`, so it cannot be trained (add `likelihood: categorical`)"
        case .mismatch(let m):
            return m.description
        }
    }
}

/// The ELBO loop over a plan: shuffled minibatches, `train.samples` weight samples per step, Adam or SGD.
///
/// Every random draw is keyed by (seed, stream, step), and the shuffle by (seed, epoch), so a session restored
/// from a checkpoint continues exactly as the uninterrupted run would have.
///
/// Across the ranks of a `Communicator` each global minibatch is split by position, each rank's Flipout signs are
/// keyed by the positions it holds, its loss gradient is scaled to its part of the global mean, rank 0 alone adds
/// the KL gradient, and one sum of all gradients precedes the update every rank applies alike: N ranks take the
/// single process's steps up to the order of floating-point summation.
public final class TrainingSession<S: TensorScalar> {
    public let network: Network<S>
    public let spec: ModelSpec
    public let train: Dataset
    public let test: Dataset?
    /// Measured after every epoch instead of the test data, when the spec holds data out.
    public let validation: Dataset?
    public let batchSize: Int
    public let samples: Int
    /// The plan's head; `classes` is its label count (nil for regression).
    public let head: OutputHead
    public let classes: Int?
    /// Optimizer steps taken so far.
    public internal(set) var step = 0
    /// Epochs finished so far.
    public internal(set) var epoch = 0
    /// Called after every step with (step within the epoch, steps per epoch, running mean loss).
    public var onStep: ((Int, Int, Double) -> Void)?
    /// Called once per step with the summed gradients in place, before the optimizer uses them.
    var onGradients: ((Network<S>) -> Void)?
    public let communicator: any Communicator
    /// Time spent summing gradients across ranks (waiting for the slowest rank included), and the steps timed.
    public private(set) var reduceNanoseconds: UInt64 = 0
    public private(set) var reducedSteps = 0
    /// Bytes per gradient value summed across ranks: Double with `gradient_block_size`, else the network's.
    public var reducedScalarSize: Int { gradientBlockSize == nil ? MemoryLayout<S>.size : MemoryLayout<Double>.size }

    private let labels: UnsafeMutablePointer<Int32>
    private let targets: UnsafeMutablePointer<S>
    private let targetCount: Int
    private let probabilities: UnsafeMutablePointer<S>
    private let shuffleStream: UInt64 = stableHash("train/shuffle")
    /// Every gradient, then the step's figures, in one buffer for one sum across ranks (several ranks only).
    private let fused: UnsafeMutablePointer<S>?
    private let fusedCount: Int
    private static var figureCount: Int { 4 }
    /// `train.gradient_block_size` (at most the batch), or nil for one float sum over each rank's share.
    public let gradientBlockSize: Int?
    /// The blocked step's Double sums: every gradient, then one NLL per block (a block's figure is summed
    /// across ranks with zeros only, so it arrives exact), the KL, the correct count and a failure flag.
    private let blockSums: UnsafeMutablePointer<Double>?
    private let blockSumsCount: Int
    private let parameterCount: Int
    private let maxBlocks: Int
    /// The step whose weight samples `drawStepWeights` last drew, which every block of that step reuses.
    private var weightsDrawnForStep: Int?

    public init(spec: ModelSpec, seed: UInt64, train: Dataset, test: Dataset?, validation: Dataset? = nil,
                batchSize: Int? = nil, communicator: any Communicator = SingleProcess.shared) throws {
        self.spec = spec
        self.communicator = communicator
        self.train = train
        self.test = test
        self.validation = validation
        self.batchSize = max(1, min(batchSize ?? spec.train.batchSize, max(train.count, 1)))
        samples = max(1, spec.train.samples)
        let evalBatch = max(1, spec.evaluate.batchSize)
        network = try Network(spec: spec, seed: seed, trainingExamples: train.count,
                              maxBatch: max(self.batchSize, evalBatch))
        guard let head = network.head else { throw TrainingError.noLikelihood }
        self.head = head
        classes = head.labelClasses
        let maxBatch = network.maxBatch
        labels = .allocate(capacity: maxBatch)
        labels.initialize(repeating: 0, count: maxBatch)
        targetCount = network.outputCount
        targets = .allocate(capacity: maxBatch * targetCount)
        targets.initialize(repeating: 0, count: maxBatch * targetCount)
        probabilities = .allocate(capacity: maxBatch * targetCount)
        probabilities.initialize(repeating: 0, count: maxBatch * targetCount)
        parameterCount = network.parameters.reduce(0) { $0 + $1.count }
        if let b = spec.train.gradientBlockSize {
            gradientBlockSize = min(b, self.batchSize)
            maxBlocks = (self.batchSize + gradientBlockSize! - 1) / gradientBlockSize!
            blockSumsCount = parameterCount + maxBlocks + 3
            blockSums = .allocate(capacity: blockSumsCount)
            blockSums!.initialize(repeating: 0, count: blockSumsCount)
            network.reserveWeightSamples(samples)
        } else {
            gradientBlockSize = nil
            maxBlocks = 0
            blockSumsCount = 0
            blockSums = nil
        }
        if communicator.size > 1 && gradientBlockSize == nil {
            fusedCount = parameterCount + Self.figureCount
            fused = .allocate(capacity: fusedCount)
            fused!.initialize(repeating: 0, count: fusedCount)
        } else {
            fusedCount = 0
            fused = nil
        }
        for (data, role) in [(train, DataRole.training), (test, .test), (validation, .validation)] {
            guard let data else { continue }
            do { try head.check(data, inputShape: spec.input.shape, role: role) } catch { throw TrainingError.mismatch(error) }
        }
    }

    deinit {
        labels.deallocate()
        targets.deallocate()
        probabilities.deallocate()
        fused?.deallocate()
        blockSums?.deallocate()
    }

    /// Data problems the loaders cannot see without the network: example shape, label range, target size.
    static func check(_ data: Dataset, spec: ModelSpec, role: DataRole) throws(TrainingError) {
        guard let head = OutputHead(spec: spec) else { throw .noLikelihood }
        do { try head.check(data, inputShape: spec.input.shape, role: role) } catch { throw .mismatch(error) }
    }

    public var stepsPerEpoch: Int { (train.count + batchSize - 1) / batchSize }

    /// Copies the examples `indices` into the network's input (and labels or targets).
    @_specialize(where S == Float) @_specialize(where S == Double)
    func load(_ data: Dataset, indices: ArraySlice<Int>) {
        data.copyExamples(indices, to: network.input, size: network.inputCount)
        if let l = data.labels {
            for (row, index) in indices.enumerated() { labels[row] = l[index] }
        }
        if let t = data.targets {
            for (row, index) in indices.enumerated() {
                for j in 0..<targetCount { targets[row * targetCount + j] = S(t[index * targetCount + j]) }
            }
        }
    }

    /// Mean NLL over the batch of the network's current output; writes its gradient (times `scale`) when asked.
    @_specialize(where S == Float) @_specialize(where S == Double)
    func negativeLogLikelihood(batch: Int, gradientScale: Double?) -> (nll: Double, correct: Int) {
        let out = network.output
        var correct = 0
        switch head {
        case .categorical:
            let c = targetCount
            let nll = Losses.softmaxCrossEntropy(logits: out, labels: labels, batch: batch, classes: c,
                                                 dlogits: gradientScale == nil ? nil : network.outputGradient)
            if let scale = gradientScale, scale != 1 {
                let g = network.outputGradient
                for i in 0..<(batch * c) { g[i] *= S(scale) }
            }
            for b in 0..<batch {
                var best = 0
                for j in 1..<c where out[b * c + j] > out[b * c + best] { best = j }
                if best == Int(labels[b]) { correct += 1 }
            }
            return (Double(nll), correct)
        case .bernoulli:
            // −log σ(z) for label 1, −log(1 − σ(z)) for 0: softplus(z) − y·z, stable for any z.
            var total = 0.0
            let g = network.outputGradient
            for b in 0..<batch {
                let z = Double(out[b]), y = Double(labels[b])
                total += max(z, 0) - y * z + log1p(exp(-abs(z)))
                if let scale = gradientScale { g[b] = S(scale * (1 / (1 + exp(-z)) - y) / Double(batch)) }
                if (z > 0 ? 1 : 0) == Int(labels[b]) { correct += 1 }
            }
            return (total / Double(batch), correct)
        case .normal(let sigma, _):
            let total = Losses.gaussianNLL(output: out, target: targets, count: batch * targetCount, sigma: sigma,
                                           batch: batch, gradientScale: gradientScale,
                                           gradient: network.outputGradient)
            return (total / Double(batch), 0)
        }
    }

    /// One optimizer step on the global minibatch `indices` (this rank trains on its share of them): `samples`
    /// forward/backward passes, the sum across ranks, then the update.
    @_specialize(where S == Float) @_specialize(where S == Double)
    func trainStep(indices: ArraySlice<Int>) throws -> (loss: Double, nll: Double, kl: Double, correct: Int) {
        if let gradientBlockSize { return try trainBlockedStep(indices: indices, blockSize: gradientBlockSize) }
        let globalBatch = indices.count
        let mine = communicator.share(of: globalBatch)
        let local = indices[(indices.startIndex + mine.lowerBound)..<(indices.startIndex + mine.upperBound)]
        let batch = local.count
        if batch > 0 { load(train, indices: local) }
        network.zeroGradients()
        var nll = 0.0, kl = 0.0, correct = 0
        var failure: TrainingError?
        let scale = 1 / Double(samples)
        // This rank's mean NLL is its part of the global batch's mean: weighted by its share of the examples.
        let part = Double(batch) / Double(globalBatch)
        for sample in 0..<samples {
            let noise = NoiseContext(seed: network.seed, step: UInt64(step) * UInt64(samples) + UInt64(sample),
                                     exampleOffset: mine.lowerBound)
            var sampleNLL = 0.0, sampleCorrect = 0
            if batch > 0 {
                network.forward(batch: batch, noise: noise)
                (sampleNLL, sampleCorrect) = negativeLogLikelihood(batch: batch, gradientScale: scale * part)
                if !sampleNLL.isFinite {
                    failure = .nonFinite(step: step + 1, epoch: epoch + 1,
                                         layer: network.firstNonFiniteLayer(batch: batch), what: "the loss")
                    break
                }
            }
            // The KL term belongs to the global batch: one rank adds it.
            if communicator.rank == 0 {
                let sampleKL = network.divergence(gradientScale: scale * klWeight) * klWeight
                if !sampleKL.isFinite {
                    let layer = network.layers.first { !$0.divergence(gradientScale: 0, accumulateGradients: false).isFinite }
                    failure = .nonFinite(step: step + 1, epoch: epoch + 1, layer: layer?.name, what: "the KL term")
                    break
                }
                kl += sampleKL * scale
            }
            if batch > 0 { network.backward(batch: batch) }
            nll += sampleNLL * scale * part
            if sample == 0 { correct = sampleCorrect }
        }
        if fused != nil {
            try sumAcrossRanks(nll: &nll, kl: &kl, correct: &correct, failure: failure)
        } else if let failure {
            throw failure
        }
        try update()
        return (nll + kl, nll, kl, correct)
    }

    /// Checks the summed gradients and takes the optimizer step.
    @_specialize(where S == Float) @_specialize(where S == Double)
    private func update() throws {
        for p in network.parameters where !Finite.all(p.gradient.pointer, count: p.count) {
            for i in 0..<p.count where !p.gradient.pointer[i].isFinite {
                let layer = network.layers.first { $0.parameters.contains { $0 === p } }?.name
                throw TrainingError.nonFinite(step: step + 1, epoch: epoch + 1, layer: layer, what: "the gradient of \(p.name)")
            }
        }
        onGradients?(network)
        step += 1
        applyOptimizer()
    }

    /// Sums the gradients and the step's figures across ranks in one call; a failure on any rank stops every
    /// rank with that rank's error.
    @_specialize(where S == Float) @_specialize(where S == Double)
    private func sumAcrossRanks(nll: inout Double, kl: inout Double, correct: inout Int, failure: TrainingError?) throws {
        guard let fused else { return }
        let start = Clock.nanoseconds()
        var offset = 0
        for p in network.parameters {
            (fused + offset).update(from: p.gradient.pointer, count: p.count)
            offset += p.count
        }
        fused[offset] = S(nll)
        fused[offset + 1] = S(kl)
        fused[offset + 2] = S(correct)
        fused[offset + 3] = failure == nil ? 0 : 1
        communicator.sum(fused, count: fusedCount)
        offset = 0
        for p in network.parameters {
            p.gradient.pointer.update(from: fused + offset, count: p.count)
            offset += p.count
        }
        nll = Double(fused[offset])
        kl = Double(fused[offset + 1])
        correct = Int(fused[offset + 2])
        reduceNanoseconds += Clock.nanoseconds() - start
        reducedSteps += 1
        if fused[offset + 3] != 0 { try throwLowestRankFailure(failure) }
    }

    /// Rare: every rank learned from the sum that some rank failed; they gather the payload of the lowest
    /// failing rank's error, sent as text fields, and throw it alike.
    private func throwLowestRankFailure(_ failure: TrainingError?) throws -> Never {
        var fields = ""
        if case .nonFinite(_, _, let layer, let what)? = failure { fields = what + "\u{1}" + (layer ?? "") }
        let all = communicator.gather(fields)
        let (r, text) = all.enumerated().first { !$0.element.isEmpty }!
        let parts = text.split(separator: "\u{1}", omittingEmptySubsequences: false).map(String.init)
        throw TrainingError.nonFinite(step: step + 1, epoch: epoch + 1, layer: parts[1].isEmpty ? nil : parts[1],
                                      what: parts[0] + " (on rank \(r))")
    }

    /// The noise of weight sample `sample` of the current step; its Flipout signs start at `exampleOffset`.
    private func trainingNoise(sample: Int, exampleOffset: Int, weightSample: Int? = nil) -> NoiseContext {
        NoiseContext(seed: network.seed, step: UInt64(step) * UInt64(samples) + UInt64(sample),
                     exampleOffset: exampleOffset, weightSample: weightSample)
    }

    /// Draws the current step's `samples` weight samples once for all its blocks: they depend on (seed, layer,
    /// step, sample) only, so every block would draw the same.
    @_specialize(where S == Float) @_specialize(where S == Double)
    func drawStepWeights() {
        for sample in 0..<samples { network.drawWeights(trainingNoise(sample: sample, exampleOffset: 0), slot: sample) }
        weightsDrawnForStep = step
    }

    /// Block `k` of the global minibatch `indices`: its `samples` forward and backward passes, with the weights
    /// `drawStepWeights` drew for this step, leave its float gradient (with the KL gradient for block 0) in the
    /// network's gradients; returns its part of the step's mean NLL, its KL (block 0) and its correct count.
    @_specialize(where S == Float) @_specialize(where S == Double)
    func runBlock(_ k: Int, of indices: ArraySlice<Int>, blockSize: Int)
        -> (nll: Double, kl: Double, correct: Int, failure: TrainingError?) {
        precondition(weightsDrawnForStep == step, "the step's weights are drawn before its blocks run")
        let globalBatch = indices.count
        let start = k * blockSize, end = min(start + blockSize, globalBatch)
        let batch = end - start
        load(train, indices: indices[(indices.startIndex + start)..<(indices.startIndex + end)])
        network.zeroGradients()
        // The block's mean NLL is its part of the global batch's mean.
        let part = Double(batch) / Double(globalBatch)
        let scale = 1 / Double(samples)
        var nll = 0.0, kl = 0.0, correct = 0
        for sample in 0..<samples {
            network.forward(batch: batch, noise: trainingNoise(sample: sample, exampleOffset: start, weightSample: sample))
            let (sampleNLL, sampleCorrect) = negativeLogLikelihood(batch: batch, gradientScale: scale * part)
            if !sampleNLL.isFinite {
                return (nll, kl, correct, .nonFinite(step: step + 1, epoch: epoch + 1,
                                                     layer: network.firstNonFiniteLayer(batch: batch), what: "the loss"))
            }
            // The KL term belongs to the global batch: block 0 adds it, with this sample's weight draws.
            if k == 0 {
                let sampleKL = network.divergence(gradientScale: scale * klWeight) * klWeight
                if !sampleKL.isFinite {
                    let layer = network.layers.first { !$0.divergence(gradientScale: 0, accumulateGradients: false).isFinite }
                    return (nll, kl, correct, .nonFinite(step: step + 1, epoch: epoch + 1, layer: layer?.name, what: "the KL term"))
                }
                kl += sampleKL * scale
            }
            network.backward(batch: batch)
            nll += sampleNLL * scale * part
            if sample == 0 { correct = sampleCorrect }
        }
        return (nll, kl, correct, nil)
    }

    /// `trainStep` with `train.gradient_block_size`: the global minibatch is cut by position into blocks of
    /// `blockSize` examples, whatever the rank count; each rank draws the step's weights once, runs its whole
    /// blocks (forward and backward at the block's size with those weights, Flipout signs keyed by global
    /// position as always) and adds each block's float gradient
    /// into Double sums; the block holding position 0 also adds the KL gradient. The ranks' Double sums are
    /// summed and rounded to the network's precision. A float gradient depends only on its block, and Double
    /// holds a sum of floats exactly or within far less than a float's last bit, so the rounded gradient, and
    /// with it the run, is the same on any number of ranks (a float rounding tie aside).
    @_specialize(where S == Float) @_specialize(where S == Double)
    private func trainBlockedStep(indices: ArraySlice<Int>, blockSize: Int) throws
        -> (loss: Double, nll: Double, kl: Double, correct: Int) {
        let sums = blockSums!
        let figures = sums + parameterCount
        let klSlot = maxBlocks, correctSlot = maxBlocks + 1, failureSlot = maxBlocks + 2
        sums.update(repeating: 0, count: blockSumsCount)
        let blocks = (indices.count + blockSize - 1) / blockSize
        var failure: TrainingError?
        let mine = communicator.share(of: blocks)
        if !mine.isEmpty { drawStepWeights() }
        for k in mine {
            let r = runBlock(k, of: indices, blockSize: blockSize)
            if let f = r.failure { failure = f; break }
            figures[k] = r.nll
            figures[klSlot] += r.kl
            figures[correctSlot] += Double(r.correct)
            var offset = 0
            for p in network.parameters {
                let g = p.gradient.pointer, total = sums + offset
                for i in 0..<p.count { total[i] += Double(g[i]) }
                offset += p.count
            }
        }
        if failure != nil { figures[failureSlot] = 1 }
        if communicator.size > 1 {
            let started = Clock.nanoseconds()
            communicator.sum(sums, count: blockSumsCount)
            reduceNanoseconds += Clock.nanoseconds() - started
            reducedSteps += 1
            if figures[failureSlot] != 0 { try throwLowestRankFailure(failure) }
        } else if let failure {
            throw failure
        }
        var offset = 0
        for p in network.parameters {
            let g = p.gradient.pointer, total = sums + offset
            for i in 0..<p.count { g[i] = S(total[i]) }
            offset += p.count
        }
        var nll = 0.0
        for k in 0..<blocks { nll += figures[k] }
        try update()
        return (nll + figures[klSlot], nll, figures[klSlot], Int(figures[correctSlot]))
    }

    /// The KL term's weight at the current step: 1, or rising linearly over `train.kl_warmup_epochs`.
    var klWeight: Double {
        let warmup = spec.train.klWarmupEpochs * stepsPerEpoch
        return warmup > 0 ? min(1, Double(step + 1) / Double(warmup)) : 1
    }

    /// The optimizer's learning rate times the schedule's factor at the current step.
    func learningRate(_ base: Double) -> Double {
        let schedule = spec.train.schedule
        guard schedule != LearningRateSchedule() else { return base }
        return base * schedule.factor(epoch: Double(step - 1) / Double(stepsPerEpoch), of: spec.train.epochs)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    func applyOptimizer() {
        switch spec.train.optimizer {
        case .adam(let base, let beta1, let beta2, let epsilon):
            let lr = learningRate(base)
            for p in network.parameters {
                WeightLoops.adamStep(parameters: p.value.pointer, gradients: p.gradient.pointer, m: p.slot1.pointer,
                                    v: p.slot2.pointer, count: p.count, step: step, learningRate: lr, beta1: beta1,
                                    beta2: beta2, epsilon: epsilon)
            }
        case .sgd(let base, let momentum):
            let lr = learningRate(base)
            for p in network.parameters {
                WeightLoops.sgdStep(parameters: p.value.pointer, gradients: p.gradient.pointer,
                                    velocity: p.slot1.pointer, count: p.count, learningRate: lr, momentum: momentum)
            }
        }
    }

    /// The epoch's example order: a permutation keyed by (seed, epoch), so a resumed run shuffles alike.
    func order(forEpoch e: Int) -> [Int] {
        RandomStream(seed: network.seed, stream: shuffleStream, step: UInt64(e)).permutation(train.count)
    }

    /// Trains one epoch (the last batch may be smaller) and returns its figures; `seconds` is left for the caller.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public func runEpoch() throws -> EpochMetrics {
        let order = order(forEpoch: epoch)
        var lossSum = 0.0, nllSum = 0.0, klSum = 0.0, correct = 0
        let steps = stepsPerEpoch
        for s in 0..<steps {
            let range = order[(s * batchSize)..<min((s + 1) * batchSize, order.count)]
            let r = try trainStep(indices: range)
            lossSum += r.loss
            nllSum += r.nll * Double(range.count)
            klSum += r.kl
            correct += r.correct
            onStep?(s + 1, steps, lossSum / Double(s + 1))
        }
        epoch += 1
        var metrics = EpochMetrics(epoch: epoch, step: step, loss: lossSum / Double(steps),
                                   nll: nllSum / Double(train.count), kl: klSum / Double(steps),
                                   trainAccuracy: classes == nil ? nil : Double(correct) / Double(train.count),
                                   seconds: 0)
        if let validation {
            let q = quickTest(validation)
            metrics.validationAccuracy = classes == nil ? nil : q.accuracy
            metrics.validationNll = q.nll
        } else if classes != nil, let test {
            let q = quickTest(test)
            metrics.testAccuracy = q.accuracy
            metrics.testNll = q.nll
        }
        if spec.train.schedule != LearningRateSchedule() {
            switch spec.train.optimizer {
            case .adam(let lr, _, _, _), .sgd(let lr, _): metrics.learningRate = learningRate(lr)
            }
        }
        if spec.train.klWarmupEpochs > 0 { metrics.klWeight = min(1, Double(step) / Double(spec.train.klWarmupEpochs * stepsPerEpoch)) }
        return metrics
    }

    /// One posterior sample per example over the test data: the per-epoch check of metrics.jsonl. Each rank
    /// takes its share of the examples; their draws are keyed by example index, so the split changes nothing.
    @_specialize(where S == Float) @_specialize(where S == Double)
    func quickTest(_ data: Dataset) -> (accuracy: Double, nll: Double) {
        let evalBatch = network.maxBatch
        if gradientBlockSize != nil { return quickTestInChunks(data, chunkSize: evalBatch) }
        var nll = 0.0, correct = 0
        let mine = communicator.share(of: data.count)
        var start = mine.lowerBound
        while start < mine.upperBound {
            let end = min(start + evalBatch, mine.upperBound)
            load(data, indices: ArraySlice(start..<end))
            network.forward(batch: end - start, noise: NoiseContext(seed: network.seed, step: UInt64(epoch),
                                                                    evaluation: true, exampleOffset: start))
            let r = negativeLogLikelihood(batch: end - start, gradientScale: nil)
            nll += r.nll * Double(end - start)
            correct += r.correct
            start = end
        }
        if communicator.size > 1 {
            var totals = [nll, Double(correct)]
            totals.withUnsafeMutableBufferPointer { communicator.sum($0.baseAddress!, count: 2) }
            nll = totals[0]
            correct = Int(totals[1])
        }
        return (Double(correct) / Double(data.count), nll / Double(data.count))
    }

    /// `quickTest` of a blocked run: the examples go in chunks fixed by position, each rank takes whole
    /// chunks, and each chunk's NLL travels in a slot of its own, so the figures do not depend on the rank count.
    @_specialize(where S == Float) @_specialize(where S == Double)
    private func quickTestInChunks(_ data: Dataset, chunkSize: Int) -> (accuracy: Double, nll: Double) {
        let chunks = (data.count + chunkSize - 1) / chunkSize
        var slots = [Double](repeating: 0, count: chunks + 1)
        let mine = communicator.share(of: chunks)
        // One posterior sample for every chunk: drawn once, into the slot the next step draws again.
        let noise = NoiseContext(seed: network.seed, step: UInt64(epoch), evaluation: true, weightSample: 0)
        if !mine.isEmpty {
            network.drawWeights(noise, slot: 0)
            weightsDrawnForStep = nil
        }
        for c in mine {
            let start = c * chunkSize, end = min(start + chunkSize, data.count)
            load(data, indices: ArraySlice(start..<end))
            var chunkNoise = noise
            chunkNoise.exampleOffset = start
            network.forward(batch: end - start, noise: chunkNoise)
            let r = negativeLogLikelihood(batch: end - start, gradientScale: nil)
            slots[c] = r.nll * Double(end - start)
            slots[chunks] += Double(r.correct)
        }
        if communicator.size > 1 { slots.withUnsafeMutableBufferPointer { communicator.sum($0.baseAddress!, count: chunks + 1) } }
        var nll = 0.0
        for c in 0..<chunks { nll += slots[c] }
        return (slots[chunks] / Double(data.count), nll / Double(data.count))
    }
}
