extension ModelSpec {
    /// The `bayesnet inspect` table, in the manner of Keras' `model.summary()`: one row per layer, totals below.
    public func summaryTable() -> String {
        let rows = layerSummaries
        // A chain reads top to bottom; a graph shows what each layer reads, as Keras's "Connected to".
        let edges = !isChain
        var header = ["Layer (type)", "Output shape", "Parameters", "Mult-adds", "Penalty weight"]
        if edges { header.append("Inputs") }
        var cells = rows.map { r in
            var row = ["\(r.name) (\(r.typeName))", shapeText(r.outputShape), Self.grouped(r.parameters), Self.grouped(r.macs), Self.penaltyText(r.penaltyWeight)]
            if edges { row.append(r.inputs.joined(separator: ", ")) }
            return row
        }
        cells.insert(header, at: 0)
        let widths = (0..<header.count).map { c in cells.map { $0[c].count }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            var s = row.enumerated().map { c, text in
                let pad = String(repeating: " ", count: widths[c] - text.count)
                return (c == 2 || c == 3) ? pad + text : text + pad
            }.joined(separator: "   ")
            while s.last == " " { s.removeLast() }
            return s
        }
        let rule = String(repeating: "─", count: widths.reduce(0, +) + 3 * (widths.count - 1))
        var out = ["Model: \(name)   input \(shapeText(input.shape))   \(dtype.rawValue)", rule, line(cells[0]), rule]
        out += cells.dropFirst().map(line)
        out.append(rule)
        let params = rows.reduce(0) { checkedSum($0, $1.parameters) ?? Int.max }, macs = rows.reduce(0) { checkedSum($0, $1.macs) ?? Int.max }
        let variational = layers.contains { $0.variationalSettings != nil }
        let flipout = layers.contains { $0.estimator == .flipout }
        out.append("Total parameters: \(Self.grouped(params))" + (variational ? "   (variational layers count a loc and a scale per weight)" : ""))
        out.append("Total multiply-adds per example: \(Self.grouped(macs))" + (flipout ? "   (Flipout layers count both products)" : ""))
        switch likelihood {
        case nil: out.append("Likelihood: none (the network can be inspected and used for prediction, not trained)")
        case .categorical?: out.append("Likelihood: categorical, \(outputShape.last ?? 0) classes")
        case .normal(let s)?: out.append("Likelihood: normal, scale \(s)")
        case .bernoulli?: out.append("Likelihood: Bernoulli (one logit, labels 0 or 1)")
        }
        return out.joined(separator: "\n")
    }

    /// `12,345`.
    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n.magnitude))
        var out = n < 0 ? "-" : ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return out
    }

    static func penaltyText(_ p: PenaltyWeight?) -> String {
        switch p {
        case nil: return ""
        case .auto?: return "auto (1/N)"
        case .value(let v)?: return "\(v)"
        }
    }
}

extension Layer {
    /// The weight estimator of a convolution or affine layer, nil for pooling and flatten.
    public var estimator: Estimator? {
        switch op {
        case .convolution(let c): return c.estimator
        case .affine(let a): return a.estimator
        default: return nil
        }
    }

    /// The variational settings of a variational layer, nil otherwise.
    public var variationalSettings: Variational? {
        switch op {
        case .convolution(let c): return c.variational
        case .affine(let a): return a.variational
        default: return nil
        }
    }
}
