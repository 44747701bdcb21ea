import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// What `bayesnet diagnose --gradient-variance` measures.
public struct GradientVarianceOptions: Sendable {
    public var batches: [Int]
    /// Weight-noise draws per estimator and batch size.
    public var draws: Int
    /// Only these layers (default: every variational layer that samples its weights).
    public var layers: [String]?
    /// Keys the minibatch, random inputs and every weight draw (default: the checkpoint's, else the spec's, else 0).
    public var seed: UInt64?
    /// A checkpoint file: measure at its posterior instead of the initial one.
    public var weights: String?
    public var limits: DataLimits

    public static let defaultBatches = [1, 2, 8, 32, 128]
    public static let defaultDraws = 200

    public init(batches: [Int] = defaultBatches, draws: Int = defaultDraws, layers: [String]? = nil,
                seed: UInt64? = nil, weights: String? = nil, limits: DataLimits = .default) {
        self.batches = batches
        self.draws = draws
        self.layers = layers
        self.seed = seed
        self.weights = weights
        self.limits = limits
    }
}

/// The variance of the minibatch gradient across weight-noise draws, against the batch size, for three
/// estimators on the same weights and the same minibatch (Wen et al., 2018, Figure 2):
///
/// - `flipout`: every variational layer with Flipout (its own sign setting; per channel where the spec says
///   reparameterization);
/// - `shared`: one weight sample shared by the whole batch (reparameterization);
/// - `independent`: a weight sample of its own for every example, the examples run one at a time and their
///   gradients averaged as the batch loss averages them.
///
/// Only the data term's gradient is measured: the KL term's gradient does not depend on the data, and under a
/// scale-mixture prior its one-sample estimate would add noise of its own that no batch size changes. Per
/// variational layer, the gradients wrt the kernel loc μ and the untransformed kernel scale ρ are taken; their
/// per-coordinate variances across draws are summed over the kernel.
///
/// The standard error is by batch means: the draws are cut into `groups` consecutive groups, each gives an
/// unbiased estimate from its own draws, the estimate is their mean and its standard error their standard
/// deviation over √groups. A group's draws are keyed by (seed, estimator, batch, draw index, layer), so the
/// figures are the same for any thread count, whichever thread measures which group.
public enum GradientVariance {
    public enum Estimator: String, Sendable, CaseIterable {
        case flipout, shared, independent
    }

    public enum Parameter: String, Sendable, CaseIterable {
        case loc, rho
    }

    /// The file a run folder keeps the measurement in; `bayesnet report` draws it.
    public static let fileName = "gradient-variance.json"
    static let minimumGroupSize = 5
    static let maximumGroups = 20
    /// Two groups: enough to run, too few for a standard error to trust (about 100 draws make 20 groups).
    public static let minimumDraws = 2 * minimumGroupSize

    /// How many batch-means groups `draws` are cut into: up to 20, of at least 5 draws.
    static func groups(draws: Int) -> Int { max(2, min(maximumGroups, draws / minimumGroupSize)) }

    /// The draws of group `g`: consecutive, sizes differing by at most one.
    static func drawRange(_ g: Int, draws: Int, groups: Int) -> Range<Int> {
        (g * draws / groups)..<((g + 1) * draws / groups)
    }

    /// The noise seed of one estimator at one batch size: different estimators and batch sizes draw
    /// independent noise, so their estimates are independent and a ratio's error adds theirs.
    static func noiseSeed(_ seed: UInt64, _ estimator: Estimator, batch: Int) -> UInt64 {
        seed ^ stableHash("gradient-variance/\(estimator.rawValue)/\(batch)")
    }

    /// The layers whose weights are sampled, with their kernel sizes.
    static func sampledLayers(_ spec: ModelSpec) -> [(name: String, coordinates: Int)] {
        spec.layers.compactMap { layer in
            switch layer.op {
            case .convolution(let c) where c.variational?.posteriorValue == .sample:
                return (layer.name, c.kernelShape.reduce(1, *))
            case .affine(let a) where a.variational?.posteriorValue == .sample:
                return (layer.name, a.kernelShape.reduce(1, *))
            default:
                return nil
            }
        }
    }

    /// `spec` with every variational layer using `estimator`, planned for batches up to `maxBatch`.
    static func spec(_ spec: ModelSpec, with estimator: BayesNetSpec.Estimator, maxBatch: Int) -> ModelSpec {
        var s = spec
        s.evaluate.batchSize = maxBatch
        for i in s.layers.indices {
            switch s.layers[i].op {
            case .convolution(var c) where c.variational != nil:
                c.estimator = estimator
                s.layers[i].op = .convolution(c)
            case .affine(var a) where a.variational != nil:
                a.estimator = estimator
                s.layers[i].op = .affine(a)
            default:
                break
            }
        }
        return s
    }

    /// Random data for a spec without training data: N(0, 1) inputs keyed by the seed, and the labels
    /// (uniform) or zero targets `bayesnet bench` uses.
    static func randomData(_ spec: ModelSpec, count: Int, seed: UInt64) -> Dataset {
        var data = Benchmark.randomData(spec, count: count, seed: seed)
        var inputs = [Float](repeating: 0, count: count * spec.input.shape.reduce(1, *))
        let n = inputs.count
        inputs.withUnsafeMutableBufferPointer {
            RandomStream(seed: seed, name: "gradient-variance/inputs", step: 0).fillNormal($0.baseAddress!, count: n)
        }
        data.inputs = inputs
        return data
    }

    /// The examples of the minibatches: the first N of a permutation of the training data keyed by the seed
    /// (random data is random already: its first N), so that every batch holds the smaller ones.
    static func minibatch(_ spec: ModelSpec, examples: Int, batch: Int, seed: UInt64) -> [Int] {
        guard spec.data.train != nil else { return Array(0..<batch) }
        return Array(RandomStream(seed: seed, name: "gradient-variance/minibatch", step: 0).permutation(examples).prefix(batch))
    }

    /// The data the measurement draws its minibatches from, and the seed it keys them by.
    static func data(spec: ModelSpec, seed: UInt64, maxBatch: Int, limits: DataLimits) throws(DiagnoseError) -> Dataset {
        guard let source = spec.data.train else { return randomData(spec, count: maxBatch, seed: seed) }
        do {
            return try DataLoader.load(source, spec: spec, classes: spec.labelClasses, limits: limits)
        } catch {
            throw .data(error)
        }
    }

    /// The inputs of the minibatch of `batch` examples, as the network sees them (channels-last), for checks
    /// against closed forms.
    public static func minibatchInputs(spec: ModelSpec, seed: UInt64, batch: Int,
                                       limits: DataLimits = .default) throws(DiagnoseError) -> [Float] {
        let data = try data(spec: spec, seed: seed, maxBatch: batch, limits: limits)
        let n = data.exampleSize
        var out = [Float](repeating: 0, count: batch * n)
        out.withUnsafeMutableBufferPointer {
            data.copyExamples(ArraySlice(minibatch(spec, examples: data.count, batch: batch, seed: seed)),
                              to: $0.baseAddress!, size: n)
        }
        return out
    }

    public static func measure(spec: ModelSpec, options: GradientVarianceOptions) throws(DiagnoseError) -> GradientVarianceResult {
        guard options.draws >= minimumDraws else { throw .tooFewDraws(options.draws) }
        guard !options.batches.isEmpty else { throw .noBatches }
        if let bad = options.batches.first(where: { $0 < 1 }) { throw .badBatch(bad) }
        let batches = Array(Set(options.batches)).sorted()
        guard spec.likelihood != nil else { throw .noLikelihood }
        let sampled = sampledLayers(spec)
        guard !sampled.isEmpty else { throw .noSampledLayer }
        var layers = sampled
        if let chosen = options.layers {
            let names = sampled.map(\.name)
            for name in chosen where !names.contains(name) {
                if spec.layers.contains(where: { $0.name == name }) { throw .layerNotSampled(name) }
                throw .unknownLayer(name, suggestion: Suggestions.closest(to: name, among: names), measurable: names)
            }
            layers = sampled.filter { chosen.contains($0.name) }
        }
        switch spec.dtype {
        case .float32:
            return try GradientVarianceMeasurement<Float>(spec: spec, layers: layers, batches: batches, options: options).run()
        case .float64:
            return try GradientVarianceMeasurement<Double>(spec: spec, layers: layers, batches: batches, options: options).run()
        }
    }
}

/// One layer's figure: the variance of one gradient under one estimator at one batch size.
public struct GradientVarianceRow: Sendable, Equatable {
    public var layer: String
    public var batch: Int
    public var parameter: GradientVariance.Parameter
    public var estimator: GradientVariance.Estimator
    /// Σ over the kernel's coordinates of the variance across draws.
    public var variance: Double
    public var stderr: Double

    public var json: JSONValue {
        .object([("layer", .string(layer)), ("batch", .int(batch)), ("parameter", .string(parameter.rawValue)),
                 ("estimator", .string(estimator.rawValue)), ("variance", .finite(variance)), ("stderr", .finite(stderr))])
    }
}

public struct GradientVarianceResult: Sendable {
    public var spec: String
    public var seed: UInt64
    public var draws: Int
    /// The batch-means groups behind the standard errors.
    public var groups: Int
    public var batches: [Int]
    /// The checkpoint measured, nil for the initial posterior.
    public var weights: String?
    public var layers: [(name: String, coordinates: Int)]
    public var rows: [GradientVarianceRow]

    public func row(_ layer: String, batch: Int, _ parameter: GradientVariance.Parameter,
                    _ estimator: GradientVariance.Estimator) -> GradientVarianceRow? {
        rows.first { $0.layer == layer && $0.batch == batch && $0.parameter == parameter && $0.estimator == estimator }
    }

    /// a ÷ b with its standard error; the two estimates come from independent draws, so relative errors add
    /// in quadrature.
    public func ratio(_ layer: String, batch: Int, _ parameter: GradientVariance.Parameter,
                      _ a: GradientVariance.Estimator, over b: GradientVariance.Estimator) -> (value: Double, stderr: Double) {
        guard let x = row(layer, batch: batch, parameter, a), let y = row(layer, batch: batch, parameter, b) else {
            return (.nan, .nan)
        }
        let r = x.variance / y.variance
        let relative = ((x.stderr / x.variance) * (x.stderr / x.variance) + (y.stderr / y.variance) * (y.stderr / y.variance)).squareRoot()
        return (r, abs(r) * relative)
    }

    public var json: JSONValue {
        .object([
            ("spec", .string(spec)),
            ("seed", seed <= UInt64(Int.max) ? .int(Int(seed)) : .string(String(seed))),
            ("draws", .int(draws)), ("groups", .int(groups)),
            ("weights", weights.map { .string($0) } ?? .null),
            ("layers", .array(layers.map { .object([("name", .string($0.name)), ("coordinates", .int($0.coordinates))]) })),
            ("rows", .array(rows.map(\.json))),
        ])
    }

    /// The table `bayesnet diagnose` prints: per layer and gradient, one line per batch size.
    public var lines: [String] {
        func variance(_ r: GradientVarianceRow?) -> String {
            guard let r else { return "" }
            return String(format: "%.3e ± %.1e", r.variance, r.stderr)
        }
        func shown(_ v: (value: Double, stderr: Double)) -> String {
            "\(Self.significant(v.value)) ± \(Self.significant(v.stderr, digits: 2))"
        }
        func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - s.count))
            return left ? fill + s : s + fill
        }
        var out = ["gradient variance of the data term across \(draws) weight-noise draws, summed over each kernel; "
                   + "± one standard error (batch means of \(groups) groups)"]
        let header = pad("gradient", 9) + pad("batch", 6, left: true) + "  " + pad("flipout", 21) + pad("shared", 21)
            + pad("independent", 21) + pad("shared/flipout", 17) + "flipout/independent"
        for layer in layers {
            out.append("")
            out.append("\(layer.name) (\(layer.coordinates) kernel coordinates)")
            out.append(header)
            for p in GradientVariance.Parameter.allCases {
                for n in batches {
                    let cells = GradientVariance.Estimator.allCases.map { pad(variance(row(layer.name, batch: n, p, $0)), 21) }
                    out.append(pad(p.rawValue, 9) + pad(String(n), 6, left: true) + "  " + cells.joined()
                               + pad(shown(ratio(layer.name, batch: n, p, .shared, over: .flipout)), 17)
                               + shown(ratio(layer.name, batch: n, p, .flipout, over: .independent)))
                }
            }
        }
        return out
    }

    /// Three significant digits, without an exponent in the range ratios take.
    static func significant(_ x: Double, digits: Int = 3) -> String {
        guard x.isFinite else { return "nan" }
        if x == 0 { return "0" }
        let magnitude = Int(floor(log10(abs(x))))
        if magnitude < -3 || magnitude > 5 { return String(format: "%.\(digits - 1)e", x) }
        return String(format: "%.\(max(0, digits - 1 - magnitude))f", x)
    }
}

/// One measurement in the spec's precision: the networks, the workers and the batch-means reduction.
final class GradientVarianceMeasurement<S: TensorScalar> {
    let spec: ModelSpec
    let layers: [(name: String, coordinates: Int)]
    let batches: [Int]
    let options: GradientVarianceOptions

    init(spec: ModelSpec, layers: [(name: String, coordinates: Int)], batches: [Int], options: GradientVarianceOptions) {
        self.spec = spec
        self.layers = layers
        self.batches = batches
        self.options = options
    }

    func run() throws(DiagnoseError) -> GradientVarianceResult {
        let maxBatch = batches.last!
        // The posterior to measure at: the checkpoint's, or the initial one of the seed.
        let reference: Network<S>
        do {
            if let weights = options.weights {
                reference = try Serving.network(S.self, spec: spec, weights: weights, seed: options.seed, maxBatch: 1,
                                                limits: options.limits)
            } else {
                reference = try Network<S>(spec: spec, seed: options.seed ?? spec.seed ?? 0, trainingExamples: 0, maxBatch: 1)
            }
        } catch {
            throw .cannotRun(RunError.wrapping(error))
        }
        let seed = reference.seed
        let data = try GradientVariance.data(spec: spec, seed: seed, maxBatch: maxBatch, limits: options.limits)
        if maxBatch > data.count { throw .batchExceedsData(batch: maxBatch, examples: data.count) }
        let indices = GradientVariance.minibatch(spec, examples: data.count, batch: maxBatch, seed: seed)

        let groups = GradientVariance.groups(draws: options.draws)
        let parts = batches.count * GradientVariance.Estimator.allCases.count * groups
        let threads = max(1, min(Runtime.threadCount, parts))
        var built: [GradientVarianceWorker<S>] = []
        do {
            for _ in 0..<threads {
                built.append(try GradientVarianceWorker<S>(spec: spec, layers: layers.map(\.name), data: data,
                                                           maxBatch: maxBatch, reference: reference))
            }
        } catch {
            throw .cannotRun(RunError.wrapping(error))
        }
        let workers = built
        let gradients = 2 * layers.count
        let results = UnsafeMutableBufferPointer<Double>.allocate(capacity: parts * gradients)
        results.initialize(repeating: .nan)
        defer { results.deallocate() }
        let finite = UnsafeMutableBufferPointer<Bool>.allocate(capacity: parts)
        finite.initialize(repeating: true)
        defer { finite.deallocate() }

        let estimators = GradientVariance.Estimator.allCases
        let draws = options.draws
        // Part p is (batch size, estimator, group); worker w takes parts w, w + threads, ...: which worker
        // measures a part does not change its figures.
        Runtime.parallelFor(threads) { w in
            var p = w
            while p < parts {
                let b = p / (estimators.count * groups), e = (p / groups) % estimators.count, g = p % groups
                let batch = batches[b]
                finite[p] = workers[w].measure(
                    estimators[e], batch: batch, indices: indices[0..<batch],
                    draws: GradientVariance.drawRange(g, draws: draws, groups: groups),
                    seed: GradientVariance.noiseSeed(seed, estimators[e], batch: batch),
                    into: results.baseAddress! + p * gradients)
                p += threads
            }
        }
        for p in 0..<parts where !finite[p] {
            let b = p / (estimators.count * groups), e = (p / groups) % estimators.count
            throw .nonFinite(estimator: estimators[e].rawValue, batch: batches[b])
        }

        var rows: [GradientVarianceRow] = []
        for (l, layer) in layers.enumerated() {
            for n in batches.indices {
                for (q, parameter) in GradientVariance.Parameter.allCases.enumerated() {
                    for e in estimators.indices {
                        let values = (0..<groups).map { results[((n * estimators.count + e) * groups + $0) * gradients + 2 * l + q] }
                        let mean = values.reduce(0, +) / Double(groups)
                        let spread = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(groups - 1)
                        rows.append(GradientVarianceRow(layer: layer.name, batch: batches[n], parameter: parameter,
                                                        estimator: estimators[e], variance: mean,
                                                        stderr: (spread / Double(groups)).squareRoot()))
                    }
                }
            }
        }
        return GradientVarianceResult(spec: spec.name, seed: seed, draws: draws, groups: groups, batches: batches,
                                      weights: options.weights, layers: layers, rows: rows)
    }
}

/// The networks one thread measures with (Flipout, and reparameterization for the shared and independent
/// estimators), each with the reference posterior, and the running sums of one group.
final class GradientVarianceWorker<S: TensorScalar> {
    let flipout: TrainingSession<S>
    let shared: TrainingSession<S>
    /// Per measured layer: the kernel loc's and ρ's parameters, in each session.
    let flipoutParameters: [Parameter<S>]
    let sharedParameters: [Parameter<S>]
    let offsets: [Int]
    let first: UnsafeMutablePointer<Double>
    let sums: UnsafeMutablePointer<Double>
    let squares: UnsafeMutablePointer<Double>

    init(spec: ModelSpec, layers: [String], data: Dataset, maxBatch: Int, reference: Network<S>) throws {
        let seed = reference.seed
        flipout = try TrainingSession<S>(spec: GradientVariance.spec(spec, with: .flipout, maxBatch: maxBatch), seed: seed,
                                         train: data, test: nil, batchSize: maxBatch)
        shared = try TrainingSession<S>(spec: GradientVariance.spec(spec, with: .reparameterization, maxBatch: maxBatch),
                                        seed: seed, train: data, test: nil, batchSize: maxBatch)
        for network in [flipout.network, shared.network] {
            for p in network.parameters {
                p.value.pointer.update(from: reference.parameter(named: p.name)!.value.pointer, count: p.count)
            }
        }
        func kernels(_ network: Network<S>) -> [Parameter<S>] {
            layers.flatMap { name in
                [name + ".kernel_posterior_loc", name + ".kernel_posterior_untransformed_scale"].map { network.parameter(named: $0)! }
            }
        }
        flipoutParameters = kernels(flipout.network)
        sharedParameters = kernels(shared.network)
        var offsets: [Int] = [], total = 0
        for p in flipoutParameters {
            offsets.append(total)
            total += p.count
        }
        self.offsets = offsets
        first = .allocate(capacity: max(total, 1))
        sums = .allocate(capacity: max(total, 1))
        squares = .allocate(capacity: max(total, 1))
    }

    deinit {
        first.deallocate()
        sums.deallocate()
        squares.deallocate()
    }

    /// Measures one group of draws: writes, per measured gradient, the sum over its coordinates of the unbiased
    /// variance across the group's draws. Returns false when a loss or gradient was not finite.
    func measure(_ estimator: GradientVariance.Estimator, batch: Int, indices: ArraySlice<Int>, draws: Range<Int>,
                 seed: UInt64, into out: UnsafeMutablePointer<Double>) -> Bool {
        let session = estimator == .flipout ? flipout : shared
        let parameters = estimator == .flipout ? flipoutParameters : sharedParameters
        let network = session.network
        if estimator != .independent { session.load(session.train, indices: indices) }
        var finite = true
        for (i, t) in draws.enumerated() {
            network.zeroGradients()
            switch estimator {
            case .flipout, .shared:
                network.forward(batch: batch, noise: NoiseContext(seed: seed, step: UInt64(t)))
                if !session.negativeLogLikelihood(batch: batch, gradientScale: 1).nll.isFinite { finite = false }
                network.backward(batch: batch)
            case .independent:
                // Each example its own weight sample; 1/N makes the sum the gradient of the batch's mean loss.
                for n in 0..<batch {
                    let at = indices.startIndex + n
                    session.load(session.train, indices: indices[at...at])
                    network.forward(batch: 1, noise: NoiseContext(seed: seed, step: UInt64(t) * UInt64(batch) + UInt64(n)))
                    if !session.negativeLogLikelihood(batch: 1, gradientScale: 1 / Double(batch)).nll.isFinite { finite = false }
                    network.backward(batch: 1)
                }
            }
            // Deviations from the group's first draw: the variance is unchanged, the sums stay small.
            for (j, p) in parameters.enumerated() {
                let g = p.gradient.pointer, o = offsets[j]
                for k in 0..<p.count {
                    let v = Double(g[k])
                    if !v.isFinite { finite = false }
                    if i == 0 {
                        first[o + k] = v
                        sums[o + k] = 0
                        squares[o + k] = 0
                    } else {
                        let d = v - first[o + k]
                        sums[o + k] += d
                        squares[o + k] += d * d
                    }
                }
            }
        }
        let n = Double(draws.count)
        for (j, p) in parameters.enumerated() {
            let o = offsets[j]
            var total = 0.0
            for k in 0..<p.count { total += (squares[o + k] - sums[o + k] * sums[o + k] / n) / (n - 1) }
            out[j] = total
        }
        return finite
    }
}
