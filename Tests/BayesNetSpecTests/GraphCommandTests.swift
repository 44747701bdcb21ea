import Foundation
import Testing
import TestSupport

/// `validate`, `inspect` and `compile` on graph specs, as a user runs them.
@Suite struct GraphCommandTests {
    let resnet = packageRoot() + "/specs/resnet-flipout-mnist.yaml"
    let resnet20 = packageRoot() + "/specs/bench/w4-resnet20.yaml"

    @Test func validateAcceptsBothResNetSpecs() throws {
        let r = try Command.run(["validate", resnet, resnet20])
        #expect(r.status == 0)
        #expect(r.stdout == "ok: \(resnet)\nok: \(resnet20)\n")
        #expect(r.stderr == "")
    }

    @Test func aWarningIsPrintedAndTheSpecIsStillValid() throws {
        let path = packageRoot() + "/Tests/BayesNetSpecTests/Fixtures/warnings/unread-output.yaml"
        let r = try Command.run(["validate", path])
        #expect(r.status == 0)
        #expect(r.stdout == "ok: \(path)\n")
        #expect(r.stderr.hasPrefix("\(path):5:5: warning: nothing reads the output of `unused`"))
    }

    @Test func inspectShowsWhatEachLayerReads() throws {
        let r = try Command.run(["inspect", resnet20])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines[2].hasSuffix("Inputs"))
        let add = try #require(lines.first { $0.hasPrefix("stage2_block1/add (Add)") })
        #expect(add.hasSuffix("stage2_block1/bn2, stage2_block1/shortcut_bn"))
        let shortcut = try #require(lines.first { $0.hasPrefix("stage2_block1/shortcut (Conv2DFlipout)") })
        #expect(shortcut.contains("[16, 16, 32]") && shortcut.hasSuffix("stage1_block3/activation_6"))
        // ResNet-20: 19 convolutions and the affine head, plus the two projection shortcuts.
        #expect(lines.filter { $0.contains("(Conv2DFlipout)") }.count == 21)
        #expect(lines.contains { $0.hasPrefix("logits (DenseFlipout)") && $0.contains("[10]") })
    }

    @Test func compileWritesTheEdges() throws {
        let r = try Command.run(["compile", resnet])
        #expect(r.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let layers = try #require(json["layers"] as? [[String: Any]])
        let add = try #require(layers.first { $0["name"] as? String == "stage3_block1/add" })
        #expect(add["inputs"] as? [String] == ["stage3_block1/bn2", "stage3_block1/shortcut_bn"])
        #expect(layers.last?["name"] as? String == "logits")
        #expect(layers.last?["inputs"] as? [String] == ["pool"])
    }

    @Test func tfpExportWritesTheResNetAsAFunctionalModel() throws {
        let out = NSTemporaryDirectory() + "bayesnet-graph-tfp-\(getpid()).py"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try Command.run(["compile", resnet, "--emit", "tfp", "-o", out])
        #expect(r.status == 0 && r.stderr == "")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.contains("    x[\"stage2_block1/add\"] = layers[\"stage2_block1/add\"]([x[\"stage2_block1/bn2\"], x[\"stage2_block1/shortcut_bn\"]])\n"))
        #expect(text.contains("    (\"stage2_block1/shortcut_bn\", \"stage2_block1_shortcut_bn\", \"batch_normalization\"),\n"))
    }
}
