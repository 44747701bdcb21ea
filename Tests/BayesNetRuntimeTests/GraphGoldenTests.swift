import Testing
@testable import BayesNetRuntime

/// The TensorFlow cases of batch normalization and global pooling (scripts/golden-graph-ops.py).
@Suite struct GraphGoldenTests {
    static let trainCases = GoldenCase.names(op: "batch_norm_train")
    static let inferenceCases = GoldenCase.names(op: "batch_norm_inference")
    static let averageCases = GoldenCase.names(op: "global_average_pool")
    static let maxCases = GoldenCase.names(op: "global_max_pool")

    @Test func everyGoldenFileIsUsed() {
        #expect(Self.trainCases.count == 7)
        #expect(Self.inferenceCases.count == 3)
        #expect(Self.averageCases.count == 3)
        #expect(Self.maxCases.count == 3)
    }

    /// Our outputs for a case, under the names of the case's TensorFlow tensors.
    static func batchNormOutputs<S: TensorScalar>(_ c: GoldenCase, as: S.Type, unbiased: Bool? = nil) -> [String: [S]] {
        let x = c.tensor("x"), channels = x.shape.last!, rows = x.data.count / channels
        let center = c.numbers["center"] == 1, scale = c.numbers["scale"] == 1
        let bn = BatchNormCase(rows: rows, channels: channels, center: center, scale: scale,
                               epsilon: c.numbers["epsilon"]!)
        let xs = x.data.map { S($0) }, dys = c.tensor("dy").data.map { S($0) }
        let gamma = scale ? c.tensor("gamma").data.map { S($0) } : [], beta = center ? c.tensor("beta").data.map { S($0) } : []
        var mean = c.tensor("moving_mean").data.map { S($0) }, variance = c.tensor("moving_variance").data.map { S($0) }
        var dx = [S](repeating: .nan, count: xs.count)
        var dgamma = [S](repeating: .nan, count: channels), dbeta = dgamma
        let y: [S]
        if c.op == "batch_norm_train" {
            let stats: [Double]
            (y, stats) = BN.train(bn, x: xs, gamma: gamma, beta: beta)
            BN.trainBackward(bn, x: xs, dy: dys, gamma: gamma, stats: stats, into: &dx, dgamma: &dgamma, dbeta: &dbeta)
            BatchNormalization.updateMovingStatistics(
                statistics: stats, movingMean: &mean, movingVariance: &variance, rows: rows, channels: channels,
                momentum: c.numbers["momentum"]!, unbiasedVariance: unbiased ?? (c.numbers["unbiased_moving_variance"] == 1))
        } else {
            y = BN.infer(bn, x: xs, gamma: gamma, beta: beta, mean: mean, variance: variance)
            BN.inferBackward(bn, x: xs, dy: dys, gamma: gamma, mean: mean, variance: variance, into: &dx,
                             dgamma: &dgamma, dbeta: &dbeta)
        }
        var outputs = ["y": y, "dx": dx, "moving_mean_after": mean, "moving_variance_after": variance]
        if scale { outputs["dgamma"] = dgamma }
        if center { outputs["dbeta"] = dbeta }
        return outputs
    }

    /// Each output against TensorFlow's, within 1e-5 or twice TensorFlow's own distance from the float64
    /// computation, whichever is larger (TensorFlow's float32 kernels lose digits when a channel's mean is large
    /// against its spread); and, where the case has it, against the float64 computation within 1e-6.
    static func checkBatchNorm<S: TensorScalar>(_ file: String, as: S.Type) throws {
        let c = try GoldenCase.load(file)
        let outputs = batchNormOutputs(c, as: S.self)
        #expect(outputs.count >= 4)
        for (name, ours) in outputs {
            let tf = c.tensor(name).data
            var tolerance = 1e-5
            if let exact = c.tensors[name + "_float64"] {
                tolerance = max(tolerance, 2 * maxRelativeError(tf, exact.data))
                let e = maxRelativeError(ours, exact.data)
                #expect(e < 1e-6, "\(name) against float64: \(e)")
            }
            let e = maxRelativeError(ours, tf)
            #expect(e < tolerance, "\(name) against TensorFlow: \(e), tolerance \(tolerance)")
        }
    }

    @Test("Float batch normalization matches TensorFlow", arguments: trainCases + inferenceCases)
    func batchNormFloat(_ file: String) throws { try Self.checkBatchNorm(file, as: Float.self) }

    @Test("Double batch normalization matches TensorFlow", arguments: trainCases + inferenceCases)
    func batchNormDouble(_ file: String) throws { try Self.checkBatchNorm(file, as: Double.self) }

    /// The cases tell the two moving-variance conventions apart, so the flag they record is the one that holds.
    @Test("The other moving-variance convention does not match", arguments: trainCases)
    func otherConventionFails(_ file: String) throws {
        let c = try GoldenCase.load(file)
        let variance = Self.batchNormOutputs(c, as: Float.self,
                                             unbiased: c.numbers["unbiased_moving_variance"] != 1)["moving_variance_after"]!
        let tf = c.tensor("moving_variance_after").data
        let relative = zip(variance, tf).map { abs(Double($0) - Double($1)) / abs(Double($1)) }.max()!
        #expect(relative > 1e-4)
    }

    @Test("Global pooling matches TensorFlow", arguments: averageCases + maxCases)
    func globalPooling(_ file: String) throws {
        let c = try GoldenCase.load(file)
        let x = c.tensor("x"), batch = x.shape[0], channels = x.shape.last!
        let positions = x.data.count / (batch * channels)
        var y = [Float](repeating: .nan, count: batch * channels), dx = [Float](repeating: .nan, count: x.data.count)
        if c.op == "global_max_pool" {
            GlobalPooling.maxForward(x: x.data, y: &y, batch: batch, positions: positions, channels: channels)
            GlobalPooling.maxBackward(x: x.data, dy: c.tensor("dy").data, dx: &dx, batch: batch, positions: positions,
                                      channels: channels, accumulate: false)
        } else {
            GlobalPooling.averageForward(x: x.data, y: &y, batch: batch, positions: positions, channels: channels)
            GlobalPooling.averageBackward(dy: c.tensor("dy").data, dx: &dx, batch: batch, positions: positions,
                                          channels: channels, accumulate: false)
        }
        #expect(maxRelativeError(y, c.tensor("y").data) < 1e-6)
        #expect(maxRelativeError(dx, c.tensor("dx").data) < 1e-6)
    }
}
