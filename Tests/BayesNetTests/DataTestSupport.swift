import BayesNetFormats
import Foundation
import BayesNetSpec
@testable import BayesNet

/// A fresh folder under the system temporary folder, removed when the value is dropped by the caller via `remove()`.
struct TemporaryFolder {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "bayesnet-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = file(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    @discardableResult
    func write(_ name: String, text: String) -> String { write(name, Array(text.utf8)) }

    func contents() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted() ?? [] }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A minimal valid spec for data-loading tests: no layers, so the output shape is the input shape.
func makeSpec(inputShape: [Int], layout: Layout = .channelsLast, specPath: String = "<string>") -> ModelSpec {
    ModelSpec(
        version: 1, name: "test", seed: 1, dtype: .float32, input: InputSpec(shape: inputShape, layout: layout),
        layers: [], likelihood: .categorical, data: DataSpec(), train: TrainSpec(), evaluate: EvaluateSpec(),
        source: SpecSource(path: specPath, text: ""), locations: [:])
}

/// Runs `body`, expecting a DataError; returns its description ("" when nothing was thrown).
func dataErrorMessage(_ body: () throws -> Void) -> String {
    do {
        try body()
        return ""
    } catch let e as DataError {
        return e.description
    } catch {
        return "unexpected error type: \(error)"
    }
}
