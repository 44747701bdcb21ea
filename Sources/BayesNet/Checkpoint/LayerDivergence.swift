import BayesNetFormats
import BayesNetRuntime
import BayesNetSpec

/// One variational layer's KL divergence from its prior at a checkpoint's posterior: `bayesnet weights --kl`.
public struct LayerKL: Sendable, Equatable {
    public enum Method: Sendable, Equatable {
        /// A normal prior: the closed form training uses.
        case closedForm
        /// A scale mixture: −H(q) − E_q[log p] with the expectation by Gauss–Hermite quadrature of this many points.
        case quadrature(points: Int)
    }

    public var layer: String
    public var prior: Prior
    public var method: Method
    /// KL of the kernel's posterior and of the bias's, unweighted, in nats.
    public var kernel: Double
    public var bias: Double
    /// The layer's `penalty_weight`; nil when it is `auto` and the number of training examples is unknown.
    public var penaltyWeight: Double?

    public var total: Double { kernel + bias }
    /// The layer's term of the training loss at these weights (penalty weight × KL).
    public var weighted: Double? { penaltyWeight.map { $0 * total } }
}

public enum LayerDivergence {
    /// Quadrature points per weight for scale-mixture priors; the exported TFP module uses the same.
    public static let quadraturePoints = 64

    /// The KL of every variational layer of `spec` at the weights in the checkpoint at `path` (which must fit the
    /// spec, tensor by tensor). `trainingExamples` resolves `penalty_weight: auto`.
    public static func of(spec: ModelSpec, weights path: String, trainingExamples: Int?,
                          limits: DataLimits = .default) throws -> [LayerKL] {
        // Computed in Double whatever the spec's dtype: float32 values convert exactly.
        let network = try Serving.network(Double.self, spec: spec, weights: path, seed: 0, maxBatch: 1, limits: limits)
        return spec.layers.compactMap { layer -> LayerKL? in
            guard let v = layer.variationalSettings else { return nil }
            func kl(_ part: String) -> Double {
                guard let loc = network.parameter(named: "\(layer.name).\(part)_posterior_loc"),
                      let rho = network.parameter(named: "\(layer.name).\(part)_posterior_untransformed_scale") else { return .nan }
                switch v.prior {
                case .normal(let priorLoc, let priorScale):
                    return Divergence.klNormalNormal(loc: loc.value.pointer, rho: rho.value.pointer, priorLoc: priorLoc,
                                                     priorScale: priorScale, count: loc.count, weight: 0, dLoc: nil, dRho: nil)
                case .scaleMixture(let pi, let s1, let s2):
                    return Divergence.klNormalScaleMixture(loc: loc.value.pointer, rho: rho.value.pointer,
                                                           prior: (pi, s1, s2), count: loc.count, points: quadraturePoints)
                }
            }
            let method: LayerKL.Method
            switch v.prior {
            case .normal: method = .closedForm
            case .scaleMixture: method = .quadrature(points: quadraturePoints)
            }
            let weight: Double?
            switch v.penaltyWeight {
            case .value(let w): weight = w
            case .auto: weight = trainingExamples.map { v.penaltyWeight.resolved(trainingExamples: $0) }
            }
            return LayerKL(layer: layer.name, prior: v.prior, method: method, kernel: kl("kernel"), bias: kl("bias"),
                           penaltyWeight: weight)
        }
    }
}
