import BayesNetRuntime

/// The kernel gradient of a convolution, Σ over rows of patchᵀ · dy, reduced in a fixed order.
///
/// The runtime's `Convolution.backwardKernel` splits the row sum into one partial per thread, so its result
/// depends on the thread count in the last bits. Training must give bit-identical weights with any thread count,
/// so the interpreter forms patches itself in fixed slices of rows and lets GEMM, whose per-element sums do not
/// depend on how its output is split between threads, do the products.
final class ConvolutionKernelGradient<S: TensorScalar> {
    let inChannels: Int
    let outChannels: Int
    let taps: Int
    let positions: Int
    let inputPositions: Int
    /// For output position p and tap t: the input position read, or -1 for padding.
    let table: [Int32]
    let sliceRows: Int
    private let patches: Buffer<S>

    init(geometry g: ConvGeometry, spatial: [Int], filter: [Int], strides: [Int], dilations: [Int], same: Bool,
         maxBatch: Int) {
        inChannels = g.inChannels
        outChannels = g.outChannels
        let rank = spatial.count
        var outSpatial: [Int] = [], padBefore: [Int] = []
        for d in 0..<rank {
            let effective = (filter[d] - 1) * dilations[d] + 1
            if same {
                let out = (spatial[d] + strides[d] - 1) / strides[d]
                outSpatial.append(out)
                padBefore.append(max((out - 1) * strides[d] + effective - spatial[d], 0) / 2)
            } else {
                outSpatial.append((spatial[d] - effective) / strides[d] + 1)
                padBefore.append(0)
            }
        }
        taps = filter.reduce(1, *)
        positions = outSpatial.reduce(1, *)
        inputPositions = spatial.reduce(1, *)
        var table = [Int32](repeating: -1, count: positions * taps)
        var o = [Int](repeating: 0, count: rank), f = [Int](repeating: 0, count: rank)
        for p in 0..<positions {
            var rest = p
            for d in stride(from: rank - 1, through: 0, by: -1) {
                o[d] = rest % outSpatial[d]
                rest /= outSpatial[d]
            }
            for t in 0..<taps {
                var r = t
                for d in stride(from: rank - 1, through: 0, by: -1) {
                    f[d] = r % filter[d]
                    r /= filter[d]
                }
                var index = 0, inside = true
                for d in 0..<rank {
                    let i = o[d] * strides[d] + f[d] * dilations[d] - padBefore[d]
                    if i < 0 || i >= spatial[d] { inside = false; break }
                    index = index * spatial[d] + i
                }
                if inside { table[p * taps + t] = Int32(index) }
            }
        }
        self.table = table
        sliceRows = max(1, min(maxBatch * positions, 2048))
        patches = Buffer(count: sliceRows * taps * inChannels)
    }

    @_specialize(where S == Float) @_specialize(where S == Double)
    func compute(x: UnsafePointer<S>, dy: UnsafePointer<S>, dkernel: UnsafeMutablePointer<S>, batch: Int,
                 accumulate: Bool) {
        let rows = batch * positions
        let width = taps * inChannels
        if rows == 0 {
            if !accumulate { dkernel.update(repeating: 0, count: width * outChannels) }
            return
        }
        var r0 = 0
        table.withUnsafeBufferPointer { table in
            while r0 < rows {
                let count = min(sliceRows, rows - r0)
                let dst = patches.pointer
                for r in 0..<count {
                    let row = r0 + r
                    let b = row / positions, p = row % positions
                    let xb = x + b * inputPositions * inChannels
                    let out = dst + r * width
                    for t in 0..<taps {
                        let index = Int(table[p * taps + t])
                        let o = out + t * inChannels
                        if index < 0 {
                            o.update(repeating: 0, count: inChannels)
                        } else {
                            o.update(from: xb + index * inChannels, count: inChannels)
                        }
                    }
                }
                Gemm.gemm(transA: true, transB: false, m: width, n: outChannels, k: count, alpha: 1, a: dst,
                          lda: width, b: dy + r0 * outChannels, ldb: outChannels,
                          beta: (r0 == 0 && !accumulate) ? 0 : 1, c: dkernel, ldc: outChannels)
                r0 += count
            }
        }
    }
}
