import BayesNetFormats
import Foundation

/// test-inputs.npy as the report draws it: the shape and the values as Float, read by the one NPY reader.
public struct NPYArray: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    /// Scalars per leading-axis entry (per example).
    /// Zero when any axis is empty, so that a parsed shape like [N, 2^40, 2^40, 0] does not overflow.
    public var exampleSize: Int { shape.dropFirst().contains(0) ? 0 : shape.dropFirst().reduce(1, *) }

    public static func parse(_ data: Data, file: String = RunFolder.testInputsFile) throws(ReportError) -> NPYArray {
        do {
            let array = try NPY.decode([UInt8](data))
            return NPYArray(shape: array.shape, values: array.floats())
        } catch {
            throw .malformed(file: file, line: nil, reason: error.message)
        }
    }

    /// The NPY encoding of this array (float32); used to write test fixtures and by other tools.
    public func encoded() -> Data {
        Data(NPY.encode(NumericArray(shape: shape, storage: .float32(values))))
    }
}
