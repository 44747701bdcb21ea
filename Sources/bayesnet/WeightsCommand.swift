import Foundation
import ArgumentParser
import BayesNet

struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "List the tensors of a checkpoint or any safetensors file, with their shapes and statistics.",
        discussion: "For a posterior's untransformed scale ρ the last column is the mean scale σ = 1e-5 + softplus(ρ) it stands for. Optimizer state is listed after the weights."
    )

    @Argument(help: "A safetensors file, or a run folder (its checkpoint.safetensors).")
    var weights: String

    @OptionGroup(title: "Limits")
    var dataLimits: DataLimitOptions

    func run() throws {
        let path = Serving.checkpointPath(weights)
        let summary: (tensors: [TensorSummary], step: Int?, epoch: Int?, seed: UInt64?)
        do {
            summary = try WeightsSummary.read(path: path, limits: dataLimits.limits)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        if let step = summary.step, let epoch = summary.epoch, let seed = summary.seed {
            print("\(path): epoch \(epoch), step \(step), seed \(seed)")
        } else {
            print("\(path): no run metadata (weights only; `predict` and `evaluate` take it, `run --resume` does not)")
        }
        let width = max(summary.tensors.map(\.name.count).max() ?? 0, 6)
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        print(pad("tensor", width) + "  dtype  " + pad("shape", 16) + "        mean         std         min         max   mean σ")
        for t in summary.tensors {
            let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            let numbers = [t.mean, t.std, t.minimum, t.maximum].map { String(format: "%11.4g", $0) }.joined(separator: " ")
            print(pad(t.name, width) + "  " + pad(t.dtype, 5) + "  " + pad(shape, 16) + " " + numbers
                  + (t.meanScale.map { String(format: "  %.4g", $0) } ?? ""))
        }
    }
}
