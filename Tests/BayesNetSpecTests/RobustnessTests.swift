import Testing
@testable import BayesNetSpec

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes that change YAML's structure (indicators, quotes, breaks, indentation), plus a digit, a letter,
/// a NUL and bytes that break UTF-8. Each position gets two of them in turn, so every byte is tried at
/// many positions of every spec while the test stays within seconds in a debug build.
let mutationBytes: [UInt8] = Array(":-[]{},&*<!|>'\"#%@\n \t0x".utf8) + [0x00, 0xC3, 0xFF]

/// Loads text that may be anything; checks the result is coherent and that every diagnostic renders.
func checkCoherent(_ bytes: ArraySlice<UInt8>) -> Bool {
    let text = String(decoding: bytes, as: UTF8.self)
    let result = SpecLoader.load(text: text, path: "m.yaml")
    let hasError = result.diagnostics.contains { $0.severity == .error }
    guard hasError == (result.spec == nil) else { return false }
    for d in result.diagnostics {
        guard d.location.line >= 1, d.location.column >= 1,
              Diagnostic.line(d.location.line, of: text) != nil || Diagnostic.line(d.location.line - 1, of: text) != nil else { return false }
        _ = d.rendered(source: result.source)
    }
    return true
}

@Suite struct RobustnessTests {
    @Test(arguments: librarySpecs())
    func everyTruncationIsHandled(path: String) {
        let bytes = SpecLoader.load(path: path).source.text.utf8.map { $0 }
        var failures: [Int] = []
        for n in 0..<bytes.count where !checkCoherent(bytes[0..<n]) { failures.append(n) }
        #expect(failures == [])
    }

    @Test(arguments: librarySpecs())
    func everySingleByteMutationIsHandled(path: String) {
        var bytes = SpecLoader.load(path: path).source.text.utf8.map { $0 }
        var failures: [String] = []
        for i in bytes.indices {
            let original = bytes[i]
            for k in 0..<2 {
                let b = mutationBytes[(2 * i + k) % mutationBytes.count]
                if b == original { continue }
                bytes[i] = b
                if !checkCoherent(bytes[...]) { failures.append("byte \(i) -> \(b)") }
            }
            bytes[i] = original
        }
        #expect(failures == [])
    }
}
