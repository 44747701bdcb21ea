/// The per-weight work of a training step (σ from ρ, the normal draws, the ρ gradient, the KL term, the
/// optimizer's update), split over the threads. Every element is computed exactly as the sequential loop
/// computes it, and the random draws are keyed by element index, so the split changes no value.
public enum WeightLoops {
    /// Elements per task below which splitting costs more than it saves.
    static let grain = 16_384

    /// ε the stream's normals and draw = σ ⊙ ε, or μ + σ ⊙ ε when `loc` is given, σ = 1e-5 + softplus(ρ).
    /// σ is recomputed on every call (in vector code that costs less than checking which ρ changed) and not
    /// kept: the KL term forms it again from ρ.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func sample<S: TensorScalar>(rho: UnsafePointer<S>, loc: UnsafePointer<S>?,
                                               epsilon: UnsafeMutablePointer<S>, draw: UnsafeMutablePointer<S>,
                                               count: Int, stream: RandomStream) {
        let parts = tasks(count)
        Runtime.parallelFor(parts, SampleTask(rho: rho, loc: loc, epsilon: epsilon, draw: draw,
                                              count: count, stream: stream, parts: parts))
    }

    /// `sample` over the `part`-th slice of the elements.
    struct SampleTask<S: TensorScalar>: ParallelTask {
        let rho: UnsafePointer<S>, loc: UnsafePointer<S>?
        let epsilon: UnsafeMutablePointer<S>, draw: UnsafeMutablePointer<S>
        let count: Int, stream: RandomStream, parts: Int

        func run(_ part: Int) {
            let range = sliceRange(count, part: part, of: parts)
            let lo = range.lowerBound
            stream.fillNormal(epsilon + lo, count: range.count, offset: lo)
            PosteriorMath.sample(rho: rho + lo, loc: loc.map { $0 + lo }, epsilon: epsilon + lo, sigma: nil,
                                 draw: draw + lo, count: range.count)
        }
    }

    /// dρ += dW ⊙ ε ⊙ sigmoid(ρ), since W depends on ρ through σ ⊙ ε.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func addRhoGradient<S: TensorScalar>(rho: UnsafePointer<S>, dDraw: UnsafePointer<S>,
                                                       epsilon: UnsafePointer<S>, gradient: UnsafeMutablePointer<S>,
                                                       count: Int) {
        let parts = tasks(count)
        Runtime.parallelFor(parts, RhoGradientTask(rho: rho, dDraw: dDraw, epsilon: epsilon, gradient: gradient,
                                                   count: count, parts: parts))
    }

    /// `addRhoGradient` over the `part`-th slice of the elements.
    struct RhoGradientTask<S: TensorScalar>: ParallelTask {
        let rho: UnsafePointer<S>, dDraw: UnsafePointer<S>, epsilon: UnsafePointer<S>
        let gradient: UnsafeMutablePointer<S>
        let count: Int, parts: Int

        func run(_ part: Int) {
            let r = sliceRange(count, part: part, of: parts), lo = r.lowerBound
            PosteriorMath.addRhoGradient(rho: rho + lo, dDraw: dDraw + lo, epsilon: epsilon + lo,
                                         gradient: gradient + lo, count: r.count)
        }
    }

    /// The KL term of a layer's weights and its gradients: analytic against a Normal prior
    /// (`Divergence.klNormalNormal`), or the one-sample estimate against a scale mixture at the weights drawn
    /// with `epsilon` (`Divergence.monteCarloKL`).
    public enum KLTerm<S: TensorScalar> {
        case normal(loc: Double, scale: Double)
        case mixture(pi: Double, scale1: Double, scale2: Double, epsilon: UnsafePointer<S>)

        /// Elements `lo ..< lo + count`.
        @inline(__always)
        func sum(loc: UnsafePointer<S>, rho: UnsafePointer<S>, lo: Int, count: Int, weight: S,
                 dLoc: UnsafeMutablePointer<S>?, dRho: UnsafeMutablePointer<S>?) -> Double {
            switch self {
            case .normal(let priorLoc, let priorScale):
                return Divergence.klNormalNormal(loc: loc + lo, rho: rho + lo, priorLoc: priorLoc,
                                                 priorScale: priorScale, count: count, weight: weight,
                                                 dLoc: dLoc.map { $0 + lo }, dRho: dRho.map { $0 + lo })
            case .mixture(let pi, let scale1, let scale2, let epsilon):
                return Divergence.monteCarloKL(loc: loc + lo, rho: rho + lo, epsilon: epsilon + lo,
                                               prior: (pi, scale1, scale2), count: count, weight: weight,
                                               dLoc: dLoc.map { $0 + lo }, dRho: dRho.map { $0 + lo })
            }
        }
    }

    /// The KL term summed over `count` weights, its gradients times `weight` added into `dLoc` and `dRho`.
    /// The elements are cut into blocks of a fixed size, whatever the thread count, and the blocks' sums added
    /// in order, so the total is the same with any thread count (it differs from one sequential sum only in
    /// the rounding of that sum); the gradients are elementwise and exactly the sequential ones.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func divergence<S: TensorScalar>(_ term: KLTerm<S>, loc: UnsafePointer<S>, rho: UnsafePointer<S>,
                                                   count: Int, weight: S, dLoc: UnsafeMutablePointer<S>?,
                                                   dRho: UnsafeMutablePointer<S>?) -> Double {
        let blocks = (count + klBlock - 1) / klBlock
        if blocks <= 1 {
            return term.sum(loc: loc, rho: rho, lo: 0, count: count, weight: weight, dLoc: dLoc, dRho: dRho)
        }
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: min(blocks, maxKLBlocks)) { sums in
            var total = 0.0
            var first = 0
            // At most maxKLBlocks partial sums at a time, so the scratch stays on the stack.
            while first < blocks {
                let n = min(maxKLBlocks, blocks - first)
                let parts = min(n, Runtime.threadCount)
                Runtime.parallelFor(parts, KLBlocksTask(term: term, loc: loc, rho: rho, count: count, weight: weight,
                                                        dLoc: dLoc, dRho: dRho, sums: sums.baseAddress!,
                                                        first: first, blocks: n, parts: parts))
                for b in 0..<n { total += sums[b] }
                first += n
            }
            return total
        }
    }

    static let klBlock = 32_768
    static let maxKLBlocks = 64

    /// The KL sums of blocks `first + b` for the `part`-th slice of b in `0..<blocks`, into `sums[b]`.
    struct KLBlocksTask<S: TensorScalar>: ParallelTask {
        let term: KLTerm<S>
        let loc: UnsafePointer<S>, rho: UnsafePointer<S>
        let count: Int, weight: S
        let dLoc: UnsafeMutablePointer<S>?, dRho: UnsafeMutablePointer<S>?
        let sums: UnsafeMutablePointer<Double>
        let first: Int, blocks: Int, parts: Int

        func run(_ part: Int) {
            for b in sliceRange(blocks, part: part, of: parts) {
                let lo = (first + b) * klBlock
                sums[b] = term.sum(loc: loc, rho: rho, lo: lo, count: min(klBlock, count - lo), weight: weight,
                                   dLoc: dLoc, dRho: dRho)
            }
        }
    }

    /// One Adam step, as `Optimizers.adamStep` (elementwise, so split over threads with identical results).
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func adamStep<S: TensorScalar>(parameters: UnsafeMutablePointer<S>, gradients: UnsafePointer<S>,
                                                 m: UnsafeMutablePointer<S>, v: UnsafeMutablePointer<S>, count: Int,
                                                 step: Int, learningRate: Double, beta1: Double, beta2: Double,
                                                 epsilon: Double) {
        let parts = tasks(count)
        Runtime.parallelFor(parts, AdamTask(parameters: parameters, gradients: gradients, m: m, v: v, count: count,
                                            step: step, learningRate: learningRate, beta1: beta1, beta2: beta2,
                                            epsilon: epsilon, parts: parts))
    }

    /// `adamStep` over the `part`-th slice of the elements.
    struct AdamTask<S: TensorScalar>: ParallelTask {
        let parameters: UnsafeMutablePointer<S>, gradients: UnsafePointer<S>
        let m: UnsafeMutablePointer<S>, v: UnsafeMutablePointer<S>
        let count: Int, step: Int, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double
        let parts: Int

        func run(_ part: Int) {
            let r = sliceRange(count, part: part, of: parts)
            Optimizers.adamStep(parameters: parameters + r.lowerBound, gradients: gradients + r.lowerBound,
                                m: m + r.lowerBound, v: v + r.lowerBound, count: r.count, step: step,
                                learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
        }
    }

    /// One step of SGD with momentum, as `Optimizers.sgdStep`, on the same split as Adam.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func sgdStep<S: TensorScalar>(parameters: UnsafeMutablePointer<S>, gradients: UnsafePointer<S>,
                                                velocity: UnsafeMutablePointer<S>, count: Int, learningRate: Double,
                                                momentum: Double) {
        let parts = tasks(count)
        Runtime.parallelFor(parts, SGDTask(parameters: parameters, gradients: gradients, velocity: velocity,
                                           count: count, learningRate: learningRate, momentum: momentum,
                                           parts: parts))
    }

    /// `sgdStep` over the `part`-th slice of the elements.
    struct SGDTask<S: TensorScalar>: ParallelTask {
        let parameters: UnsafeMutablePointer<S>, gradients: UnsafePointer<S>, velocity: UnsafeMutablePointer<S>
        let count: Int, learningRate: Double, momentum: Double, parts: Int

        func run(_ part: Int) {
            let r = sliceRange(count, part: part, of: parts)
            Optimizers.sgdStep(parameters: parameters + r.lowerBound, gradients: gradients + r.lowerBound,
                               velocity: velocity + r.lowerBound, count: r.count, learningRate: learningRate,
                               momentum: momentum)
        }
    }

    /// At most one task per thread, each of at least `grain` elements.
    static func tasks(_ count: Int) -> Int {
        count <= 0 ? 0 : max(1, min(Runtime.threadCount, count / grain))
    }
}
