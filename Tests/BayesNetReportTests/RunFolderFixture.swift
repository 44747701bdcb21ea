import Foundation
@testable import BayesNetReport

/// A deterministic random source so that fixtures are the same on every run.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Writes a realistic run folder as docs/run-folder.md describes it: a digits-like classifier with
/// 8×8 grey test images, 30 epochs, 297 test examples, and a summary whose reliability bins and means
/// are computed from the predictions it writes. Needs no tools beyond Foundation.
struct RunFolderFixture {
    var name = "digits-lenet5-flipout"
    var seed: UInt64 = 42
    var epochs = 30
    var examples = 297
    var classes = 10
    /// Shape of one test input; [8, 8, 1] for digits, [10] for a table of features.
    var inputShape = [8, 8, 1]
    var writeInputs = true
    /// Scales the KL term of the curves, to try tiny or large penalties.
    var klScale = 1.0

    struct Layer { var name: String; var type: String; var shape: [Int]; var parameters: Int; var macs: Int; var weight: Double? }

    let layers: [Layer] = [
        Layer(name: "conv_0", type: "Conv2DFlipout", shape: [8, 8, 6], parameters: 312, macs: 19_200, weight: 1.0 / 1500),
        Layer(name: "pool_0", type: "MaxPooling2D", shape: [4, 4, 6], parameters: 0, macs: 0, weight: nil),
        Layer(name: "conv_1", type: "Conv2DFlipout", shape: [4, 4, 16], parameters: 4_832, macs: 76_800, weight: 1.0 / 1500),
        Layer(name: "flatten", type: "Flatten", shape: [256], parameters: 0, macs: 0, weight: nil),
        Layer(name: "dense_0", type: "DenseFlipout", shape: [84], parameters: 43_176, macs: 43_008, weight: 1.0 / 1500),
        Layer(name: "logits", type: "DenseFlipout", shape: [10], parameters: 1_700, macs: 1_680, weight: 1.0 / 1500),
    ]

    /// The predictions written to predictions.csv.
    func predictions() -> [Prediction] {
        var rng = SplitMix64(state: seed)
        return (0..<examples).map { i in
            let label = i % classes
            // Mostly confident, a tail of hard examples; correct about as often as confident.
            let hardness = pow(rng.uniform(), 9)
            let confidence = max(1.0 / Double(classes) + 0.02, 1 - hardness * 0.9)
            let correct = rng.uniform() < confidence + 0.01
            let predicted = correct ? label : (label + 1 + rng.int(classes - 1)) % classes
            let rest = (1 - confidence) / Double(classes - 1)
            let entropy = -confidence * log(confidence) - (rest > 0 ? Double(classes - 1) * rest * log(rest) : 0)
            let epistemic = min(0.9, hardness * (0.6 + 0.4 * rng.uniform()))
            let expected = entropy * (1 - epistemic)
            return Prediction(index: i, label: label, predicted: predicted, confidence: confidence, entropy: entropy,
                              expectedEntropy: expected, mutualInformation: entropy - expected, correct: correct)
        }
    }

    /// 8×8 strokes that differ per class, plus noise: enough to look like small digits in a screenshot.
    func inputs(for predictions: [Prediction]) -> NPYArray {
        var rng = SplitMix64(state: seed ^ 0xABCD)
        let size = inputShape.reduce(1, *)
        var values = [Float](repeating: 0, count: examples * size)
        let isImage = inputShape.count >= 2
        for p in predictions {
            for k in 0..<size {
                var v = 0.08 * rng.uniform()
                if isImage {
                    let h = inputShape[0], w = inputShape[1], channels = inputShape.count == 3 ? inputShape[2] : 1
                    let pixel = k / channels
                    let r = Double(pixel / w) / Double(h - 1) * 2 - 1, c = Double(pixel % w) / Double(w - 1) * 2 - 1
                    let angle = atan2(r, c), radius = (r * r + c * c).squareRoot()
                    let stroke: Bool
                    switch p.label {
                    case 0: stroke = abs(radius - 0.7) < 0.25
                    case 1: stroke = abs(c) < 0.2
                    case 7: stroke = r < -0.6 || abs(c + r * 0.5) < 0.2
                    default: stroke = abs(radius - 0.6) < 0.22 && angle > -Double.pi + Double(p.label) * 0.55
                    }
                    if stroke { v += 0.75 + 0.2 * rng.uniform() }
                } else {
                    v = rng.uniform() * 2 - 1
                }
                values[p.index * size + k] = Float(v)
            }
        }
        return NPYArray(shape: [examples] + inputShape, values: values)
    }

    /// Writes spec.yaml, metrics.jsonl, summary.json, predictions.csv and (for image runs) test-inputs.npy.
    func write(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let preds = predictions()
        try Data("name: \(name)\n".utf8).write(to: folder.appendingPathComponent("spec.yaml"))
        try Data(metricsText().utf8).write(to: folder.appendingPathComponent("metrics.jsonl"))
        try Data(summaryText(preds).utf8).write(to: folder.appendingPathComponent("summary.json"))
        try Data(predictionsText(preds).utf8).write(to: folder.appendingPathComponent("predictions.csv"))
        if writeInputs {
            try inputs(for: preds).encoded().write(to: folder.appendingPathComponent("test-inputs.npy"))
        }
    }

    func metricsText() -> String {
        var rng = SplitMix64(state: seed ^ 0x77)
        let stepsPerEpoch = 24
        var lines: [String] = []
        for e in 1...epochs {
            let t = Double(e)
            let nll = 2.2 * exp(-t / 3.5) + 0.05 + 0.01 * rng.uniform()
            let kl = (0.9 * exp(-t / 12) + 0.25) * klScale
            let train = min(0.995, 1 - 0.88 * exp(-t / 3) - 0.01 * rng.uniform())
            let test = min(0.99, 1 - 0.9 * exp(-t / 3.2) - 0.03 * rng.uniform())
            lines.append("{\"epoch\": \(e), \"step\": \(e * stepsPerEpoch), \"loss\": \(nll + kl), \"nll\": \(nll), "
                + "\"kl\": \(kl), \"train_accuracy\": \(train), \"test_accuracy\": \(test), "
                + "\"test_nll\": \(nll * 1.3), \"seconds\": \(0.21 * t)}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reliability bins, ECE and means computed from the predictions exactly as the run would.
    func summaryText(_ preds: [Prediction]) -> String {
        let bins = 15
        var confidenceSum = [Double](repeating: 0, count: bins), correctSum = confidenceSum
        var count = [Int](repeating: 0, count: bins)
        for p in preds {
            let b = min(bins - 1, Int(p.confidence * Double(bins)))
            confidenceSum[b] += p.confidence
            correctSum[b] += p.correct ? 1 : 0
            count[b] += 1
        }
        let n = Double(preds.count)
        var ece = 0.0
        var confidence: [String] = [], accuracy: [String] = []
        for b in 0..<bins {
            if count[b] == 0 { confidence.append("null"); accuracy.append("null"); continue }
            let c = confidenceSum[b] / Double(count[b]), a = correctSum[b] / Double(count[b])
            ece += Double(count[b]) / n * abs(a - c)
            confidence.append("\(c)"); accuracy.append("\(a)")
        }
        let acc = Double(preds.filter(\.correct).count) / n
        let entropy = preds.map(\.entropy).reduce(0, +) / n
        let mi = preds.map(\.mutualInformation).reduce(0, +) / n
        let nll = preds.map { -log($0.correct ? $0.confidence : (1 - $0.confidence) / 9) }.reduce(0, +) / n
        let layerText = layers.map { l in
            "{\"name\": \"\(l.name)\", \"type\": \"\(l.type)\", \"output_shape\": [\(l.shape.map(String.init).joined(separator: ", "))], "
                + "\"parameters\": \(l.parameters), \"macs\": \(l.macs), \"penalty_weight\": \(l.weight.map { "\($0)" } ?? "null")}"
        }
        return """
        {
          "name": "\(name)", "seed": \(seed), "spec_sha256": "3f6b0c1e9d2a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "threads": 2,
          "wall_seconds": 7.9, "train_seconds": 6.1, "epochs": \(epochs), "steps": \(epochs * 24), "training_examples": 1500,
          "final": {"loss": 0.3118, "nll": 0.0606, "kl": 0.2512},
          "evaluation": {
            "samples": 50, "examples": \(preds.count),
            "predictive": {"accuracy": \(acc), "nll": \(nll), "ece": \(ece), "brier": 0.0412, "entropy": \(entropy), "mutual_information": \(mi)},
            "posterior_mean": {"accuracy": \(acc - 0.0034), "nll": \(nll * 1.1), "ece": \(ece * 1.4), "brier": 0.0455, "entropy": \(entropy * 0.8), "mutual_information": 0.0},
            "reliability": {"bins": \(bins), "confidence": [\(confidence.joined(separator: ", "))], "accuracy": [\(accuracy.joined(separator: ", "))], "count": [\(count.map(String.init).joined(separator: ", "))]}
          },
          "layers": [
            \(layerText.joined(separator: ",\n    "))
          ],
          "totals": {"parameters": \(layers.map(\.parameters).reduce(0, +)), "macs": \(layers.map(\.macs).reduce(0, +))}
        }

        """
    }

    func predictionsText(_ preds: [Prediction]) -> String {
        var out = "index,label,predicted,confidence,entropy,expected_entropy,mutual_information,correct\n"
        for p in preds {
            out += "\(p.index),\(p.label),\(p.predicted),\(p.confidence),\(p.entropy),\(p.expectedEntropy),"
                + "\(p.mutualInformation),\(p.correct ? 1 : 0)\n"
        }
        return out
    }
}

/// A fresh temporary folder, removed by the caller's `defer`.
func temporaryFolder(_ tag: String = "run") -> URL {
    FileManager.default.temporaryDirectory
        .appendingPathComponent("bayesnet-report-\(tag)-\(UUID().uuidString)")
}
