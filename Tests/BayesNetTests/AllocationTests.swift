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
/// The steps run on one thread: handing a job to the pool's other threads turns its non-escaping closure into
/// an escaping one (`withoutActuallyEscaping`), which costs one 32-byte closure context per parallel call.
/// Other suites may change the thread count meanwhile, so a window is measured again (at most a few times)
/// when the count was not one throughout it.
///
/// The claim is about optimized code (`swift test -c release`): an unoptimized build keeps generic values and
/// closure contexts on the heap, so there the tests check only that every step allocates alike (nothing
/// accumulates from step to step).
@Suite("Allocation")
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

    @Test func counterSeesSwiftAllocations() {
        let n = Self.allocations {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: 1000)
            p.deallocate()
        }
        #expect(n >= 1)
    }

    /// Allocations of each of `steps` runs of `body` on one thread, measured in a window where the thread
    /// count stayed one.
    static func singleThreadedAllocations(steps: Int, _ body: () throws -> Void) rethrows -> [Int] {
        let saved = Runtime.threadCount
        defer { Runtime.threadCount = saved }
        var counts: [Int] = []
        counts.reserveCapacity(steps)
        for _ in 0..<5 {
            Runtime.threadCount = 1
            counts.removeAll(keepingCapacity: true)
            for _ in 0..<steps { counts.append(try allocations(body)) }
            if Runtime.threadCount == 1 { break }
        }
        return counts
    }

    static func expectSteadyState(_ counts: [Int], _ what: String) {
        #if DEBUG
        #expect(Set(counts).count == 1, "\(what): allocations per step \(counts)")
        #else
        #expect(counts.allSatisfy { $0 == 0 }, "\(what): allocations per step \(counts)")
        #endif
    }

    @Test func trainingStepAllocatesNothingOnceWarm() throws {
        let session = try Self.session(Self.network, batch: 6)
        let indices = ArraySlice(0..<6)
        for _ in 0..<2 { _ = try session.trainStep(indices: indices) }
        let counts = try Self.singleThreadedAllocations(steps: 3) { _ = try session.trainStep(indices: indices) }
        Self.expectSteadyState(counts, "training step")
    }

    @Test func predictionPassAllocatesNothingOnceWarm() throws {
        let session = try Self.session(Self.network, batch: 6)
        let network = session.network
        network.forward(batch: 6, noise: NoiseContext(seed: 1, step: 0, evaluation: true))
        var step: UInt64 = 0
        let counts = Self.singleThreadedAllocations(steps: 3) {
            step += 1
            network.forward(batch: 6, noise: NoiseContext(seed: 1, step: step, evaluation: true))
        }
        Self.expectSteadyState(counts, "forward pass")
    }
}
