import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import BayesNetRuntime

@Suite(.serialized) struct ThreadingTests {
    static func convolutionResults(_ g: ConvGeometry, batch: Int, threads: Int) -> (y: [Float], dx: [Float], dk: [Float]) {
        var rng = TestRandom(71)
        let x: [Float] = rng.array(batch * g.inputCount), k: [Float] = rng.array(g.kernelCount)
        let dy: [Float] = rng.array(batch * g.outputCount)
        var y = [Float](repeating: 0, count: dy.count), dx = [Float](repeating: 0, count: x.count)
        var dk: [Float] = rng.array(k.count)
        withThreads(threads) {
            Convolution.forward(x: x, kernel: k, bias: nil, y: &y, batch: batch, geometry: g)
            Convolution.backwardInput(dy: dy, kernel: k, dx: &dx, batch: batch, geometry: g, accumulate: false)
            Convolution.backwardKernel(x: x, dy: dy, dkernel: &dk, batch: batch, geometry: g, accumulate: true)
        }
        return (y, dx, dk)
    }

    /// Many input channels (the input gradient as a convolution); one input channel with a short, wide kernel
    /// gradient (split by columns) and more im2col rows than one reduction slice; three input channels (patches
    /// read in place at the AVX-512 level, the kernel gradient split by rows).
    static let geometries: [(ConvGeometry, Int)] = [
        (ConvGeometry(inputSpatial: [12, 11], inChannels: 24, outChannels: 16, filter: [3, 3], strides: [1, 1],
                      dilations: [1, 1], padding: .same), 6),
        (ConvGeometry(inputSpatial: [20, 20], inChannels: 1, outChannels: 200, filter: [3, 3], strides: [2, 1],
                      dilations: [1, 1], padding: .same), 24),
        (ConvGeometry(inputSpatial: [15, 13], inChannels: 3, outChannels: 16, filter: [5, 5], strides: [1, 1],
                      dilations: [1, 1], padding: .same), 12),
    ]

    @Test(arguments: 0..<3) func convolutionGivesTheSameBitsForAnyThreadCount(_ index: Int) {
        let (g, batch) = Self.geometries[index]
        cpuLevelLock.lock()
        defer { cpuLevelLock.unlock() }
        let one = Self.convolutionResults(g, batch: batch, threads: 1)
        for threads in [2, 3] {
            let other = Self.convolutionResults(g, batch: batch, threads: threads)
            #expect(one.y.map(\.bitPattern) == other.y.map(\.bitPattern))
            #expect(one.dx.map(\.bitPattern) == other.dx.map(\.bitPattern))
            #expect(one.dk.map(\.bitPattern) == other.dk.map(\.bitPattern))
        }
    }

    @Test func threadCountIsSettableAndAtLeastOne() {
        withThreads(3) { #expect(Runtime.threadCount == 3) }
        withThreads(0) { #expect(Runtime.threadCount == 1) }
    }

    @Test func parallelForRunsEveryTaskOnce() {
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 100)
        counts.initialize(repeating: 0, count: 100)
        defer { counts.deallocate() }
        withThreads(2) { Runtime.parallelFor(100) { counts[$0] += 1 } }
        #expect((0..<100).allSatisfy { counts[$0] == 1 })
    }

    /// Both tasks wait for each other: this finishes only if two threads run them at the same time.
    @Test func twoThreadsRunTasksAtTheSameTime() {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        let arrived = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        arrived.initialize(to: 0)
        let met = UnsafeMutablePointer<Bool>.allocate(capacity: 2)
        met.initialize(repeating: false, count: 2)
        defer { lock.deallocate(); arrived.deallocate(); met.deallocate() }
        withThreads(2) {
            Runtime.parallelFor(2) { task in
                pthread_mutex_lock(lock); arrived.pointee += 1; pthread_mutex_unlock(lock)
                var start = timespec(), now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &start)
                while true {
                    pthread_mutex_lock(lock); let both = arrived.pointee == 2; pthread_mutex_unlock(lock)
                    if both { met[task] = true; return }
                    clock_gettime(CLOCK_MONOTONIC, &now)
                    if now.tv_sec - start.tv_sec > 10 { return }
                    sched_yield()
                }
            }
        }
        #expect(met[0] && met[1])
    }

    @Test func nestedParallelForRunsInline() {
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 16)
        counts.initialize(repeating: 0, count: 16)
        defer { counts.deallocate() }
        withThreads(2) {
            Runtime.parallelFor(4) { outer in
                Runtime.parallelFor(4) { inner in counts[outer * 4 + inner] += 1 }
            }
        }
        #expect((0..<16).allSatisfy { counts[$0] == 1 })
    }

    @Test func concurrentCallersGetTheSameResults() async {
        let (g, batch) = Self.geometries[0]
        let reference = Self.convolutionResults(g, batch: batch, threads: 2)
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let r = Self.convolutionResults(g, batch: batch, threads: 2)
                    return maxError(r.y, reference.y) < 1e-5 && maxError(r.dk, reference.dk) < 1e-5
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}
