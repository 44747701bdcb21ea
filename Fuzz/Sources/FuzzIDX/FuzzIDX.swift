import BayesNet

/// One input is an IDX file. Decoding must never trap; a decoded array re-encodes to bytes that decode to it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let array = try? IDX.decode(bytes) else { return 0 }
    precondition(array.shape.reduce(1, *) == array.count, "shape \(array.shape) does not match \(array.count) values")
    let encoded = IDX.encode(array)
    precondition(encoded == bytes, "IDX bytes do not round-trip")
    _ = array.floats(scale: 1.0 / 255)
    return 0
}
