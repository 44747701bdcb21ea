import BayesNet

/// One input is a safetensors file. Decoding must never trap; what decodes re-encodes and decodes to the same tensors.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let (entries, metadata) = try? SafeTensors.decode(bytes) else { return 0 }
    for e in entries {
        precondition(SafeTensors.byteWidth(dtype: e.dtype).map { $0 * e.elementCount } == e.bytes.count,
                     "tensor '\(e.name)' has \(e.bytes.count) bytes for \(e.dtype) × \(e.shape)")
        _ = try? e.floats()
        _ = try? e.int64s()
    }
    let encoded = SafeTensors.encode(entries, metadata: metadata)
    guard let again = try? SafeTensors.decode(encoded) else { preconditionFailure("re-encoded safetensors does not decode") }
    precondition(again.metadata == metadata, "metadata does not round-trip")
    precondition(Set(again.entries.map(\.name)) == Set(entries.map(\.name)), "tensor names do not round-trip")
    let byName = Dictionary(uniqueKeysWithValues: again.entries.map { ($0.name, $0) })
    for e in entries { precondition(byName[e.name] == e, "tensor '\(e.name)' does not round-trip") }
    return 0
}
