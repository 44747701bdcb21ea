/// "Did you mean" hints for misspelt names, by edit distance.
public enum Suggestions {
    /// Levenshtein distance with adjacent transpositions, ignoring ASCII case.
    static func distance(_ a: String, _ b: String) -> Int { distance(a, b, atMost: Int.max - 1) }

    /// The distance, or `limit + 1` as soon as two rows in a row exceed `limit` (the distance only grows from
    /// there). Allocation-free, so that thousands of unknown names in one spec each cost little against the catalog.
    static func distance(_ a: String, _ b: String, atMost limit: Int) -> Int {
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in distance(x, y, atMost: limit) } }
    }

    private static func distance(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>, atMost limit: Int) -> Int {
        if x.isEmpty { return min(y.count, limit + 1) }
        if y.isEmpty { return min(x.count, limit + 1) }
        @inline(__always) func fold(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
        let n = y.count + 1
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 3 * n) { rows in
            // Three rolling rows: two back (for transpositions), previous, current.
            var before = rows.baseAddress!, previous = before + n, current = previous + n
            before.initialize(repeating: 0, count: n)
            for j in 0..<n { previous[j] = j }
            var previousMinimum = 0
            for i in 1...x.count {
                current[0] = i
                var rowMinimum = i
                let xi = fold(x[i - 1])
                for j in 1..<n {
                    let yj = fold(y[j - 1])
                    var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (xi == yj ? 0 : 1))
                    if i > 1, j > 1, xi == fold(y[j - 2]), fold(x[i - 2]) == yj { d = min(d, before[j - 2] + 1) }
                    current[j] = d
                    rowMinimum = min(rowMinimum, d)
                }
                if rowMinimum > limit, previousMinimum > limit { return limit + 1 }
                previousMinimum = rowMinimum
                (before, previous, current) = (previous, current, before)
            }
            return min(previous[n - 1], limit + 1)
        }
    }

    /// The closest candidate, if it is close enough to be a likely typo.
    public static func closest(to word: String, among candidates: [String]) -> String? {
        guard word.count <= 64 else { return nil }
        let limit = max(2, word.count / 3)
        var best: (String, Int)?
        for c in candidates where abs(c.utf8.count - word.utf8.count) <= limit {
            let d = distance(word, c, atMost: limit)
            if d <= limit, d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best?.0
    }

    public static func help(for word: String, among candidates: [String]) -> String? {
        closest(to: word, among: candidates).map { "did you mean `\($0)`?" }
    }
}
