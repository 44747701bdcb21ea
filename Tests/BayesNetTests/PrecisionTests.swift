import Foundation
import Testing
@testable import BayesNet
import BayesNetRuntime
import BayesNetSpec

/// Single precision runs other kernels than double precision; both must give the same gradients.
@Suite struct PrecisionTests {
    static func gradients<S: TensorScalar>(_: S.Type, batch: Int) throws -> (loss: Double, grads: [[Double]]) {
        let spec = SpecBuilder.lenet(dtype: S.self == Double.self ? .float64 : .float32)
        let net = try Network<S>(spec: spec, seed: 42, trainingExamples: 1500, maxBatch: batch)
        let x = TestNetworks.uniforms(batch * 64, seed: 9)
        for (i, v) in x.enumerated() { net.input[i] = S(v) }
        let labels = (0..<batch).map { Int32($0 % 10) }
        net.zeroGradients()
        net.forward(batch: batch, noise: NoiseContext(seed: 42, step: 12))
        let nll = labels.withUnsafeBufferPointer {
            Losses.softmaxCrossEntropy(logits: net.output, labels: $0.baseAddress!, batch: batch, classes: 10,
                                       dlogits: net.outputGradient)
        }
        let kl = net.divergence()
        net.backward(batch: batch)
        return (Double(nll) + kl, net.parameters.map { $0.gradients.map { Double($0) } })
    }

    @Test func floatAndDoubleNetworksAgreeOnTheLeNetGradient() throws {
        let f = try Self.gradients(Float.self, batch: 64)
        let d = try Self.gradients(Double.self, batch: 64)
        #expect(abs(f.loss - d.loss) < 1e-4 * abs(d.loss))
        for (gf, gd) in zip(f.grads, d.grads) {
            let norm = gd.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let diff = zip(gf, gd).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            #expect(diff <= 1e-3 * norm + 1e-7, "relative difference \(diff / norm)")
        }
    }
}
