/// Classification losses over logits [batch, classes].
public enum Losses {
    /// Mean over the batch of -log softmax(logits)[label] (log-sum-exp shifted by the row max);
    /// writes d(mean loss)/d logits when dlogits != nil.
    @inlinable
    public static func softmaxCrossEntropy<S: TensorScalar>(logits: UnsafePointer<S>, labels: UnsafePointer<Int32>,
                                                            batch: Int, classes: Int,
                                                            dlogits: UnsafeMutablePointer<S>?) -> S {
        precondition(classes > 0, "Losses: classes must be positive")
        if batch == 0 { return 0 }
        var total: Double = 0
        let scale = 1 / S(batch)
        for r in 0..<batch {
            let z = logits + r * classes
            let label = Int(labels[r])
            precondition(label >= 0 && label < classes, "Losses: label \(label) outside 0..<\(classes)")
            var zmax = z[0]
            for j in 1..<classes where z[j] > zmax { zmax = z[j] }
            var sum: S = 0
            for j in 0..<classes { sum += S.exp(z[j] - zmax) }
            let logSum = S.log(sum)
            total += Double(logSum + zmax - z[label])
            if let d = dlogits.map({ $0 + r * classes }) {
                let inv = 1 / sum
                for j in 0..<classes { d[j] = S.exp(z[j] - zmax) * inv * scale }
                d[label] -= scale
            }
        }
        return S(total / Double(batch))
    }

    @inlinable
    public static func softmax<S: TensorScalar>(logits: UnsafePointer<S>, probabilities: UnsafeMutablePointer<S>,
                                                batch: Int, classes: Int) {
        if classes == 0 { return }
        for r in 0..<batch {
            let z = logits + r * classes, p = probabilities + r * classes
            var zmax = z[0]
            for j in 1..<classes where z[j] > zmax { zmax = z[j] }
            var sum: S = 0
            for j in 0..<classes { let e = S.exp(z[j] - zmax); p[j] = e; sum += e }
            let inv = 1 / sum
            for j in 0..<classes { p[j] *= inv }
        }
    }
}
