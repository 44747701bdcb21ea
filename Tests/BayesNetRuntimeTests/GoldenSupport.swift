import Foundation
@testable import BayesNetRuntime

/// One TensorFlow reference case from Golden/*.json.
struct GoldenCase: Sendable, CustomStringConvertible {
    struct Array: Sendable { var shape: [Int]; var data: [Float] }
    var name: String
    var op: String
    var rank: Int
    var padding: PaddingMode
    var ints: [String: [Int]]
    /// Scalar settings (momentum, epsilon; flags as 0 or 1).
    var numbers: [String: Double]
    var tensors: [String: Array]

    var description: String { name }

    func tensor(_ key: String) -> Array { tensors[key]! }

    static let directory: URL = Bundle.module.url(forResource: "Golden", withExtension: nil)!

    static func names(op: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.sorted().filter { (try? load($0))?.op == op }
    }

    static func load(_ file: String) throws -> GoldenCase {
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var ints: [String: [Int]] = [:]
        var numbers: [String: Double] = [:]
        var tensors: [String: Array] = [:]
        for (key, value) in object {
            if let list = value as? [NSNumber] {
                ints[key] = list.map(\.intValue)
            } else if let number = value as? NSNumber {
                numbers[key] = number.doubleValue
            } else if let t = value as? [String: Any], let shape = t["shape"] as? [NSNumber],
                      let values = t["data"] as? [NSNumber] {
                tensors[key] = Array(shape: shape.map(\.intValue), data: values.map(\.floatValue))
            }
        }
        return GoldenCase(name: object["name"] as! String, op: object["op"] as! String,
                          rank: (object["rank"] as! NSNumber).intValue,
                          padding: (object["padding"] as? String) == "SAME" ? .same : .valid,
                          ints: ints, numbers: numbers, tensors: tensors)
    }
}

/// max over elements of |a - b| / max(|b|, 1): relative for large values, absolute near zero.
func maxRelativeError<S: TensorScalar>(_ a: [S], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let e = abs(Double(x) - Double(y)) / max(abs(Double(y)), 1)
        if e.isNaN { return .infinity }
        worst = max(worst, e)
    }
    return worst
}
