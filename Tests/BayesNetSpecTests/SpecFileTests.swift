import Testing
@testable import BayesNetSpec

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes bytes to a fresh temporary file and returns its path.
func temporaryFile(_ bytes: [UInt8]) -> String {
    var template = Array("/tmp/bayesnet-spec-test-XXXXXX.yaml".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 5) }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

@Suite struct SpecFileTests {
    @Test func missingFileIsOneDiagnosticNotACrash() {
        let result = SpecLoader.load(path: "/nonexistent/net.yaml")
        #expect(result.spec == nil)
        #expect(result.diagnostics.map(\.message) == ["cannot read spec file: No such file or directory"])
    }

    @Test func invalidUTF8NamesTheLine() {
        let path = temporaryFile(Array("bayesnet: 1\nname: \u{00}".utf8.dropLast()) + [0xFF, 0x0A])
        defer { unlink(path) }
        let result = SpecLoader.load(path: path)
        #expect(result.diagnostics.map(\.message) == ["spec file is not valid UTF-8 (line 2)"])
    }

    @Test func validFileLoadsWithItsPathInLocations() throws {
        let path = temporaryFile(Array("bayesnet: 1\ninput: {shape: [4]}\nlayers: [{Dense: {units: 2}}]\n".utf8))
        defer { unlink(path) }
        let spec = try #require(SpecLoader.load(path: path).spec)
        #expect(spec.layers[0].location.file == path)
        #expect(spec.locations["layers"] == SourceLocation(file: path, line: 3, column: 1))
    }
}
