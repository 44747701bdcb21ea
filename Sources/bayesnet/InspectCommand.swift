import ArgumentParser
import BayesNetSpec

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a spec's layers: output shapes, parameters, multiply-adds and penalty weights."
    )

    @Argument(help: "A spec file (YAML).")
    var spec: String

    @OptionGroup(title: "Limits")
    var limits: SpecLimitOptions

    func run() throws {
        let result = SpecLoader.load(path: spec, limits: limits.limits)
        Console.report(result)
        guard let model = result.spec else { throw ExitCode(1) }
        Console.out(Self.table(model))
    }

    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n.magnitude))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func penalty(_ p: PenaltyWeight?) -> String {
        switch p {
        case nil: return ""
        case .auto?: return "auto (1/N)"
        case .value(let v)?: return "\(v)"
        }
    }

    /// A table in the manner of Keras' `model.summary()`.
    static func table(_ model: ModelSpec) -> String {
        let rows = model.layerSummaries
        let header = ["Layer (type)", "Output shape", "Parameters", "Mult-adds", "Penalty weight"]
        var cells = rows.map { r in
            ["\(r.name) (\(r.typeName))", "[" + r.outputShape.map(String.init).joined(separator: ", ") + "]",
             grouped(r.parameters), grouped(r.macs), penalty(r.penaltyWeight)]
        }
        cells.insert(header, at: 0)
        let widths = (0..<header.count).map { c in cells.map { $0[c].count }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            row.enumerated().map { c, s in
                let pad = String(repeating: " ", count: widths[c] - s.count)
                return (c == 2 || c == 3) ? pad + s : s + pad
            }.joined(separator: "   ").replacing(/\s+$/, with: "")
        }
        let rule = String(repeating: "─", count: widths.reduce(0, +) + 3 * (widths.count - 1))
        var out = ["Model: \(model.name)   input [\(model.input.shape.map(String.init).joined(separator: ", "))]   \(model.dtype.rawValue)", rule, line(cells[0]), rule]
        out += cells.dropFirst().map(line)
        out.append(rule)
        let params = rows.reduce(0) { $0 + $1.parameters }, macs = rows.reduce(0) { $0 + $1.macs }
        out.append("Total parameters: \(grouped(params))   (variational layers count a loc and a scale per weight)")
        out.append("Total multiply-adds per example: \(grouped(macs))   (Flipout layers count both products)")
        switch model.likelihood {
        case nil: out.append("Likelihood: none (the network can be inspected and used for prediction, not trained)")
        case .categorical?: out.append("Likelihood: categorical, \(model.outputShape.last ?? 0) classes")
        case .normal(let s)?: out.append("Likelihood: normal, scale \(s)")
        }
        return out.joined(separator: "\n")
    }
}
