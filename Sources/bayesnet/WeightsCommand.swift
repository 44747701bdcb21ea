import BayesNetFormats
import Foundation
import ArgumentParser
import BayesNet
import BayesNetSpec

struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "List the tensors of a checkpoint or any safetensors file, with their shapes and statistics.",
        discussion: """
            For a posterior's untransformed scale ρ the last column is the mean scale σ = 1e-5 + softplus(ρ) it stands \
            for. Optimizer state is listed after the weights. With --kl SPEC the file must fit the spec, and each \
            variational layer's KL divergence from its prior follows: in closed form for a normal prior, by \
            64-point Gauss-Hermite quadrature for a scale mixture (spike-and-slab), unweighted and times the layer's \
            penalty_weight.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "A safetensors file, or a run folder (its checkpoint.safetensors).")
    var weights: String

    @Option(help: ArgumentHelp("Also print each variational layer's KL divergence from its prior, for this spec.", valueName: "spec"))
    var kl: String?

    @Option(help: ArgumentHelp(
        "With --kl: the number of training examples that `penalty_weight: auto` divides by (default: counted in the spec's data.train).",
        valueName: "n"))
    var trainExamples: Int?

    @Option(help: "`text` (tables) or `json`.")
    var format: Format = .text

    @OptionGroup(title: "Limits")
    var specLimits: SpecLimitOptions

    @OptionGroup(title: "Limits")
    var dataLimits: DataLimitOptions

    func validate() throws {
        if let trainExamples, trainExamples < 1 { throw ValidationError("--train-examples must be at least 1") }
        if trainExamples != nil, kl == nil { throw ValidationError("--train-examples applies to --kl only") }
    }

    func run() throws {
        let path = Serving.checkpointPath(weights)
        let summary: (tensors: [TensorSummary], step: Int?, epoch: Int?, seed: UInt64?)
        var divergences: [LayerKL]?
        do {
            summary = try WeightsSummary.read(path: path, limits: dataLimits.limits)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        if let kl {
            let spec = try loadSpecOrExit(kl, limits: specLimits.limits)
            let examples: Int?
            do {
                examples = try trainExamples ?? spec.countedTrainingExamples(limits: dataLimits.limits)
            } catch {
                printError("error: cannot count the training examples for `penalty_weight: auto`: \(error)\nhelp: pass --train-examples N")
                throw ExitCode(1)
            }
            do {
                divergences = try LayerDivergence.of(spec: spec, weights: path, trainingExamples: examples, limits: dataLimits.limits)
            } catch {
                printError("error: \(error)")
                throw ExitCode(1)
            }
        }
        switch format {
        case .text: printText(path: path, summary, divergences)
        case .json: Console.out(json(path: path, summary, divergences).rendered(indent: 2))
        }
    }

    func printText(path: String, _ summary: (tensors: [TensorSummary], step: Int?, epoch: Int?, seed: UInt64?), _ divergences: [LayerKL]?) {
        if let step = summary.step, let epoch = summary.epoch, let seed = summary.seed {
            print("\(path): epoch \(epoch), step \(step), seed \(seed)")
        } else {
            print("\(path): no run metadata (weights only; `predict` and `evaluate` take it, `run --resume` does not)")
        }
        let width = max(summary.tensors.map(\.name.count).max() ?? 0, 6)
        print(pad("tensor", width) + "  dtype  " + pad("shape", 16) + "        mean         std         min         max   mean σ")
        for t in summary.tensors {
            let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            let numbers = [t.mean, t.std, t.minimum, t.maximum].map { String(format: "%11.4g", $0) }.joined(separator: " ")
            print(pad(t.name, width) + "  " + pad(t.dtype, 5) + "  " + pad(shape, 16) + " " + numbers
                  + (t.meanScale.map { String(format: "  %.4g", $0) } ?? ""))
        }
        guard let divergences else { return }
        print("")
        print("KL divergence from the prior (nats):")
        let w = max(divergences.map(\.layer.count).max() ?? 0, 6)
        print(pad("layer", w) + "  " + pad("prior", 28) + "  " + pad("method", 14)
              + "       kernel         bias        total  penalty weight     weighted")
        for d in divergences {
            let numbers = [d.kernel, d.bias, d.total].map { String(format: "%12.6g", $0) }.joined(separator: " ")
            let weight = d.penaltyWeight.map { String(format: "%14.6g", $0) } ?? pad("auto (N?)", 14)
            let weighted = d.weighted.map { String(format: "%12.6g", $0) } ?? "           -"
            print(pad(d.layer, w) + "  " + pad(Self.describe(d.prior), 28) + "  " + pad(Self.describe(d.method), 14)
                  + " " + numbers + "  " + weight + " " + weighted)
        }
        let weighted = divergences.compactMap(\.weighted)
        if weighted.count == divergences.count {
            print(pad("total", w) + String(repeating: " ", count: 2 + 28 + 2 + 14 + 1 + 38 + 2 + 14 + 1) + String(format: "%12.6g", weighted.reduce(0, +)))
        } else {
            print("`penalty_weight: auto` needs the number of training examples: the spec has no data.train; pass --train-examples N")
        }
    }

    func json(path: String, _ summary: (tensors: [TensorSummary], step: Int?, epoch: Int?, seed: UInt64?), _ divergences: [LayerKL]?) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("file", .string(path)),
            ("step", summary.step.map { .int($0) } ?? .null),
            ("epoch", summary.epoch.map { .int($0) } ?? .null),
            ("seed", summary.seed.map { $0 <= UInt64(Int.max) ? .int(Int($0)) : .string(String($0)) } ?? .null),
            ("tensors", .array(summary.tensors.map { t in
                .object([("name", .string(t.name)), ("dtype", .string(t.dtype)), ("shape", .array(t.shape.map { .int($0) })),
                         ("mean", .finite(t.mean)), ("std", .finite(t.std)), ("min", .finite(t.minimum)),
                         ("max", .finite(t.maximum)), ("mean_scale", .finite(t.meanScale))])
            })),
        ]
        if let divergences {
            pairs.append(("kl", .array(divergences.map { d in
                let method: JSONValue
                switch d.method {
                case .closedForm: method = .object([("name", .string("closed_form"))])
                case .quadrature(let n): method = .object([("name", .string("gauss_hermite")), ("points", .int(n))])
                }
                return .object([("layer", .string(d.layer)), ("prior", Self.json(d.prior)), ("method", method),
                                ("kernel", .finite(d.kernel)), ("bias", .finite(d.bias)), ("total", .finite(d.total)),
                                ("penalty_weight", .finite(d.penaltyWeight)), ("weighted", .finite(d.weighted))])
            })))
            let weighted = divergences.compactMap(\.weighted)
            pairs.append(("weighted_total", weighted.count == divergences.count ? .finite(weighted.reduce(0, +)) : .null))
        }
        return .object(pairs)
    }

    static func describe(_ p: Prior) -> String {
        switch p {
        case .normal(let loc, let scale): return "normal(\(short(loc)), \(short(scale)))"
        case .scaleMixture(let pi, let s1, let s2): return "scale_mixture(\(short(pi)), \(short(s1)), \(short(s2)))"
        }
    }

    static func describe(_ m: LayerKL.Method) -> String {
        switch m {
        case .closedForm: return "closed form"
        case .quadrature(let n): return "quadrature \(n)"
        }
    }

    static func json(_ p: Prior) -> JSONValue {
        switch p {
        case .normal(let loc, let scale):
            return .object([("name", .string("normal")), ("loc", .number(loc)), ("scale", .number(scale))])
        case .scaleMixture(let pi, let s1, let s2):
            return .object([("name", .string("scale_mixture")), ("pi", .number(pi)), ("scale1", .number(s1)), ("scale2", .number(s2))])
        }
    }

    static func short(_ x: Double) -> String { String(format: "%g", x) }
}

private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
