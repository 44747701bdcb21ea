import BayesNetSpec

/// One input is a spec file's bytes. Loading must never trap; a spec comes back iff there is no error,
/// and every diagnostic renders as text (plain and coloured) and as JSON.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let result = SpecLoader.load(bytes: bytes, path: "fuzz.yaml")
    let hasError = result.diagnostics.contains { $0.severity == .error }
    precondition(hasError == (result.spec == nil), "a spec must come back exactly when there is no error")
    for d in result.diagnostics {
        precondition(d.location.line >= 1 && d.location.column >= 1, "diagnostic location \(d.location) is not 1-based")
        _ = d.rendered(source: result.source)
        _ = d.rendered(source: result.source, color: true)
    }
    _ = DiagnosticRenderer.json(result.diagnostics)
    if let spec = result.spec {
        _ = spec.compiledJSON()
        _ = spec.layerSummaries
    }
    return 0
}
