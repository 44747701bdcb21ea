import BayesNetFormats

/// One input is an NPY file, plain or gzip-compressed. Decoding must never trap; a decoded array survives encode → decode unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let array = try? NPY.decode(bytes) else { return 0 }
    precondition(array.shape.reduce(1, *) == array.count, "shape \(array.shape) does not match \(array.count) values")
    let encoded = NPY.encode(array)
    guard let again = try? NPY.decode(encoded) else { preconditionFailure("re-encoded NPY does not decode") }
    precondition(NPY.encode(again) == encoded, "NPY does not round-trip")
    return 0
}
