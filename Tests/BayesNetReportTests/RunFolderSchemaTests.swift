import BayesNetFormats
import BayesNetReport
import Foundation
import Testing

/// The run folder's types are written by `bayesnet run` and read by resume and the report: one schema.
struct RunFolderSchemaTests {
    @Test func metricsLineKeepsTheDocumentedKeyOrder() {
        let line = EpochMetrics(epoch: 2, step: 48, loss: 0.5, nll: 0.25, kl: 0.125, trainAccuracy: 0.75,
                                validationNll: 0.3, learningRate: 0.001, seconds: 1.23456)
        #expect(RunFolderJSON.text(line) == "{\"epoch\": 2, \"step\": 48, \"loss\": 0.5, \"nll\": 0.25, \"kl\": 0.125, "
            + "\"train_accuracy\": 0.75, \"validation_nll\": 0.3, \"learning_rate\": 0.001, \"seconds\": 1.235}")
    }

    @Test func nonFiniteLossIsWrittenAsNullAndReadBackAsNaN() throws {
        let line = EpochMetrics(epoch: 1, step: 1, loss: .infinity, nll: .nan, kl: 0)
        let text = RunFolderJSON.text(line)
        #expect(text.contains("\"loss\": null, \"nll\": null"))
        let back = try RunFolderJSON.decoder().decode(EpochMetrics.self, from: Data(text.utf8))
        #expect(back.loss.isNaN && back.nll.isNaN && back.kl == 0)
    }

    @Test func summaryReadsBackAsWritten() throws {
        let summary = RunSummary(
            name: "s", seed: UInt64.max, specSha256: "ab", threads: 2, ranks: 1, wallSeconds: 1.5, trainSeconds: 1,
            epochs: 3, steps: 30, trainingExamples: 100,
            final: .init(loss: 0.5, nll: 0.4, kl: 0.1),
            evaluation: .init(samples: 5, examples: 10,
                              predictive: .init(accuracy: 0.9, nll: 0.3, ece: 0.01, brier: 0.1, entropy: 0.2, mutualInformation: 0.05),
                              posteriorMean: .init(accuracy: 0.8), reliability: .init(bins: 2, confidence: [nil, 0.9], accuracy: [nil, 1], count: [0, 10])),
            warnings: ["training diverged"], earlyStopping: .init(bestEpoch: 2, bestValidationNll: 0.2, stoppedAfterEpoch: nil),
            layers: [.init(name: "dense", type: "DenseFlipout", outputShape: [10], parameters: 20, macs: 10, penaltyWeight: 0.01)],
            totals: .init(parameters: 20, macs: 10))
        let text = RunFolderJSON.text(summary, indent: 2)
        #expect(text.contains("\"seed\": \"18446744073709551615\""))
        #expect(text.contains("\"stopped_after_epoch\": null"))
        #expect(try RunFolder.parseSummary(Data(text.utf8)) == summary)
    }

    @Test func regressionFiguresKeepTheirOwnOrder() {
        let figures = RunSummary.Figures(rmse: 1, nll: 2, predictiveStd: 3, crps: 4)
        #expect(RunFolderJSON.text(figures) == "{\"rmse\": 1.0, \"nll\": 2.0, \"predictive_std\": 3.0, \"crps\": 4.0}")
    }
}
