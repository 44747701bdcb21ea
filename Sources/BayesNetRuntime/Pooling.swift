import CKernels

/// N-d max and average pooling (rank 1...3), channels-last, padded like TensorFlow's `tf.nn.pool`:
/// padded positions never win a max and are not counted by an average.
public enum Pooling {
    /// Padded positions never win. Written as selects, not branches: on real data the comparison is a coin
    /// flip that a branch predictor cannot learn.
    @inlinable
    public static func maxForward<S: TensorScalar>(x: UnsafePointer<S>, y: UnsafeMutablePointer<S>, batch: Int,
                                                   geometry g: PoolGeometry) {
        run(.maxForward, x: x, y: y, dy: nil, dx: nil, batch: batch, geometry: g)
    }

    /// dx is overwritten: each output's gradient goes to the first input (in scan order) holding the window's
    /// maximum. The maximum is found again from x, so the routing never depends on `y` having been kept intact;
    /// `y` is accepted for symmetry with the forward pass.
    @inlinable
    public static func maxBackward<S: TensorScalar>(x: UnsafePointer<S>, y: UnsafePointer<S>, dy: UnsafePointer<S>,
                                                    dx: UnsafeMutablePointer<S>, batch: Int, geometry g: PoolGeometry) {
        run(.maxBackward, x: x, y: nil, dy: dy, dx: dx, batch: batch, geometry: g)
    }

    /// Under SAME each output is divided by the number of real (unpadded) inputs in its window.
    @inlinable
    public static func averageForward<S: TensorScalar>(x: UnsafePointer<S>, y: UnsafeMutablePointer<S>, batch: Int,
                                                       geometry g: PoolGeometry) {
        run(.averageForward, x: x, y: y, dy: nil, dx: nil, batch: batch, geometry: g)
    }

    /// dx is overwritten.
    @inlinable
    public static func averageBackward<S: TensorScalar>(dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>, batch: Int,
                                                        geometry g: PoolGeometry) {
        run(.averageBackward, x: nil, y: nil, dy: dy, dx: dx, batch: batch, geometry: g)
    }

    @usableFromInline
    enum Pass { case maxForward, maxBackward, averageForward, averageBackward }

    /// Splits the batch over the threads; every pass writes only its own examples.
    @inlinable
    static func run<S: TensorScalar>(_ pass: Pass, x: UnsafePointer<S>?, y: UnsafeMutablePointer<S>?,
                                     dy: UnsafePointer<S>?, dx: UnsafeMutablePointer<S>?, batch: Int,
                                     geometry g: PoolGeometry) {
        let parts = Runtime.partitions(batch, perThread: 4)
        Runtime.parallelFor(parts, PoolTask(pass: pass, x: x, y: y, dy: dy, dx: dx, batch: batch, parts: parts,
                                            g: Windows(g)))
    }

    /// One pass over the `part`-th slice of the batch.
    @usableFromInline
    struct PoolTask<S: TensorScalar>: ParallelTask {
        @usableFromInline let pass: Pass
        @usableFromInline let x: UnsafePointer<S>?, y: UnsafeMutablePointer<S>?
        @usableFromInline let dy: UnsafePointer<S>?, dx: UnsafeMutablePointer<S>?
        @usableFromInline let batch: Int, parts: Int, g: Windows

        @inlinable
        init(pass: Pass, x: UnsafePointer<S>?, y: UnsafeMutablePointer<S>?, dy: UnsafePointer<S>?,
             dx: UnsafeMutablePointer<S>?, batch: Int, parts: Int, g: Windows) {
            self.pass = pass; self.x = x; self.y = y; self.dy = dy; self.dx = dx
            self.batch = batch; self.parts = parts; self.g = g
        }

        @inlinable
        func run(_ part: Int) {
            let c = g.channels, outPositions = g.outputCount / c
            let examples = sliceRange(batch, part: part, of: parts)
            if S.self == Float.self,
               Pooling.vectorPass(pass, x: x.map(UnsafeRawPointer.init), y: y.map(UnsafeMutableRawPointer.init),
                                  dy: dy.map(UnsafeRawPointer.init), dx: dx.map(UnsafeMutableRawPointer.init),
                                  examples: examples, g: g) {
                return
            }
            if let dx {
                (dx + examples.lowerBound * g.inputCount).update(repeating: 0, count: examples.count * g.inputCount)
            }
            switch pass {
            case .maxForward:
                for example in examples {
                    for outPos in 0..<outPositions {
                        windowMax(x! + example * g.inputCount, outPos, into: y! + (example * outPositions + outPos) * c)
                    }
                }
            case .maxBackward:
                // `remaining` is 1 until a channel's maximum has been found: arithmetic instead of branches, so the
                // loops over channels vectorise and never mispredict.
                // On the stack (for a usual channel count), so a training step allocates nothing.
                withUnsafeTemporaryAllocation(of: S.self, capacity: 2 * c) { scratch in
                    let best = scratch.baseAddress!, remaining = best + c
                    for example in examples {
                        let xe = x! + example * g.inputCount, dxe = dx! + example * g.inputCount
                        for outPos in 0..<outPositions {
                            windowMax(xe, outPos, into: best)
                            let d = dy! + (example * outPositions + outPos) * c
                            remaining.update(repeating: 1, count: c)
                            visitWindow(g, outPos) { inPos in
                                let xi = xe + inPos * c, di = dxe + inPos * c
                                for ch in 0..<c {
                                    let hit: S = xi[ch] == best[ch] ? 1 : 0
                                    let take = hit * remaining[ch]
                                    di[ch] += take * d[ch]
                                    remaining[ch] -= take
                                }
                            }
                        }
                    }
                }
            case .averageForward:
                for example in examples {
                    let xe = x! + example * g.inputCount
                    for outPos in 0..<outPositions {
                        let yo = y! + (example * outPositions + outPos) * c
                        yo.update(repeating: 0, count: c)
                        visitWindow(g, outPos) { inPos in
                            let xi = xe + inPos * c
                            for ch in 0..<c { yo[ch] += xi[ch] }
                        }
                        let inv = 1 / S(max(windowSize(g, outPos), 1))
                        for ch in 0..<c { yo[ch] *= inv }
                    }
                }
            case .averageBackward:
                for example in examples {
                    let dxe = dx! + example * g.inputCount
                    for outPos in 0..<outPositions {
                        let d = dy! + (example * outPositions + outPos) * c
                        let inv = 1 / S(max(windowSize(g, outPos), 1))
                        visitWindow(g, outPos) { inPos in
                            let di = dxe + inPos * c
                            for ch in 0..<c { di[ch] += d[ch] * inv }
                        }
                    }
                }
            }
        }

        /// Each channel's maximum over one window of one example; −∞ for a window wholly in the padding.
        @inlinable
        func windowMax(_ xe: UnsafePointer<S>, _ outPos: Int, into best: UnsafeMutablePointer<S>) {
            let c = g.channels
            best.update(repeating: -S.infinity, count: c)
            visitWindow(g, outPos) { inPos in
                let xi = xe + inPos * c
                for ch in 0..<c {
                    let v = xi[ch], m = best[ch]
                    best[ch] = v > m ? v : m
                }
            }
        }
    }

    /// The pass over `examples` in the C kernel (Float, AVX-512: channels in masked vectors, the same bits as
    /// the loops below); false, doing nothing, where it does not run.
    @usableFromInline
    static func vectorPass(_ pass: Pass, x: UnsafeRawPointer?, y: UnsafeMutableRawPointer?, dy: UnsafeRawPointer?,
                           dx: UnsafeMutableRawPointer?, examples: Range<Int>, g: Windows) -> Bool {
        var geom = bn_pool_geom(in: (g.in3[0], g.in3[1], g.in3[2]), out: (g.out3[0], g.out3[1], g.out3[2]),
                                window: (g.window3[0], g.window3[1], g.window3[2]),
                                stride: (g.stride3[0], g.stride3[1], g.stride3[2]),
                                pad: (g.pad3[0], g.pad3[1], g.pad3[2]), channels: g.channels)
        let kind: Int32
        switch pass {
        case .maxForward: kind = Int32(BN_POOL_MAX_FORWARD)
        case .maxBackward: kind = Int32(BN_POOL_MAX_BACKWARD)
        case .averageForward: kind = Int32(BN_POOL_AVERAGE_FORWARD)
        case .averageBackward: kind = Int32(BN_POOL_AVERAGE_BACKWARD)
        }
        let out = (y ?? dx)!.assumingMemoryBound(to: Float.self)
        return bn_pool_f32(kind, x?.assumingMemoryBound(to: Float.self), dy?.assumingMemoryBound(to: Float.self),
                           out, examples.lowerBound, examples.upperBound, &geom) != 0
    }

    /// A pooling geometry as plain values, for the tasks: the pool copies a task for each part it runs, and
    /// copying a `PoolGeometry` would retain and release each of its arrays, from every thread at once.
    @usableFromInline
    struct Windows {
        @usableFromInline let channels: Int, inputCount: Int, outputCount: Int
        @usableFromInline let in3: SIMD3<Int>, out3: SIMD3<Int>, window3: SIMD3<Int>, stride3: SIMD3<Int>
        @usableFromInline let pad3: SIMD3<Int>

        @inlinable
        init(_ g: PoolGeometry) {
            channels = g.channels; inputCount = g.inputCount; outputCount = g.outputCount
            in3 = SIMD3(g.in3); out3 = SIMD3(g.out3); window3 = SIMD3(g.window3); stride3 = SIMD3(g.stride3)
            pad3 = SIMD3(g.pad3)
        }
    }

    @inlinable
    static func windowBounds(_ g: Windows, _ outPos: Int) -> (lo: (Int, Int, Int), hi: (Int, Int, Int)) {
        let oz = outPos / (g.out3[1] * g.out3[2]), rem = outPos % (g.out3[1] * g.out3[2])
        let oy = rem / g.out3[2], ox = rem % g.out3[2]
        let z0 = oz * g.stride3[0] - g.pad3[0], y0 = oy * g.stride3[1] - g.pad3[1], x0 = ox * g.stride3[2] - g.pad3[2]
        return ((max(z0, 0), max(y0, 0), max(x0, 0)),
                (min(z0 + g.window3[0], g.in3[0]), min(y0 + g.window3[1], g.in3[1]), min(x0 + g.window3[2], g.in3[2])))
    }

    @inlinable
    static func windowSize(_ g: Windows, _ outPos: Int) -> Int {
        let (lo, hi) = windowBounds(g, outPos)
        return max(0, hi.0 - lo.0) * max(0, hi.1 - lo.1) * max(0, hi.2 - lo.2)
    }

    @inlinable
    static func visitWindow(_ g: Windows, _ outPos: Int, _ visit: (Int) -> Void) {
        let (lo, hi) = windowBounds(g, outPos)
        if lo.0 >= hi.0 || lo.1 >= hi.1 || lo.2 >= hi.2 { return }
        for iz in lo.0..<hi.0 {
            for iy in lo.1..<hi.1 {
                for ix in lo.2..<hi.2 { visit((iz * g.in3[1] + iy) * g.in3[2] + ix) }
            }
        }
    }
}
