/// The bias gradient, shared by every layer that adds a bias per output channel.
public enum Bias {
    /// dbias[c] (+)= sum over rows of dy[row, c]: rows = batch × output positions for a convolution, batch for
    /// an affine layer.
    @inlinable
    public static func backward<S: TensorScalar>(dy: UnsafePointer<S>, dbias: UnsafeMutablePointer<S>,
                                        rows: Int, channels: Int, accumulate: Bool) {
        precondition(rows >= 0 && channels >= 0, "Bias: negative size")
        if !accumulate { dbias.update(repeating: 0, count: channels) }
        var r = 0
        // Four rows at a time keeps four independent partial sums in flight per channel.
        while r + 4 <= rows {
            let d0 = dy + r * channels, d1 = d0 + channels, d2 = d1 + channels, d3 = d2 + channels
            for c in 0..<channels { dbias[c] += (d0[c] + d1[c]) + (d2[c] + d3[c]) }
            r += 4
        }
        while r < rows {
            let d = dy + r * channels
            for c in 0..<channels { dbias[c] += d[c] }
            r += 1
        }
    }
}
