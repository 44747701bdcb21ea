import Testing
@testable import BayesNetSpec

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The package's top folder, found by walking up from this file to Package.swift (resources are copied, so
/// `specs/` is read where it is written).
func packageRoot(_ file: String = #filePath) -> String {
    var dir = file
    while let slash = dir.lastIndex(of: "/") {
        dir = String(dir[..<slash])
        if access(dir + "/Package.swift", F_OK) == 0 { return dir }
    }
    return "."
}

/// Every `.yaml` file in `specs/`.
func librarySpecs() -> [String] {
    let folder = packageRoot() + "/specs"
    guard let d = opendir(folder) else { return [] }
    defer { closedir(d) }
    var out: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name.hasSuffix(".yaml") { out.append(folder + "/" + name) }
    }
    return out.sorted()
}

@Suite struct SpecLibraryTests {
    @Test func specFolderHoldsTheElevenLibrarySpecs() {
        #expect(librarySpecs().count == 11)
    }

    @Test(arguments: librarySpecs())
    func librarySpecIsValid(path: String) {
        let result = SpecLoader.load(path: path)
        #expect(result.diagnostics.map { $0.rendered(source: result.source) } == [])
        #expect(result.spec != nil)
    }

    @Test func everyLibrarySpecStartsWithACommentHeader() throws {
        for path in librarySpecs() {
            let result = SpecLoader.load(path: path)
            #expect(result.source.text.hasPrefix("# "), "\(path)")
        }
    }
}
