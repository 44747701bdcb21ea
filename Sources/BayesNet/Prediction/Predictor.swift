import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// Monte Carlo prediction over a data set: S posterior samples, or one pass at the posterior means.
enum Predictor {
    /// Runs the network over `count` examples once per posterior sample (once for `useMean`) and hands each
    /// pass's outputs, `[N · outputs]`, to `body` with the pass index; the buffer is reused by the next pass,
    /// so memory does not grow with the sample count. Pass s uses evaluation noise step s, so predictions repeat
    /// exactly for a given seed. The examples go in batches fixed by position (of the plan's largest batch), and
    /// each rank of `communicator` predicts whole batches, so an example's output is computed in the same batch
    /// whatever the rank count (draws are keyed by example index); every rank then sees all of them. A pass draws
    /// its weights once for all its batches.
    static func forEachPass<S: TensorScalar>(_ network: Network<S>, inputs: [Float], count: Int, samples: Int,
                                             useMean: Bool, communicator: any Communicator = SingleProcess.shared,
                                             _ body: (Int, UnsafeBufferPointer<Float>) -> Void) {
        let n = network.inputCount, k = network.outputCount, chunk = network.maxBatch
        let passes = useMean ? 1 : max(1, samples)
        let chunks = (count + chunk - 1) / chunk
        let mine = communicator.share(of: chunks)
        var out = [Float](repeating: 0, count: count * k)
        for s in 0..<passes {
            var noise = NoiseContext(seed: network.seed, step: UInt64(s), useMean: useMean, evaluation: true,
                                     weightSample: 0)
            if !mine.isEmpty { network.drawWeights(noise, slot: 0) }
            for c in mine {
                let start = c * chunk, end = min(start + chunk, count)
                let input = network.input
                inputs.withUnsafeBufferPointer { src in
                    for i in 0..<((end - start) * n) { input[i] = S(src[start * n + i]) }
                }
                noise.exampleOffset = start
                network.forward(batch: end - start, noise: noise)
                let o = network.output
                for i in 0..<((end - start) * k) { out[start * k + i] = Float(o[i]) }
            }
            if communicator.size > 1 {
                let counts = (0..<communicator.size).map { r in
                    let share = communicator.share(of: chunks, rank: r)
                    return (min(share.upperBound * chunk, count) - min(share.lowerBound * chunk, count)) * k
                }
                out.withUnsafeMutableBufferPointer { communicator.gather($0.baseAddress!, counts: counts) }
            }
            out.withUnsafeBufferPointer { body(s, $0) }
        }
    }

    /// Every pass's outputs kept: a regression's predictive mixture (its CRPS) needs them all.
    static func outputs<S: TensorScalar>(_ network: Network<S>, inputs: [Float], count: Int, samples: Int,
                                         useMean: Bool,
                                         communicator: any Communicator = SingleProcess.shared) -> [[Float]] {
        var result: [[Float]] = []
        forEachPass(network, inputs: inputs, count: count, samples: samples, useMean: useMean,
                    communicator: communicator) { _, out in result.append(Array(out)) }
        return result
    }

    /// A classifier's predictive distribution, streamed: each pass's class probabilities go into the
    /// accumulator and are dropped, so memory is examples × classes whatever the sample count. `meanOutputs`,
    /// when given, receives the mean of the raw outputs (logits) over the passes.
    static func predictive<S: TensorScalar>(_ network: Network<S>, inputs: [Float], count: Int, samples: Int,
                                            useMean: Bool, communicator: any Communicator = SingleProcess.shared,
                                            meanOutputs: UnsafeMutableBufferPointer<Float>? = nil) -> PredictiveAccumulator {
        let head = network.head ?? .categorical(classes: network.outputCount)
        let classes = head.labelClasses ?? network.outputCount
        var accumulator = PredictiveAccumulator(examples: count, classes: classes)
        var probabilities = [Float](repeating: 0, count: count * classes)
        let passes = useMean ? 1 : max(1, samples)
        forEachPass(network, inputs: inputs, count: count, samples: samples, useMean: useMean,
                    communicator: communicator) { _, out in
            if let meanOutputs {
                for i in 0..<out.count { meanOutputs[i] += out[i] / Float(passes) }
            }
            probabilities.withUnsafeMutableBufferPointer { p in
                classProbabilities(out, count: count, head: head, into: p.baseAddress!)
            }
            accumulator.add(probabilities)
        }
        return accumulator
    }

    /// One pass's class probabilities under the head: the softmax of categorical logits, or (1 − σ(z), σ(z))
    /// of a Bernoulli logit z.
    static func classProbabilities(_ outputs: UnsafeBufferPointer<Float>, count: Int, head: OutputHead,
                                   into p: UnsafeMutablePointer<Float>) {
        switch head {
        case .bernoulli:
            for n in 0..<count {
                let z = Double(outputs[n])
                p[2 * n] = Float(1 / (1 + exp(z)))
                p[2 * n + 1] = Float(1 / (1 + exp(-z)))
            }
        case .categorical(let classes):
            Losses.softmax(logits: outputs.baseAddress!, probabilities: p, batch: count, classes: classes)
        case .normal:
            preconditionFailure("class probabilities of a regression head")
        }
    }
}

/// The evaluation block of summary.json and the rows of predictions.csv.
public struct EvaluationResult: Sendable {
    public var samples: Int
    public var examples: Int
    public var summary: RunSummary.Evaluation
    /// The block as summary.json writes it.
    public var json: JSONValue { RunFolderJSON.value(summary) }
    /// predictions.csv's text (categorical only).
    public var predictionsCSV: String?
    /// A short human summary for the terminal.
    public var lines: [String]
}

enum Evaluation {
    static func figures(_ m: ClassificationMetrics) -> RunSummary.Figures {
        .init(accuracy: m.accuracy, nll: m.nll, ece: m.ece, brier: m.brier, entropy: m.entropy,
              mutualInformation: m.mutualInformation)
    }

    static func reliability(_ m: ClassificationMetrics, bins: Int) -> RunSummary.Reliability {
        let r = m.reliability
        return .init(bins: bins, confidence: r.confidence, accuracy: r.accuracy, count: r.count)
    }

    static func format(_ x: Double) -> String { String(format: "%.4f", x) }

    static func figures(_ m: RegressionScores, coverage: Bool) -> RunSummary.Figures {
        .init(rmse: m.rmse, nll: m.nll, predictiveStd: m.predictiveStd, crps: m.crps,
              coverage: coverage ? .init(levels: Metrics.coverageLevels, observed: m.coverage) : nil)
    }

    /// predictions.csv of a regression: one row per predicted value.
    static func regressionCSV(_ m: RegressionScores, targets: [Float], valuesPerExample k: Int) -> String {
        var csv = "index,output,target,mean,std,aleatoric_std,epistemic_std,pit\n"
        for (j, u) in m.perValue.enumerated() {
            csv += "\(j / k),\(j % k),\(targets[j]),\(u.mean),\(u.std),\(u.aleatoricStd),\(u.epistemicStd),\(m.pit[j])\n"
        }
        return csv
    }

    /// Runs the S-sample predictive and the posterior-mean pass over `data`, shared among the ranks.
    static func evaluate<S: TensorScalar>(_ network: Network<S>, data: Dataset, samples: Int,
                                          communicator: any Communicator = SingleProcess.shared) -> EvaluationResult {
        switch network.head {
        case .normal(let scale, _)?:
            let predictive = Predictor.outputs(network, inputs: data.inputs, count: data.count, samples: samples,
                                               useMean: false, communicator: communicator)
            let mean = Predictor.outputs(network, inputs: data.inputs, count: data.count, samples: 1, useMean: true,
                                         communicator: communicator)
            let targets = data.targets ?? []
            let p = Metrics.regression(samplePredictions: predictive, targets: targets, scale: scale, examples: data.count)
            let m = Metrics.regression(samplePredictions: mean, targets: targets, scale: scale, examples: data.count)
            let coverage = zip(Metrics.coverageLevels, p.coverage).map { "\(Int($0 * 100))% \(format($1))" }.joined(separator: ", ")
            return EvaluationResult(
                samples: samples, examples: data.count,
                summary: .init(samples: samples, examples: data.count, predictive: figures(p, coverage: true),
                               posteriorMean: figures(m, coverage: false), reliability: nil),
                predictionsCSV: regressionCSV(p, targets: targets, valuesPerExample: network.outputCount),
                lines: ["predictive (\(samples) samples): rmse \(format(p.rmse))  nll \(format(p.nll))  crps \(format(p.crps))  predictive std \(format(p.predictiveStd))",
                        "  central intervals cover: \(coverage)",
                        "posterior mean: rmse \(format(m.rmse))  nll \(format(m.nll))  crps \(format(m.crps))"])
        case .categorical?, .bernoulli?, nil:
            let labels = data.labels ?? [Int32](repeating: 0, count: data.count)
            let bins = 15
            let predictive = Predictor.predictive(network, inputs: data.inputs, count: data.count, samples: samples,
                                                  useMean: false, communicator: communicator)
            let mean = Predictor.predictive(network, inputs: data.inputs, count: data.count, samples: 1, useMean: true,
                                            communicator: communicator)
            let (p, perExample) = Metrics.classification(predictive, labels: labels, bins: bins)
            let (m, _) = Metrics.classification(mean, labels: labels, bins: bins)
            var csv = "index,label,predicted,confidence,entropy,expected_entropy,mutual_information,correct\n"
            for (i, e) in perExample.enumerated() {
                let correct = Int32(e.predicted) == labels[i] ? 1 : 0
                csv += "\(i),\(labels[i]),\(e.predicted),\(e.confidence),\(e.entropy),\(e.expectedEntropy),\(e.mutualInformation),\(correct)\n"
            }
            return EvaluationResult(
                samples: samples, examples: data.count,
                summary: .init(samples: samples, examples: data.count, predictive: figures(p), posteriorMean: figures(m),
                               reliability: reliability(p, bins: bins)),
                predictionsCSV: csv,
                lines: [
                    "predictive (\(samples) samples): accuracy \(format(p.accuracy))  nll \(format(p.nll))  ece \(format(p.ece))  brier \(format(p.brier))  entropy \(format(p.entropy))  mutual information \(format(p.mutualInformation))",
                    "posterior mean:           accuracy \(format(m.accuracy))  nll \(format(m.nll))  ece \(format(m.ece))  brier \(format(m.brier))",
                ])
        }
    }
}
