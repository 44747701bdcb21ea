import Testing
import BayesNetRuntime

/// The kernels of graph networks allocate nothing per call once their buffers are planned (see
/// `AllocationTests` for how the counting works and why optimized builds alone promise zero).
@Suite("Graph kernel allocation", .serialized)
struct GraphKernelAllocationTests {
    /// Planned buffers for one pass of every graph kernel over 8 × 32 × 16 × 16 channels-last values: enough
    /// work that each kernel splits over two threads.
    final class Buffers {
        let batch = 8, positions = 32 * 16, channels = 16
        var count: Int { batch * positions * channels }
        var rows: Int { batch * positions }
        let x: UnsafeMutablePointer<Float>, x2: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>
        let dy: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>, dx2: UnsafeMutablePointer<Float>
        let wide: UnsafeMutablePointer<Float>, pooled: UnsafeMutablePointer<Float>
        let gamma: UnsafeMutablePointer<Float>, beta: UnsafeMutablePointer<Float>
        let mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>
        let dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>
        let statistics: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Double>
        let inputs: UnsafeMutableBufferPointer<UnsafePointer<Float>>, widths: UnsafeMutableBufferPointer<Int>
        var all: [UnsafeMutablePointer<Float>] { [x, x2, y, dy, dx, dx2, wide, pooled, gamma, beta, mean, variance, dgamma, dbeta] }

        init() {
            let n = batch * positions * channels
            func buffer(_ count: Int, _ value: (Int) -> Float) -> UnsafeMutablePointer<Float> {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
                for i in 0..<count { p[i] = value(i) }
                return p
            }
            x = buffer(n) { Float($0 % 97) * 0.01 - 0.4 }
            x2 = buffer(n) { Float($0 % 89) * 0.02 - 0.7 }
            y = buffer(n) { _ in 0 }
            dy = buffer(n) { Float($0 % 83) * 0.01 - 0.3 }
            dx = buffer(n) { _ in 0 }
            dx2 = buffer(n) { _ in 0 }
            wide = buffer(2 * n) { _ in 0 }
            pooled = buffer(batch * channels) { _ in 0 }
            gamma = buffer(channels) { _ in 1.5 }
            beta = buffer(channels) { _ in 0.5 }
            mean = buffer(channels) { _ in 0 }
            variance = buffer(channels) { _ in 1 }
            dgamma = buffer(channels) { _ in 0 }
            dbeta = buffer(channels) { _ in 0 }
            statistics = .allocate(capacity: 2 * channels)
            scratch = .allocate(capacity: BatchNormalization.scratchCount(rows: batch * positions, channels: channels))
            inputs = .allocate(capacity: 2)
            inputs[0] = UnsafePointer(x)
            inputs[1] = UnsafePointer(x2)
            widths = .allocate(capacity: 2)
            widths[0] = channels
            widths[1] = channels
        }

        deinit {
            for p in all { p.deallocate() }
            statistics.deallocate(); scratch.deallocate(); inputs.deallocate(); widths.deallocate()
        }

        func step(_ index: Int) {
            let c = channels, stream = RandomStream(seed: 5, name: "d/dropout", step: UInt64(index))
            BatchNormalization.trainingForward(x: x, y: y, gamma: gamma, beta: beta, statistics: statistics, rows: rows,
                                               channels: c, epsilon: 1e-3, scratch: scratch)
            BatchNormalization.updateMovingStatistics(statistics: statistics, movingMean: mean, movingVariance: variance,
                                                      rows: rows, channels: c, momentum: 0.99, unbiasedVariance: true)
            BatchNormalization.trainingBackward(x: x, dy: dy, dx: dx, gamma: gamma, statistics: statistics,
                                                dgamma: dgamma, dbeta: dbeta, rows: rows, channels: c, epsilon: 1e-3,
                                                accumulate: false, accumulateParameters: false, scratch: scratch)
            BatchNormalization.inferenceForward(x: x, y: y, gamma: gamma, beta: beta, movingMean: mean,
                                                movingVariance: variance, rows: rows, channels: c, epsilon: 1e-3,
                                                scratch: scratch)
            BatchNormalization.inferenceBackward(x: x, dy: dy, dx: dx, gamma: gamma, movingMean: mean,
                                                 movingVariance: variance, dgamma: dgamma, dbeta: dbeta, rows: rows,
                                                 channels: c, epsilon: 1e-3, accumulate: true,
                                                 accumulateParameters: true, scratch: scratch)
            GlobalPooling.averageForward(x: x, y: pooled, batch: batch, positions: positions, channels: c)
            GlobalPooling.averageBackward(dy: pooled, dx: dx, batch: batch, positions: positions, channels: c,
                                          accumulate: true)
            GlobalPooling.maxForward(x: x, y: pooled, batch: batch, positions: positions, channels: c)
            GlobalPooling.maxBackward(x: x, dy: pooled, dx: dx, batch: batch, positions: positions, channels: c,
                                      accumulate: false)
            Add.forward(inputs: UnsafeBufferPointer(inputs), y: y, count: count)
            Add.backward(dy: dy, dx: dx2, count: count, accumulate: true)
            Concatenate.forward(inputs: UnsafeBufferPointer(inputs), widths: UnsafeBufferPointer(widths), y: wide,
                                outer: rows)
            Concatenate.backward(dy: wide, dx: dx, outer: rows, offset: c, width: c, total: 2 * c, accumulate: true)
            Dropout.forward(x: x, y: y, count: count, perExample: positions * c, firstExample: 16, rate: 0.25,
                            stream: stream)
            Dropout.backward(dy: dy, dx: dx, count: count, perExample: positions * c, firstExample: 16, rate: 0.25,
                             stream: stream, accumulate: false)
        }
    }

    @Test(arguments: AllocationTests.threadCounts)
    func graphKernelsAllocateNothingPerCall(threads: Int) {
        let buffers = Buffers()
        var index = 0
        let counts = AllocationTests.allocations(threads: threads, steps: 3) {
            buffers.step(index)
            index += 1
        }
        AllocationTests.expectSteadyState(counts, "graph kernels on \(threads) threads")
    }
}
