import BayesNetFormats

/// One input is a CSV file. Decoding must never trap; a table holds rows × columns finite values.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let table = try? CSVData.decode(bytes) else { return 0 }
    precondition(table.values.count == table.rows * table.columns, "\(table.values.count) values for \(table.rows) × \(table.columns)")
    precondition(table.values.allSatisfy(\.isFinite), "a value is not finite")
    return 0
}
