import Foundation
import Testing
import TestSupport
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// `bayesnet weights --kl`: each layer's KL from its prior at a checkpoint, in closed form or by quadrature.
@Suite struct LayerDivergenceTests {
    @Test func twoPointGaussHermiteRule() {
        let (x, w) = GaussHermite.rule(points: 2)
        #expect(abs(x[0] + 0.5.squareRoot()) < 1e-15 && abs(x[1] - 0.5.squareRoot()) < 1e-15)
        #expect(abs(w[0] - Double.pi.squareRoot() / 2) < 1e-15 && abs(w[1] - w[0]) < 1e-15)
    }

    /// E z^k under N(0, 1) is (k − 1)!! for even k; 64 points are exact up to degree 127.
    @Test func sixtyFourPointRuleGivesNormalMoments() {
        let (x, w) = GaussHermite.rule(points: 64)
        #expect(x == x.sorted())
        for (k, moment) in [(0, 1.0), (2, 1), (4, 3), (10, 945), (20, 654_729_075)] {
            let value = zip(x, w).reduce(0.0) { $0 + $1.1 / Double.pi.squareRoot() * pow(2.0.squareRoot() * $1.0, Double(k)) }
            #expect(abs(value - moment) < 1e-11 * moment, "moment \(k): \(value)")
        }
    }

    /// KL(N(μ, σ²) || p) by the trapezoid rule on a fine grid over μ ± 12σ.
    static func integrated(mu: Double, sigma: Double, pi: Double, s1: Double, s2: Double) -> Double {
        let n = 400_000
        let h = 24 * sigma / Double(n)
        var total = 0.0
        for i in 0...n {
            let x = mu - 12 * sigma + Double(i) * h
            let z = (x - mu) / sigma
            let logQ = -0.5 * z * z - log(sigma) - 0.5 * log(2 * Double.pi)
            let p = pi * exp(-0.5 * x * x / (s1 * s1)) / s1 + (1 - pi) * exp(-0.5 * x * x / (s2 * s2)) / s2
            let logP = log(p) - 0.5 * log(2 * Double.pi)
            total += (i == 0 || i == n ? 0.5 : 1) * exp(logQ) * (logQ - logP)
        }
        return total * h
    }

    @Test(arguments: [(0.3, 0.001), (-1.2, 0.05), (3.9, 0.2), (0.0, 0.5), (5.0, 0.01)])
    func scaleMixtureKLMatchesNumericalIntegration(mu: Double, sigma: Double) {
        for (pi, s1, s2) in [(0.5, 1.0, 2000.0), (0.25, 0.5, 10.0)] {
            var loc = mu, rho = Softplus.rho(forScale: sigma)
            let quadrature = Divergence.klNormalScaleMixture(loc: &loc, rho: &rho, prior: (pi, s1, s2), count: 1)
            let reference = Self.integrated(mu: mu, sigma: Softplus.scale(rho: rho), pi: pi, s1: s1, s2: s2)
            #expect(abs(quadrature - reference) < 1e-7 * abs(reference), "μ \(mu) σ \(sigma) prior \(pi), \(s1), \(s2): \(quadrature) vs \(reference)")
        }
    }

    @Test func aMixtureWithOneComponentIsTheNormalKL() {
        var loc: [Double] = [0.4, -2, 0.01], rho = [-3.0, 0.5, -7]
        let mixture = Divergence.klNormalScaleMixture(loc: &loc, rho: &rho, prior: (1, 1.5, 2000), count: 3)
        let normal = Divergence.klNormalNormal(loc: &loc, rho: &rho, priorLoc: 0, priorScale: 1.5, count: 3, weight: 0, dLoc: nil, dRho: nil)
        #expect(abs(mixture - normal) < 1e-12 * normal)
    }

    static let specText = """
        bayesnet: 1
        name: kl
        input: {shape: [3]}
        layers:
          - Dense: {units: 2, name: plain}
          - DenseFlipout: {units: 2, name: slab}
          - DenseReparameterization: {units: 1, name: normal, prior: {normal: {loc: 0.5, scale: 2}}, penalty_weight: 0.01}

        """

    /// A checkpoint of the spec above with known values.
    static func checkpoint() throws -> (path: String, values: [String: [Double]]) {
        var values: [String: [Double]] = ["plain.kernel": [1, 2, 3, 4, 5, 6], "plain.bias": [0, 0]]
        for (layer, count) in [("slab", 4), ("normal", 2)] {
            values["\(layer).kernel_posterior_loc"] = TestNetworks.normals(count, seed: 1, scale: 0.5)
            values["\(layer).kernel_posterior_untransformed_scale"] = TestNetworks.uniforms(count, seed: 2).map { -6 + 4 * $0 }
            let bias = count == 4 ? 2 : 1
            values["\(layer).bias_posterior_loc"] = TestNetworks.normals(bias, seed: 3, scale: 0.5)
            values["\(layer).bias_posterior_untransformed_scale"] = TestNetworks.uniforms(bias, seed: 4).map { -6 + 4 * $0 }
        }
        let shapes: [String: [Int]] = ["plain.kernel": [3, 2], "plain.bias": [2], "slab.kernel": [2, 2], "slab.bias": [2],
                                       "normal.kernel": [2, 1], "normal.bias": [1]]
        let entries = values.keys.sorted().map { name -> SafeTensors.Entry in
            let key = name.replacingOccurrences(of: "_posterior_loc", with: "").replacingOccurrences(of: "_posterior_untransformed_scale", with: "")
            return SafeTensors.Entry(name: name, doubles: values[name]!, shape: shapes[key]!)
        }
        let path = TestNetworks.temporaryDirectory("kl") + ".safetensors"
        try Data(SafeTensors.encode(entries, metadata: [:])).write(to: URL(fileURLWithPath: path))
        return (path, values)
    }

    @Test func everyVariationalLayerGetsItsKLAndWeight() throws {
        let spec = try #require(SpecLoader.load(text: Self.specText, path: "<kl>.yaml").spec)
        let (path, v) = try Self.checkpoint()
        let rows = try LayerDivergence.of(spec: spec, weights: path, trainingExamples: 250)
        #expect(rows.map(\.layer) == ["slab", "normal"])
        #expect(rows[0].method == .quadrature(points: 64) && rows[1].method == .closedForm)
        #expect(rows[0].penaltyWeight == 1.0 / 250 && rows[1].penaltyWeight == 0.01)

        var loc = v["slab.kernel_posterior_loc"]!, rho = v["slab.kernel_posterior_untransformed_scale"]!
        #expect(rows[0].kernel == Divergence.klNormalScaleMixture(loc: &loc, rho: &rho, prior: (0.5, 1, 2000), count: 4))
        var expected = 0.0
        for part in ["kernel", "bias"] {
            for (m, r) in zip(v["normal.\(part)_posterior_loc"]!, v["normal.\(part)_posterior_untransformed_scale"]!) {
                let s = Softplus.scale(rho: r)
                expected += log(2 / s) + (s * s + (m - 0.5) * (m - 0.5)) / 8 - 0.5
            }
        }
        #expect(abs(rows[1].total - expected) < 1e-12 * expected)
        #expect(rows[1].weighted == 0.01 * rows[1].total)
    }

    @Test func autoWeightIsUnknownWithoutTheTrainingExamples() throws {
        let spec = try #require(SpecLoader.load(text: Self.specText, path: "<kl>.yaml").spec)
        let rows = try LayerDivergence.of(spec: spec, weights: try Self.checkpoint().path, trainingExamples: nil)
        #expect(rows[0].penaltyWeight == nil && rows[0].weighted == nil)
        #expect(rows[1].penaltyWeight == 0.01)
    }

    @Test func weightsCommandPrintsTheKLAsJSON() throws {
        let folder = TestNetworks.temporaryDirectory("kl-command")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let spec = folder + "/kl.yaml"
        try Self.specText.write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try BayesnetProcess.run(["weights", try Self.checkpoint().path, "--kl", spec, "--train-examples", "250", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let kl = try #require(json["kl"] as? [[String: Any]])
        #expect(kl.map { $0["layer"] as? String } == ["slab", "normal"])
        #expect((kl[0]["method"] as? [String: Any])?["name"] as? String == "gauss_hermite")
        #expect(kl[0]["penalty_weight"] as? Double == 0.004)
        let total = kl.reduce(0.0) { $0 + ($1["weighted"] as? Double ?? .nan) }
        #expect(abs((json["weighted_total"] as? Double ?? .nan) - total) < 1e-12 * total)
    }

    @Test func weightsCommandRefusesACheckpointThatDoesNotFitTheSpec() throws {
        let folder = TestNetworks.temporaryDirectory("kl-mismatch")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let spec = folder + "/other.yaml"
        try Self.specText.replacingOccurrences(of: "units: 1, name: normal", with: "units: 3, name: normal")
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try BayesnetProcess.run(["weights", try Self.checkpoint().path, "--kl", spec])
        #expect(r.status == 1)
        #expect(r.stderr.contains("normal.kernel_posterior_loc has shape [2, 1], the spec gives [2, 3]"))
    }
}
