/// Comma-separated numbers, one example per line, with an optional header line of column names
/// (recognised because one of its fields is not a number; names may be double-quoted but not contain commas).
/// Blank lines are ignored; NaN and infinities are refused.
public enum CSVData {
    public struct Table: Sendable, Equatable {
        public var header: [String]?
        public var rows: Int
        public var columns: Int
        /// Row-major, rows × columns.
        public var values: [Double]
    }

    public static func read(path: String, limits: DataLimits = .default) throws(DataError) -> Table {
        let bytes = try DataFile.read(path, limits: limits)
        do {
            return try decode(bytes, limits: limits)
        } catch {
            throw error.named(path)
        }
    }

    public static func decode(_ bytes: [UInt8], limits: DataLimits = .default) throws(DataError) -> Table {
        var header: [String]?
        var columns = -1
        var values: [Double] = []
        var rows = 0
        var lineNumber = 0
        var start = 0
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }  // UTF-8 byte order mark
        start = body.startIndex
        let end = body.endIndex
        while start < end {
            lineNumber += 1
            var stop = start
            while stop < end, body[stop] != 0x0A { stop += 1 }
            var line = body[start..<stop]
            start = stop + 1
            if line.last == 0x0D { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let fields = line.split(separator: 0x2C, omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self).trimmingSpaces()
            }
            let numbers = fields.map(number)
            if columns < 0 {
                columns = fields.count
                if numbers.contains(where: { $0 == nil }) {
                    header = fields.map { $0.unquoted() }
                    continue
                }
            }
            guard fields.count == columns else {
                throw DataError(file: nil, "line \(lineNumber) has \(fields.count) fields but the \(header == nil ? "first line" : "header") has \(columns)")
            }
            for (k, v) in numbers.enumerated() {
                guard let v else {
                    let shown = fields[k].count > 40 ? String(fields[k].prefix(40)) + "…" : fields[k]
                    throw DataError(file: nil, "line \(lineNumber), column \(k + 1): '\(shown)' is not a finite number")
                }
                values.append(v)
            }
            rows += 1
            guard values.count <= limits.maxElements else {
                throw DataError(file: nil, "at line \(lineNumber) the table holds \(values.count) values, \(limits.overBudget())", kind: .overMemoryBudget)
            }
        }
        return Table(header: header, rows: rows, columns: max(columns, 0), values: values)
    }

    private static func number(_ field: String) -> Double? {
        guard let v = Double(field), v.isFinite else { return nil }
        return v
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }

    fileprivate func unquoted() -> String {
        if count >= 2, first == "\"", last == "\"" { return String(dropFirst().dropLast()) }
        return self
    }
}
