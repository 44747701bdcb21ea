import BayesNetFormats
import Foundation
import BayesNet

/// Training progress for the terminal: a bar with ETA and running loss on a TTY, one plain line per epoch
/// otherwise (CI logs), nothing with `--quiet`.
final class ProgressDisplay {
    let interactive: Bool
    let quiet: Bool
    private var totalEpochs = 0
    private var firstEpoch = 0
    private var stepsPerEpoch = 1
    private var start = Date()
    private var lastDraw = Date.distantPast
    private var lastWidth = 0

    init(quiet: Bool) {
        self.quiet = quiet
        interactive = isatty(STDOUT_FILENO) != 0
    }

    var progress: RunProgress {
        var p = RunProgress()
        p.message = { [unowned self] text in self.message(text) }
        p.warning = { [unowned self] text in
            self.clearBar()
            printError("warning: \(text)")
        }
        p.started = { [unowned self] total, done, steps in
            self.totalEpochs = total
            self.firstEpoch = done
            self.stepsPerEpoch = max(steps, 1)
            self.start = Date()
        }
        p.step = { [unowned self] epoch, step, steps, loss in self.step(epoch: epoch, step: step, steps: steps, loss: loss) }
        p.epochFinished = { [unowned self] metrics, total in self.finished(metrics, total: total) }
        return p
    }

    func message(_ text: String) {
        guard !quiet else { return }
        clearBar()
        write(text + "\n")
    }

    /// Unbuffered, so lines appear as epochs finish even when stdout is a pipe.
    private func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    private func clearBar() {
        guard interactive, lastWidth > 0 else { return }
        write("\r" + String(repeating: " ", count: lastWidth) + "\r")
        lastWidth = 0
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }

    private func step(epoch: Int, step: Int, steps: Int, loss: Double) {
        guard interactive, !quiet else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.1 || step == steps else { return }
        lastDraw = now
        let doneSteps = (epoch - 1 - firstEpoch) * stepsPerEpoch + step
        let totalSteps = max((totalEpochs - firstEpoch) * stepsPerEpoch, 1)
        let fraction = Double(doneSteps) / Double(totalSteps)
        let elapsed = now.timeIntervalSince(start)
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let width = 24
        let filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let line = "epoch \(epoch)/\(totalEpochs) \(bar) \(Int(fraction * 100))%  loss \(String(format: "%.4f", loss))  ETA \(Self.duration(eta))"
        write("\r" + line + String(repeating: " ", count: max(0, lastWidth - line.count)))
        lastWidth = line.count
    }

    static func describe(_ m: EpochMetrics, total: Int) -> String {
        var s = "epoch \(m.epoch)/\(total)  loss \(String(format: "%.4f", m.loss))  nll \(String(format: "%.4f", m.nll))  kl \(String(format: "%.4f", m.kl))"
        if let a = m.trainAccuracy { s += "  train acc \(String(format: "%.3f", a))" }
        if let a = m.testAccuracy { s += "  test acc \(String(format: "%.3f", a))" }
        if let a = m.validationAccuracy { s += "  val acc \(String(format: "%.3f", a))" }
        if let n = m.validationNll { s += "  val nll \(String(format: "%.4f", n))" }
        if let r = m.learningRate { s += "  lr \(String(format: "%.3g", r))" }
        if let n = m.testNll { s += "  test nll \(String(format: "%.4f", n))" }
        return s + "  \(String(format: "%.1f", m.seconds))s"
    }

    private func finished(_ m: EpochMetrics, total: Int) {
        guard !quiet else { return }
        if interactive {
            // The bar stays on one line; only the last epoch's summary is kept on screen.
            if m.epoch == total {
                clearBar()
                write(Self.describe(m, total: total) + "\n")
            }
        } else {
            write(Self.describe(m, total: total) + "\n")
        }
    }
}
