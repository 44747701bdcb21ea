import BayesNetFormats

/// One input is an IDX file, plain or gzip-compressed. Decoding must never trap; a decoded plain file re-encodes
/// to the same bytes, and a decoded gzip file to bytes that decode to the same array.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let array = try? IDX.decode(bytes) else { return 0 }
    precondition(array.shape.reduce(1, *) == array.count, "shape \(array.shape) does not match \(array.count) values")
    let encoded = IDX.encode(array)
    if size >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B {
        precondition((try? IDX.decode(encoded)) == array, "inflated IDX does not round-trip")
    } else {
        precondition(encoded == bytes, "IDX bytes do not round-trip")
    }
    _ = array.floats(scale: 1.0 / 255)
    return 0
}
