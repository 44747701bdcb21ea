import BayesNetFormats
import BayesNetRuntime

/// Which weights a forward pass uses and where its random numbers come from.
///
/// Every draw is `RandomStream(seed, stream: stableHash(layer name + purpose), step)`, so the same seed gives the
/// same numbers with any thread count, and a layer's noise does not depend on the other layers.
public struct NoiseContext: Sendable, Equatable {
    public var seed: UInt64
    /// Training: global step × samples + sample index. Evaluation: the posterior sample's index.
    public var step: UInt64
    /// Evaluate every variational layer at its posterior mean (no noise).
    public var useMean: Bool
    /// Evaluation draws come from streams of their own, so evaluating never replays a training draw.
    public var evaluation: Bool
    /// Index of the batch's first example in its data set: Flipout signs are drawn per example.
    public var exampleOffset: Int
    /// The slot of weights `Network.drawWeights` drew ahead with this context's seed, step and streams, so that
    /// several batches of one step (the blocks of `gradient_block_size`) draw them once; nil: every forward pass
    /// draws its own.
    public var weightSample: Int?

    public init(seed: UInt64, step: UInt64, useMean: Bool = false, evaluation: Bool = false, exampleOffset: Int = 0,
                weightSample: Int? = nil) {
        self.seed = seed
        self.step = step
        self.useMean = useMean
        self.evaluation = evaluation
        self.exampleOffset = exampleOffset
        self.weightSample = weightSample
    }
}

/// The stream keys of one layer's random purposes, hashed once when the plan is built.
struct NoiseStreams: Sendable {
    let training: [UInt64]
    let evaluation: [UInt64]

    init(layer: String) {
        training = Purpose.allCases.map { stableHash(layer + "/" + $0.rawValue) }
        evaluation = Purpose.allCases.map { stableHash(layer + "/evaluate/" + $0.rawValue) }
    }

    func stream(_ purpose: Purpose, _ noise: NoiseContext) -> RandomStream {
        RandomStream(seed: noise.seed, stream: noise.evaluation ? evaluation[purpose.index] : training[purpose.index],
                     step: noise.step)
    }
}
