import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// What `bayesnet bench` times: training steps, prediction passes, or both.
public enum BenchMode: String, Sendable, CaseIterable {
    case train, predict, both
}

/// How a benchmark runs. Absent values come from the spec (`train.batch_size`).
public struct BenchOptions: Sendable, Equatable {
    public var batch: Int?
    public var steps: Int
    public var warmup: Int
    public var mode: BenchMode
    public var seed: UInt64

    public init(batch: Int? = nil, steps: Int = 20, warmup: Int = 3, mode: BenchMode = .both, seed: UInt64 = 1) {
        self.batch = batch
        self.steps = steps
        self.warmup = warmup
        self.mode = mode
        self.seed = seed
    }
}

/// The timings of one mode: every step's milliseconds and the figures drawn from them.
public struct BenchResult: Sendable, Equatable {
    public var mode: BenchMode
    public var batch: Int
    public var threads: Int
    /// Milliseconds of each timed step, in the order run.
    public var milliseconds: [Double]
    /// Floating-point operations of one step: 2 per multiply-add, a Flipout layer counting both of its
    /// products; a training step counts three forward passes (backward is twice forward).
    public var flopsPerStep: Double
    /// Floating-point operations of the products one step actually runs (2 per multiply-add): a fused Flipout
    /// convolution counts one product per pass, a layer whose input gradient nobody reads none for it.
    public var workFlopsPerStep: Double = 0
    /// FLOP/s of the threads running nothing but independent FMAs at once, measured just before this mode:
    /// the ceiling `workGflops` is a fraction of. Nil across ranks.
    public var peakFlops: Double?
    /// The process's peak resident memory while this mode ran (VmHWM), when the system reports it.
    public var peakResidentBytes: Int?
    /// Processes sharing each step (`mpirun -np`); `batch` is the global batch they split.
    public var ranks: Int = 1
    /// Mean milliseconds per timed step spent summing gradients across ranks (several ranks only).
    public var allreduceMilliseconds: Double?

    public var median: Double { Self.quantile(milliseconds, 0.5) }
    public var minimum: Double { milliseconds.min() ?? 0 }
    public var maximum: Double { milliseconds.max() ?? 0 }
    /// The middle half of the steps: 25th to 75th percentile.
    public var interquartile: (low: Double, high: Double) {
        (Self.quantile(milliseconds, 0.25), Self.quantile(milliseconds, 0.75))
    }
    public var imagesPerSecond: Double { median > 0 ? Double(batch) * 1000 / median : 0 }
    public var gflops: Double { median > 0 ? flopsPerStep / (median * 1e6) : 0 }
    public var workGflops: Double { median > 0 ? workFlopsPerStep / (median * 1e6) : 0 }
    /// The work's share of the FMA peak.
    public var peakFraction: Double? {
        guard let peakFlops, peakFlops > 0 else { return nil }
        return workGflops * 1e9 / peakFlops
    }

    /// Linear interpolation between the order statistics, as numpy's default percentile.
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    public var json: JSONValue {
        let q = interquartile
        var pairs: [(String, JSONValue)] = [
            ("mode", .string(mode.rawValue)), ("batch", .int(batch)), ("threads", .int(threads)),
            ("steps", .int(milliseconds.count)), ("median_ms", .finite(median)), ("min_ms", .finite(minimum)),
            ("max_ms", .finite(maximum)), ("p25_ms", .finite(q.low)), ("p75_ms", .finite(q.high)),
            ("images_per_second", .finite(imagesPerSecond)), ("gflop_per_step", .finite(flopsPerStep / 1e9)),
            ("gflops", .finite(gflops)), ("work_gflop_per_step", .finite(workFlopsPerStep / 1e9)),
            ("work_gflops", .finite(workGflops)), ("peak_gflops", peakFlops.map { .finite($0 / 1e9) } ?? .null),
            ("peak_fraction", peakFraction.map { .finite($0) } ?? .null),
        ]
        pairs.append(("peak_resident_bytes", peakResidentBytes.map { .int($0) } ?? .null))
        if ranks > 1 {
            pairs.append(("ranks", .int(ranks)))
            pairs.append(("allreduce_ms_per_step", allreduceMilliseconds.map { .finite($0) } ?? .null))
        }
        pairs.append(("step_ms", .array(milliseconds.map { .finite($0) })))
        return .object(pairs)
    }
}

/// Why a benchmark cannot run.
public enum BenchError: Error, CustomStringConvertible, Sendable {
    /// Training was asked for, but a spec without a likelihood has no loss.
    case noLikelihood
    /// Under mpirun only training steps are timed.
    case predictionAcrossRanks
    case batchTooSmall(Int)
    case training(TrainingError)
    case plan(PlanError)

    public var description: String {
        switch self {
        case .noLikelihood:
            return "the spec has no `likelihood`, so a training step has no loss (add `likelihood: categorical`, or bench with --mode predict)"
        case .predictionAcrossRanks:
            return "across ranks only training steps are timed (--mode train); time prediction without mpirun"
        case .batchTooSmall(let batch): return "the batch size must be at least 1, found \(batch)"
        case .training(let error): return error.description
        case .plan(let error): return error.description
        }
    }
}

/// Times training steps and prediction passes of a spec on random data of its input shape.
///
/// The data, the labels and every weight draw come from fixed seeds, so two runs do the same arithmetic.
/// A training step is the one `bayesnet run` takes (forward with one weight sample, NLL, KL, backward, the
/// optimizer update); a prediction pass is one forward pass with one weight sample.
public enum Benchmark {
    /// Multiply-adds of one example's forward pass, as `bayesnet inspect` counts them.
    public static func forwardMACs(_ spec: ModelSpec) -> Int {
        spec.layerSummaries.reduce(0) { $0 + $1.macs }
    }

    /// Random inputs in [0, 1), uniform labels for a categorical likelihood, zero targets for a normal one.
    public static func randomData(_ spec: ModelSpec, count: Int, seed: UInt64) -> Dataset {
        let size = spec.input.shape.reduce(1, *)
        let inputStream = RandomStream(seed: seed, name: "bench/inputs", step: 0)
        var inputs = [Float](repeating: 0, count: count * size)
        for i in 0..<inputs.count { inputs[i] = inputStream.uniform(at: i, as: Float.self) }
        let outputs = spec.outputShape.reduce(1, *)
        switch spec.likelihood {
        case .normal?:
            return Dataset(exampleShape: spec.input.shape, count: count, inputs: inputs,
                           targets: [Float](repeating: 0, count: count * outputs), targetShape: spec.outputShape)
        case .categorical?, .bernoulli?, nil:
            let labelStream = RandomStream(seed: seed, name: "bench/labels", step: 0)
            let classes = spec.labelClasses ?? outputs
            let labels = (0..<count).map { Int32(labelStream.bits(at: $0) % UInt64(max(classes, 1))) }
            return Dataset(exampleShape: spec.input.shape, count: count, inputs: inputs, labels: labels)
        }
    }

    /// Runs the modes `options` asks for; `progress` hears each mode's name before it starts. Across several
    /// ranks only training steps are timed: each rank takes its share of the batch and the gradients are summed.
    public static func run(spec: ModelSpec, options: BenchOptions, communicator: any Communicator = SingleProcess.shared,
                           progress: ((BenchMode) -> Void)? = nil) throws -> [BenchResult] {
        let modes: [BenchMode] = options.mode == .both ? [.train, .predict] : [options.mode]
        if communicator.size > 1 && modes != [.train] {
            throw BenchError.predictionAcrossRanks
        }
        if modes.contains(.train) && spec.likelihood == nil {
            throw BenchError.noLikelihood
        }
        let batch = options.batch ?? spec.train.batchSize
        guard batch >= 1 else { throw BenchError.batchTooSmall(batch) }
        // The plan's buffers are sized for the larger of the training and evaluation batches; the benchmark
        // runs only `batch`, so the evaluation batch must not inflate the memory it reports.
        var planned = spec
        planned.evaluate.batchSize = batch
        let session: TrainingSession<Float>?
        let network: Network<Float>
        do {
            if spec.likelihood != nil {
                let data = randomData(spec, count: batch, seed: options.seed)
                let s = try TrainingSession<Float>(spec: planned, seed: options.seed, train: data, test: nil,
                                                   batchSize: batch, communicator: communicator)
                session = s
                network = s.network
            } else {
                session = nil
                network = try Network<Float>(spec: planned, seed: options.seed, trainingExamples: batch, maxBatch: batch)
            }
        } catch let error as TrainingError {
            throw BenchError.training(error)
        } catch let error as PlanError {
            throw BenchError.plan(error)
        }
        let forwardFLOPs = 2 * Double(forwardMACs(spec)) * Double(batch)
        let peak = communicator.size > 1 ? nil : threadsPeakFlops()
        var results: [BenchResult] = []
        for mode in modes {
            progress?(mode)
            ResidentMemory.resetPeak()
            let times: [Double]
            var allreduce: Double?
            switch mode {
            case .train, .both:
                guard let session else { continue }
                let reduced: UInt64
                (times, reduced) = try timeTraining(session, batch: batch, warmup: options.warmup, steps: options.steps)
                if communicator.size > 1 { allreduce = Double(reduced) / 1e6 / Double(options.steps) }
            case .predict:
                times = timePrediction(network, batch: batch, warmup: options.warmup, steps: options.steps)
            }
            var result = BenchResult(mode: mode, batch: batch, threads: Runtime.threadCount, milliseconds: times,
                                     flopsPerStep: forwardFLOPs * (mode == .train ? 3 : 1),
                                     peakResidentBytes: ResidentMemory.peakBytes(), ranks: communicator.size,
                                     allreduceMilliseconds: allreduce)
            result.workFlopsPerStep = 2 * Double(network.multiplyAddsPerExample(training: mode == .train))
                * Double(batch)
            result.peakFlops = peak
            results.append(result)
        }
        return results
    }

    /// The FMA loop of the kernels' vector width on every thread at once, best of three: on cores that share
    /// FMA units the sum is less than threads × one core's figure, and the work is held to what they give.
    static func threadsPeakFlops() -> Double? {
        let threads = Runtime.threadCount
        let rates = UnsafeMutablePointer<Double>.allocate(capacity: threads)
        defer { rates.deallocate() }
        var best = 0.0
        for _ in 0..<3 {
            rates.initialize(repeating: 0, count: threads)
            Runtime.parallelFor(threads) { task in rates[task] = Runtime.peakFlops(Runtime.cpuLevel, seconds: 0.03) }
            best = max(best, (0..<threads).reduce(0.0) { $0 + rates[$1] })
        }
        return best > 0 ? best : nil
    }

    /// Every timed step's milliseconds, and the nanoseconds they spent summing gradients across ranks.
    static func timeTraining(_ session: TrainingSession<Float>, batch: Int, warmup: Int, steps: Int) throws -> ([Double], UInt64) {
        let indices = ArraySlice(0..<batch)
        for _ in 0..<warmup { _ = try session.trainStep(indices: indices) }
        let reducedBefore = session.reduceNanoseconds
        var times: [Double] = []
        times.reserveCapacity(steps)
        for _ in 0..<steps {
            let start = Clock.nanoseconds()
            _ = try session.trainStep(indices: indices)
            times.append(Double(Clock.nanoseconds() - start) / 1e6)
        }
        return (times, session.reduceNanoseconds - reducedBefore)
    }

    static func timePrediction(_ network: Network<Float>, batch: Int, warmup: Int, steps: Int) -> [Double] {
        let size = network.inputCount
        let inputStream = RandomStream(seed: network.seed, name: "bench/inputs", step: 0)
        for i in 0..<(batch * size) { network.input[i] = inputStream.uniform(at: i, as: Float.self) }
        var times: [Double] = []
        times.reserveCapacity(steps)
        for s in 0..<(warmup + steps) {
            let noise = NoiseContext(seed: network.seed, step: UInt64(s), evaluation: true)
            let start = Clock.nanoseconds()
            network.forward(batch: batch, noise: noise)
            if s >= warmup { times.append(Double(Clock.nanoseconds() - start) / 1e6) }
        }
        return times
    }
}

/// A monotonic clock that does not allocate.
enum Clock {
    static func nanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}

/// The process's resident memory as Linux reports it in /proc/self/status.
public enum ResidentMemory {
    /// VmHWM, the peak resident set size, in bytes; nil where /proc is not available.
    public static func peakBytes() -> Int? { read()?.peak }

    /// VmRSS, the current resident set size, in bytes.
    public static func currentBytes() -> Int? { read()?.current }

    /// Both from one read of /proc/self/status, so the peak is never below the current size.
    public static func read() -> (current: Int, peak: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let current = field("VmRSS:", in: text), let peak = field("VmHWM:", in: text) else { return nil }
        return (current, peak)
    }

    /// Starts a new peak from the current resident size (writing 5 to /proc/self/clear_refs).
    public static func resetPeak() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = "5".withCString { write(fd, $0, 1) }
        close(fd)
    }

    static func field(_ name: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let value = parts.first.flatMap({ Int($0) }) else { return nil }
            let unit = parts.count > 1 ? parts[1].lowercased() : "kb"
            return unit == "kb" ? value * 1024 : value
        }
        return nil
    }
}
