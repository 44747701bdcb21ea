import Foundation
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// Small deterministic inputs and helpers shared by the interpreter's tests.
enum TestNetworks {
    /// N(0, 1) values from a stream of their own, so tests do not depend on each other's draws.
    static func normals(_ count: Int, seed: UInt64, scale: Double = 1) -> [Double] {
        var out = [Double](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer {
            RandomStream(seed: seed, stream: stableHash("test/normals"), step: 0).fillNormal($0.baseAddress!, count: count)
        }
        return out.map { $0 * scale }
    }

    static func uniforms(_ count: Int, seed: UInt64) -> [Double] {
        var out = [Double](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer {
            RandomStream(seed: seed, stream: stableHash("test/uniforms"), step: 0).fillUniform($0.baseAddress!, count: count)
        }
        return out
    }

    static func setInput<S: TensorScalar>(_ network: Network<S>, _ x: [Double]) {
        for (i, v) in x.enumerated() { network.input[i] = S(v) }
    }

    static func output<S: TensorScalar>(_ network: Network<S>, count: Int) -> [Double] {
        (0..<count).map { Double(network.output[$0]) }
    }

    /// The one weight layer of a single-layer network.
    static func weightLayer<S: TensorScalar>(_ network: Network<S>) -> WeightLayer<S> {
        network.layers.compactMap { $0 as? WeightLayer<S> }.first!
    }

    /// The one variational layer of a single-layer network.
    static func variationalLayer<S: TensorScalar>(_ network: Network<S>) -> VariationalLayer<S> {
        network.layers.compactMap { $0 as? VariationalLayer<S> }.first!
    }

    /// A labelled data set whose class is which of `classes` fixed random patterns (plus noise) an example shows.
    /// `split` picks the noise: the same `seed` with another split gives new examples of the same classes.
    static func patterns(shape: [Int], classes: Int, count: Int, noise: Double, seed: UInt64, split: UInt64 = 0) -> Dataset {
        let n = shape.reduce(1, *)
        let prototypes = normals(classes * n, seed: seed)
        let jitter = normals(count * n, seed: seed &+ 1 &+ split &* 7919, scale: noise)
        var inputs = [Float](repeating: 0, count: count * n)
        var labels = [Int32](repeating: 0, count: count)
        for e in 0..<count {
            let c = e % classes
            labels[e] = Int32(c)
            for j in 0..<n { inputs[e * n + j] = Float(prototypes[c * n + j] + jitter[e * n + j]) }
        }
        return Dataset(exampleShape: shape, count: count, inputs: inputs, labels: labels, targets: nil)
    }

    static func temporaryDirectory(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "bayesnet-tests-\(name)-\(getpid())-\(UInt64.random(in: 0..<1_000_000))"
        try? FileManager.default.removeItem(atPath: path)
        return path
    }
}
