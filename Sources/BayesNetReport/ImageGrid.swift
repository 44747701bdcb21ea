import Foundation

/// The test examples the model is least sure about, drawn as small inline PNGs.
struct ImageGrid {
    /// Height, width and channels of one example when test inputs can be drawn as images: [H, W] or
    /// [H, W, 1|3] channels-last.
    static func imageGeometry(_ inputs: NPYArray) -> (height: Int, width: Int, channels: Int)? {
        let example = Array(inputs.shape.dropFirst())
        switch example.count {
        case 2 where example[0] > 0 && example[1] > 0: return (example[0], example[1], 1)
        case 3 where example[0] > 0 && example[1] > 0 && (example[2] == 1 || example[2] == 3):
            return (example[0], example[1], example[2])
        default: return nil
        }
    }

    /// The `count` predictions with the highest mutual information, ties broken by index.
    static func mostUncertain(_ predictions: [Prediction], count: Int = 16) -> [Prediction] {
        Array(predictions.filter { $0.mutualInformation.isFinite }.sorted {
            $0.mutualInformation != $1.mutualInformation ? $0.mutualInformation > $1.mutualInformation
                : $0.index < $1.index
        }.prefix(count))
    }

    /// The example's pixels scaled to 0...255 over its own range, so standardised inputs still show.
    static func pixels(of inputs: NPYArray, example: Int) -> [UInt8] {
        let size = inputs.exampleSize
        let slice = inputs.values[(example * size)..<((example + 1) * size)]
        let lo = slice.min() ?? 0, hi = slice.max() ?? 1
        let span = hi - lo
        return slice.map { v in
            guard span > 0, v.isFinite else { return 0 }
            return UInt8(max(0, min(255, ((v - lo) / span * 255).rounded())))
        }
    }

    /// Three decimals, or three significant digits for the tiny values of a nearly deterministic posterior.
    static func miText(_ value: Double) -> String {
        abs(value) >= 0.01 ? Format.fixed(value, 3) : Format.significant(value, 3)
    }

    static func html(inputs: NPYArray, predictions: [Prediction], displaySize: Int = 84) -> String {
        guard let (h, w, channels) = imageGeometry(inputs) else { return "" }
        let scale = max(1, displaySize / max(h, w))
        let displayW = min(displaySize, w * scale), displayH = min(displaySize, h * scale)
        // RunFolder.parse checks every index against the inputs; a RunFolder built in code may not have been.
        let examples = inputs.exampleSize > 0 ? inputs.values.count / inputs.exampleSize : 0
        var cells: [String] = []
        for p in mostUncertain(predictions.filter { $0.index >= 0 && $0.index < examples }) {
            let uri = PNG.dataURI(width: w, height: h, channels: channels, pixels: pixels(of: inputs, example: p.index))
            let verdict = p.correct ? "right" : "wrong"
            cells.append("""
            <figure class="example \(verdict)" data-index="\(p.index)">\
            <img src="\(uri)" width="\(displayW)" height="\(displayH)" alt="test example \(p.index)">\
            <figcaption><span class="pred">predicted \(p.predicted)</span> <span class="true">true \(p.label)</span>\
            <br><span class="mi">MI \(miText(p.mutualInformation))</span> · #\(p.index)</figcaption>\
            </figure>
            """)
        }
        return "<div class=\"examples\">\n" + cells.joined(separator: "\n") + "\n</div>"
    }
}
