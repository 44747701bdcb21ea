#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif
import CKernels

/// A job for `Runtime.parallelFor`: `run(part)` is called once for every part, from several threads at once,
/// so parts must write disjoint memory.
///
/// A value type holding what the work needs, where a closure would capture it: the pool reaches the caller's
/// copy through a pointer, so handing a task to other threads allocates nothing. (A non-escaping closure can
/// only be handed over by making it escapable, which costs a heap context on every call.) Hot tasks hold only
/// pointers and integers: a part may run on a copy of the task, and copying arrays or class references means
/// reference counting from every thread at once.
public protocol ParallelTask {
    func run(_ part: Int)
}

/// A persistent pool of worker threads. Kernels split their work into a few coarse tasks; the calling
/// thread takes part, so one thread means no hand-off at all. A call made while the pool is busy
/// (nested, or from another thread) runs inline instead of waiting, so the pool never deadlocks.
@usableFromInline
final class ThreadPool: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let dispatch: UnsafeMutablePointer<pthread_mutex_t>
    private let workReady: UnsafeMutablePointer<pthread_cond_t>
    private let workDone: UnsafeMutablePointer<pthread_cond_t>
    /// `generation`, readable without the mutex, for workers spinning briefly before they sleep.
    private let published: UnsafeMutablePointer<UInt64>

    // Guarded by `mutex`.
    private var active: Int
    private var spawned = 0
    private var generation: UInt64 = 0
    private var participants = 0
    private var job: Job?
    private var taskCount = 0
    private var nextTask = 0
    private var finished = 0

    init(threads: Int) {
        mutex = .allocate(capacity: 1); pthread_mutex_init(mutex, nil)
        dispatch = .allocate(capacity: 1); pthread_mutex_init(dispatch, nil)
        workReady = .allocate(capacity: 1); pthread_cond_init(workReady, nil)
        workDone = .allocate(capacity: 1); pthread_cond_init(workDone, nil)
        published = .allocate(capacity: 1); published.initialize(to: 0)
        active = max(1, threads)
    }

    var threadCount: Int {
        get {
            pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
            return active
        }
        set {
            let n = max(1, newValue)
            pthread_mutex_lock(dispatch); defer { pthread_mutex_unlock(dispatch) }
            pthread_mutex_lock(mutex)
            active = n
            pthread_mutex_unlock(mutex)
        }
    }

    /// Calls `invoke(task, part)` for every part in `0..<count`, spread over the pool; returns when every part
    /// has finished. `task` points to the caller's task value; `invoke` captures nothing (it is specialized for
    /// the task's type), so storing it for the workers allocates nothing.
    @usableFromInline
    func run(_ count: Int, _ task: UnsafeRawPointer, _ invoke: @escaping Invoke) {
        if count <= 0 { return }
        if count == 1 || threadCount == 1 || pthread_mutex_trylock(dispatch) != 0 {
            for part in 0..<count { invoke(task, part) }
            return
        }
        defer { pthread_mutex_unlock(dispatch) }
        pthread_mutex_lock(mutex)
        let helpers = min(active - 1, count - 1)
        while spawned < helpers { spawnWorker(index: spawned); spawned += 1 }
        let current = Job(task: task, invoke: invoke)
        job = current
        taskCount = count
        nextTask = 0
        finished = 0
        participants = helpers
        generation &+= 1
        bn_atomic_store(published, generation)
        pthread_cond_broadcast(workReady)
        drainTasks(current)
        while finished < taskCount { pthread_cond_wait(workDone, mutex) }
        job = nil
        pthread_mutex_unlock(mutex)
    }

    @usableFromInline
    typealias Invoke = (UnsafeRawPointer, Int) -> Void

    /// A published job: the task (valid until every part has finished) and how to run one of its parts.
    private struct Job {
        let task: UnsafeRawPointer
        let invoke: Invoke
    }

    /// Called with `mutex` held; returns with it held.
    private func drainTasks(_ job: Job) {
        while nextTask < taskCount {
            let t = nextTask
            nextTask += 1
            pthread_mutex_unlock(mutex)
            job.invoke(job.task, t)
            pthread_mutex_lock(mutex)
            finished += 1
        }
        if finished == taskCount { pthread_cond_broadcast(workDone) }
    }

    /// `seen` is the generation before the job the worker was spawned for, so it takes part in that job.
    /// After a job a worker watches for the next one for a short while before it sleeps: kernels come in quick
    /// succession, and waking a sleeping thread costs more than most of them take.
    private func workerLoop(index: Int, seen start: UInt64) {
        pthread_mutex_lock(mutex)
        var seen = start
        while true {
            if generation == seen {
                pthread_mutex_unlock(mutex)
                var spins = 0
                while bn_atomic_load(published) == seen && spins < Self.spinLimit {
                    bn_cpu_relax()
                    spins += 1
                    if spins % Self.yieldEvery == 0 { sched_yield() }
                }
                pthread_mutex_lock(mutex)
            }
            while generation == seen { pthread_cond_wait(workReady, mutex) }
            seen = generation
            if index < participants, let job { drainTasks(job) }
        }
    }

    /// About 5 ms of `pause` instructions: a training step's kernels are separated by serial work of up to a
    /// few milliseconds, and a sleeping worker woke too late for many of them (w1 training at 2 threads took
    /// 1.0-1.12 times as long with 50 µs, alternating binaries on a quiet machine). The watch yields now and
    /// then, so that on a busy machine it gives way to other work.
    private static let spinLimit = 200_000
    private static let yieldEvery = 256

    /// Called with `mutex` held, before `generation` moves to the job that needs the worker.
    private func spawnWorker(index: Int) {
        let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index, seen: generation)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
            context.pool.workerLoop(index: context.index, seen: context.seen)
            return nil
        }, context)
        precondition(rc == 0, "ThreadPool: pthread_create failed (\(rc))")
        pthread_detach(thread)
    }

    private final class WorkerContext {
        let pool: ThreadPool
        let index: Int
        let seen: UInt64
        init(pool: ThreadPool, index: Int, seen: UInt64) { self.pool = pool; self.index = index; self.seen = seen }
    }
}

extension Runtime {
    @usableFromInline
    static let pool = ThreadPool(threads: Int(bn_cpu_active_cores()))

    /// Threads the kernels use. Defaults to the cores this process may run on; setting it is thread-safe
    /// (but not from inside a `parallelFor` task) and takes effect from the next kernel call.
    public static var threadCount: Int {
        get { pool.threadCount }
        set { pool.threadCount = newValue }
    }

    /// Runs `task.run(part)` for every part in `0..<count` on the runtime's threads and waits for all of them.
    /// Allocates nothing: the workers reach `task` through a pointer, and the function that calls it captures
    /// nothing once specialized for `T`. (Called from unspecialized generic code it would carry `T`'s metadata in
    /// a heap context, so generic kernels that call it are `@inlinable` or `@_specialize`d.)
    @inlinable
    public static func parallelFor<T: ParallelTask>(_ count: Int, _ task: T) {
        withUnsafePointer(to: task) { pointer in
            pool.run(count, UnsafeRawPointer(pointer)) { raw, part in
                raw.assumingMemoryBound(to: T.self).pointee.run(part)
            }
        }
    }

    /// Runs `body(part)` for every part in `0..<count` on the runtime's threads and waits for all of them.
    /// Parts must write disjoint memory. Handing the closure to other threads costs a small heap allocation
    /// per call, so kernels use the `ParallelTask` form.
    public static func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        if count == 1 || threadCount == 1 {
            for part in 0..<max(count, 0) { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in parallelFor(count, ClosureTask(body: body)) }
    }

    private struct ClosureTask: ParallelTask {
        let body: (Int) -> Void
        func run(_ part: Int) { body(part) }
    }

    /// How many contiguous ranges of at least `grain` elements to split `0..<total` into: at most
    /// `threadCount`, or `perThread` times that where the split cannot change the results, so that a thread
    /// held up by other processes on a shared machine leaves its share to the others.
    @usableFromInline
    static func partitions(_ total: Int, grain: Int = 1, perThread: Int = 1) -> Int {
        if total <= 0 { return 0 }
        let threads = threadCount
        if threads == 1 { return 1 }
        return max(1, min(threads * perThread, total / max(1, grain)))
    }
}

/// The `part`-th of `parts` near-equal contiguous slices of `0..<total`.
@inlinable
func sliceRange(_ total: Int, part: Int, of parts: Int) -> Range<Int> {
    let base = total / parts, extra = total % parts
    let lo = part * base + min(part, extra)
    return lo..<(lo + base + (part < extra ? 1 : 0))
}
