import Foundation
import Testing
import AllocationCounter
import BayesNetSpec
import BayesNetRuntime
@testable import BayesNet

/// A training step allocates nothing once the plan is built: every buffer is sized from the inferred shapes
/// when the network is planned, as a compiler assigns registers.
///
/// The counter sees the allocations of the test's own thread. That thread always runs the first task of every
/// parallel kernel and everything between kernels, so an allocation made per call or per task shows up here.
///
/// Steps are measured on one thread and on two: with two, every kernel split into several tasks hands them to
/// the pool (a `ParallelTask` value reached through a pointer, so the hand-off itself allocates nothing; a
/// closure handed over would cost one heap context per call, ten per step of this network). Other suites may
/// change the thread count meanwhile, so a window is measured again (at most a few times) when the count was
/// not the intended one throughout it; the first steps at a new count are not measured, since the pool starts
/// its threads then.
///
/// The claim is about optimized code (`swift test -c release`): an unoptimized build keeps generic values and
/// closure contexts on the heap, so there the tests check only that every step on one thread allocates alike
/// (nothing accumulates from step to step). With two threads that count would depend on how many tasks this
/// thread happened to take, so unoptimized builds measure one thread only.
@Suite("Allocation", .serialized)
struct AllocationTests {
    /// Heap allocations `body` makes on this thread.
    static func allocations(_ body: () throws -> Void) rethrows -> Int {
        bn_allocation_count_begin()
        defer { _ = bn_allocation_count_end() }
        try body()
        return bn_allocation_count_end()
    }

    static func session(_ yaml: String, batch: Int) throws -> TrainingSession<Float> {
        let spec = try #require(SpecLoader.load(text: yaml).spec)
        let data = Benchmark.randomData(spec, count: batch, seed: 3)
        return try TrainingSession<Float>(spec: spec, seed: 11, train: data, test: nil, batchSize: batch)
    }

    /// Every layer kind of the benchmark workloads, small: Flipout convolutions with few and many input channels
    /// (the scatter and the convolution form of the input gradient), pooling, flattening, Flipout dense layers.
    static let network = """
        bayesnet: 1
        name: allocation
        input: {shape: [12, 12, 1]}
        defaults:
          Conv2DFlipout: {kernel_size: 3, padding: same, activation: relu, penalty_weight: 1/60000, prior: {normal: {loc: 0, scale: 1}}}
        layers:
          - Conv2DFlipout: {filters: 4}
          - MaxPooling2D: {pool_size: 2}
          - Conv2DFlipout: {filters: 12}
          - Conv2DFlipout: {filters: 8}
          - Flatten
          - DenseFlipout: {units: 16, activation: relu, penalty_weight: 1/60000}
          - DenseFlipout: {units: 3, penalty_weight: 1/60000}
        likelihood: categorical
        train: {batch_size: 6, optimizer: {adam: {learning_rate: 0.001}}}
        """

    /// The layers that take the other paths: deterministic and reparameterization convolutions (the input
    /// gradient as a convolution with 8 or more input channels, and by scatter with strides), Flipout with signs
    /// per element (two products), and a Flipout convolution on a map too small to fuse.
    static let otherPaths = """
        bayesnet: 1
        name: allocation-other-paths
        input: {shape: [10, 10, 2]}
        layers:
          - Conv2D: {filters: 8, kernel_size: 3, padding: same, activation: relu}
          - Conv2D: {filters: 8, kernel_size: 3, padding: same, activation: tanh}
          - Conv2DReparameterization: {filters: 6, kernel_size: 3, strides: 2, padding: same, penalty_weight: 1/60000}
          - ConvolutionVariationalFlipout: {output_size: 4, filter_shape: 3, padding: same, signs: per_element, penalty_weight: 1/60000}
          - Conv2DFlipout: {filters: 4, kernel_size: 3, strides: 2, padding: same, penalty_weight: 1/60000}
          - Flatten
          - Dense: {units: 3}
        likelihood: categorical
        train: {batch_size: 5, optimizer: {sgd: {learning_rate: 0.01, momentum: 0.9}}}
        """

    /// A graph: a skip connection read twice (fan-out), batch normalization, dropout, a concatenation, an
    /// activation layer and global pooling.
    static let graph = """
        bayesnet: 1
        name: allocation-graph
        input: {shape: [8, 8, 2]}
        layers:
          - Conv2DFlipout: {name: stem, filters: 4, kernel_size: 3, padding: same, penalty_weight: 1/60000}
          - BatchNormalization: {name: bn}
          - Activation: {name: act, activation: relu}
          - Conv2DFlipout: {name: conv, filters: 4, kernel_size: 3, padding: same, penalty_weight: 1/60000}
          - Add: {name: add, inputs: [conv, act]}
          - Dropout: {name: drop, rate: 0.25}
          - Concatenate: {name: join, inputs: [drop, act]}
          - GlobalAveragePooling2D: {name: pool}
          - DenseFlipout: {units: 3, penalty_weight: 1/60000}
        likelihood: categorical
        train: {batch_size: 6, optimizer: {adam: {learning_rate: 0.001}}}
        evaluate: {mc_dropout: true}
        """

    @Test func counterSeesSwiftAllocations() {
        let n = Self.allocations {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: 1000)
            p.deallocate()
        }
        #expect(n >= 1)
    }

    /// Allocations of each of `steps` runs of `body` with the kernels on `threads` threads, measured in a
    /// window where the thread count stayed `threads`, after two unmeasured runs at that count.
    static func allocations(threads: Int, steps: Int, _ body: () throws -> Void) rethrows -> [Int] {
        let saved = Runtime.threadCount
        defer { Runtime.threadCount = saved }
        var counts: [Int] = []
        counts.reserveCapacity(steps)
        for _ in 0..<5 {
            Runtime.threadCount = threads
            for _ in 0..<2 { try body() }
            counts.removeAll(keepingCapacity: true)
            var steady = true
            for _ in 0..<steps {
                counts.append(try allocations(body))
                steady = steady && Runtime.threadCount == threads
            }
            if steady { break }
        }
        return counts
    }

    /// The thread counts steps are measured with.
    #if DEBUG
    static let threadCounts = [1]
    #else
    static let threadCounts = [1, 2]
    #endif

    static func expectSteadyState(_ counts: [Int], _ what: String) {
        #if DEBUG
        #expect(Set(counts).count == 1, "\(what): allocations per step \(counts)")
        #else
        #expect(counts.allSatisfy { $0 == 0 }, "\(what): allocations per step \(counts)")
        #endif
    }

    @Test(arguments: threadCounts)
    func trainingStepAllocatesNothingOnceWarm(threads: Int) throws {
        let session = try Self.session(Self.network, batch: 6)
        let indices = ArraySlice(0..<6)
        let counts = try Self.allocations(threads: threads, steps: 3) { _ = try session.trainStep(indices: indices) }
        Self.expectSteadyState(counts, "training step on \(threads) thread(s)")
    }

    /// Blocks of 4 and 2 with two weight samples: the Double sums of `gradient_block_size` and the weight samples
    /// drawn ahead for the blocks are sized once too.
    @Test(arguments: threadCounts)
    func blockedTrainingStepAllocatesNothingOnceWarm(threads: Int) throws {
        let blocked = Self.network.replacingOccurrences(of: "train: {batch_size: 6,", with: "train: {batch_size: 6, samples: 2, gradient_block_size: 4,")
        let session = try Self.session(blocked, batch: 6)
        #expect(session.gradientBlockSize == 4)
        let indices = ArraySlice(0..<6)
        let counts = try Self.allocations(threads: threads, steps: 3) { _ = try session.trainStep(indices: indices) }
        Self.expectSteadyState(counts, "blocked training step on \(threads) thread(s)")
    }

    @Test(arguments: threadCounts)
    func predictionPassAllocatesNothingOnceWarm(threads: Int) throws {
        let session = try Self.session(Self.network, batch: 6)
        let network = session.network
        var step: UInt64 = 0
        let counts = Self.allocations(threads: threads, steps: 3) {
            step += 1
            network.forward(batch: 6, noise: NoiseContext(seed: 1, step: step, evaluation: true))
        }
        Self.expectSteadyState(counts, "forward pass on \(threads) thread(s)")
    }

    @Test(arguments: threadCounts)
    func trainingStepOfTheOtherLayerPathsAllocatesNothingOnceWarm(threads: Int) throws {
        let session = try Self.session(Self.otherPaths, batch: 5)
        let indices = ArraySlice(0..<5)
        let counts = try Self.allocations(threads: threads, steps: 3) { _ = try session.trainStep(indices: indices) }
        Self.expectSteadyState(counts, "training step on \(threads) thread(s)")
    }

    @Test(arguments: threadCounts)
    func trainingStepOfAGraphAllocatesNothingOnceWarm(threads: Int) throws {
        let session = try Self.session(Self.graph, batch: 6)
        let indices = ArraySlice(0..<6)
        let counts = try Self.allocations(threads: threads, steps: 3) { _ = try session.trainStep(indices: indices) }
        Self.expectSteadyState(counts, "graph training step on \(threads) thread(s)")
    }

    @Test(arguments: threadCounts)
    func predictionPassOfAGraphAllocatesNothingOnceWarm(threads: Int) throws {
        let network = try Self.session(Self.graph, batch: 6).network
        var step: UInt64 = 0
        let counts = Self.allocations(threads: threads, steps: 3) {
            step += 1
            network.forward(batch: 6, noise: NoiseContext(seed: 1, step: step, evaluation: true))
        }
        Self.expectSteadyState(counts, "graph forward pass on \(threads) thread(s)")
    }
}
