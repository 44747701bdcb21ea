import Testing
@testable import BayesNetSpec

/// Sizes near `Int.max` must produce diagnostics (or valid shapes), never an arithmetic trap.
@Suite struct HugeNumberTests {
    static let max = "9223372036854775807"

    @Test(arguments: [
        ("  - Conv2D: {filters: 2, kernel_size: 3, strides: \(max), padding: same}", [1, 1, 2]),
        ("  - MaxPool: {pool_size: 2, strides: \(max)}", [1, 1, 1]),
        ("  - MaxPool: {pool_size: \(max), padding: same}", [1, 1, 1]),
        ("  - Conv2D: {filters: 2, kernel_size: 1, strides: \(max)}", [1, 1, 2]),
    ])
    func hugeStridesGiveOneOutputPosition(layer: String, shape: [Int]) throws {
        let s = try #require(SpecLoader.load(text: spec(layer)).spec)
        #expect(s.layers[0].outputShape == shape)
    }

    @Test func hugeDilatedValidFilterIsAnEmptyOutput() {
        let ds = SpecLoader.load(text: spec("  - Conv2D: {filters: 2, kernel_size: 3, dilations: \(Self.max)}")).diagnostics
        #expect(ds.map(\.message) == ["VALID convolution output would be empty along spatial dimension 1: the input's 8 is smaller than the dilated filter's span, which exceeds \(Self.max)"])
    }

    @Test func hugeSameFilterIsTooLarge() {
        let ds = SpecLoader.load(text: spec("  - Conv1D: {filters: 2, kernel_size: \(Self.max), dilations: \(Self.max), padding: same}", input: "[8, 1]")).diagnostics
        #expect(ds.map(\.message) == ["`Conv1D` is too large: its parameters (kernel [\(Self.max), 1, 2] and bias) would need more values than a 64-bit count holds, more than the 8.0 GiB one tensor may use (raise the limit with --max-tensor-size)"])
    }

    @Test func hugeUnitsAreTooLarge() {
        let ds = SpecLoader.load(text: spec("  - Dense: {units: \(Self.max)}", input: "[4]")).diagnostics
        #expect(ds.map(\.message) == ["`Dense` is too large: its parameters (kernel [4, \(Self.max)] and bias) would need more values than a 64-bit count holds, more than the 8.0 GiB one tensor may use (raise the limit with --max-tensor-size)"])
    }

    @Test func hugeActivationIsRefusedWithTheFigure() {
        let ds = SpecLoader.load(text: spec("  - Conv2D: {filters: 100000, kernel_size: 1, padding: same}", input: "[4096, 4096, 1]")).diagnostics
        #expect(ds.map(\.message) == ["`Conv2D` is too large: one example's output [4096, 4096, 100000] would need 1677721600000 values (6.1 TiB as float32), more than the 8.0 GiB one tensor may use (raise the limit with --max-tensor-size)"])
    }

    @Test func largestSeedIsAccepted() throws {
        let s = try #require(SpecLoader.load(text: spec("  - Flatten", extra: "seed: 18446744073709551615\n")).spec)
        #expect(s.seed == UInt64.max)
    }
}
