import Foundation
import Testing
@testable import BayesNet
import BayesNetSpec

/// Weights written by another tool: no run metadata, other float types, names that may be off.
@Suite struct ForeignWeightsTests {
    static let spec = SpecLoader.load(text: """
        bayesnet: 1
        name: foreign
        input: {shape: [3]}
        layers: [{Dense: {units: 2, name: d}}]

        """, path: "<foreign>.yaml").spec!

    /// d.kernel = [[1, 2], [3, 4], [5, 6]], d.bias = [0.5, -0.5].
    static func entries(kernelDType: String = "F32", kernelName: String = "d.kernel") -> [SafeTensors.Entry] {
        let kernel: [Double] = [1, 2, 3, 4, 5, 6]
        let k: SafeTensors.Entry
        switch kernelDType {
        case "F64": k = SafeTensors.Entry(name: kernelName, doubles: kernel, shape: [3, 2])
        case "F16":
            // 1...6 in binary16: exponent bias 15, ten fraction bits.
            let halves: [UInt16] = [0x3C00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600]
            k = SafeTensors.Entry(name: kernelName, dtype: "F16", shape: [3, 2], bytes: halves.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        default: k = SafeTensors.Entry(name: kernelName, floats: kernel.map(Float.init), shape: [3, 2])
        }
        return [k, SafeTensors.Entry(name: "d.bias", floats: [0.5, -0.5], shape: [2])]
    }

    static func write(_ entries: [SafeTensors.Entry]) throws -> String {
        let path = TestNetworks.temporaryDirectory("foreign") + ".safetensors"
        try Data(SafeTensors.encode(entries, metadata: [:])).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(arguments: ["F32", "F64", "F16"])
    func weightsWithoutMetadataServePrediction(dtype: String) throws {
        let path = try Self.write(Self.entries(kernelDType: dtype))
        let out = try Serving.predict(spec: Self.spec, weights: path, inputs: [1, 1, 1], count: 1, samples: 1, posteriorMean: true)
        #expect(out.outputs == [9.5, 11.5])
    }

    @Test func everyProblemIsListedWithDidYouMean() throws {
        var entries = Self.entries(kernelName: "d.kernal")
        entries[1] = SafeTensors.Entry(name: "d.bias", floats: [0, 0, 0], shape: [3])
        entries.append(SafeTensors.Entry(name: "e.kernel", floats: [0], shape: [1]))
        let path = try Self.write(entries)
        do {
            _ = try Serving.predict(spec: Self.spec, weights: path, inputs: [1, 1, 1], count: 1, samples: 1, posteriorMean: true)
            Issue.record("accepted")
        } catch RunError.weightsUnreadable(let error) {
            #expect(error == .doesNotFit(path: path, problems: [
                .missing(name: "d.kernel", shape: [3, 2], closest: "d.kernal"),
                .misshapen(name: "d.bias", found: [3], expected: [2]),
                .extra(name: "d.kernal"), .extra(name: "e.kernel"),
            ]))
        }
    }

    @Test func theProblemsReadAsAList() {
        let error = CheckpointError.doesNotFit(path: "w.safetensors", problems: [
            .missing(name: "d.kernel", shape: [3, 2], closest: "d.kernal"), .misshapen(name: "d.bias", found: [3], expected: [2]),
        ])
        #expect(error.description == """
            w.safetensors does not fit the spec (2 problems):
              - missing d.kernel, shape [3, 2] (did you mean `d.kernal`?)
              - d.bias has shape [3], the spec gives [2]
            """)
    }

    @Test func resumingNeedsTheRunMetadata() throws {
        let path = try Self.write(Self.entries())
        #expect(throws: CheckpointError.noRunMetadata(path: path)) { _ = try CheckpointIO.read(path: path) }
    }

    @Test func halvesConvertExactly() {
        #expect(CheckpointIO.halfToFloat(0x3C00) == 1)
        #expect(CheckpointIO.halfToFloat(0xC000) == -2)
        #expect(CheckpointIO.halfToFloat(0x0001) == 0x1p-24)
        #expect(CheckpointIO.halfToFloat(0x7BFF) == 65504)
        #expect(CheckpointIO.halfToFloat(0x7C00) == .infinity)
        #expect(CheckpointIO.halfToFloat(0x7E00).isNaN)
    }

    @Test func weightsListsTensorsAndMeanScales() throws {
        let path = try Self.write(Self.entries() + [SafeTensors.Entry(name: "d.kernel_posterior_untransformed_scale", floats: [0], shape: [1])])
        let r = try WeightsSummary.read(path: path)
        #expect(r.seed == nil && r.tensors.count == 3)
        let kernel = try #require(r.tensors.first { $0.name == "d.kernel" })
        #expect(kernel.mean == 3.5 && kernel.minimum == 1 && kernel.maximum == 6)
        let rho = try #require(r.tensors.first { $0.name.hasSuffix("untransformed_scale") })
        #expect(abs(rho.meanScale! - (1e-5 + log(2))) < 1e-12)
    }
}
