import Testing
@testable import BayesNetRuntime

/// Runs Add and Concatenate on arrays, building the pointer lists a plan would hold.
enum MergeRun {
    static func add<S: TensorScalar>(_ inputs: [[S]]) -> [S] {
        var y = [S](repeating: .nan, count: inputs[0].count)
        let pointers = UnsafeMutableBufferPointer<UnsafePointer<S>>.allocate(capacity: inputs.count)
        let copies = inputs.map { a -> UnsafeMutablePointer<S> in
            let p = UnsafeMutablePointer<S>.allocate(capacity: a.count)
            p.initialize(from: a, count: a.count)
            return p
        }
        defer { copies.forEach { $0.deallocate() }; pointers.deallocate() }
        for (i, p) in copies.enumerated() { pointers[i] = UnsafePointer(p) }
        Add.forward(inputs: UnsafeBufferPointer(pointers), y: &y, count: y.count)
        return y
    }

    static func concatenate<S: TensorScalar>(_ inputs: [[S]], shapes: [[Int]], axis: Int) -> [S] {
        let layout = shapes.map { Concatenate.matrix(shape: $0, axis: axis) }
        let outer = layout[0].outer, widths = layout.map(\.width)
        var y = [S](repeating: .nan, count: outer * widths.reduce(0, +))
        let pointers = UnsafeMutableBufferPointer<UnsafePointer<S>>.allocate(capacity: inputs.count)
        let copies = inputs.map { a -> UnsafeMutablePointer<S> in
            let p = UnsafeMutablePointer<S>.allocate(capacity: a.count)
            p.initialize(from: a, count: a.count)
            return p
        }
        defer { copies.forEach { $0.deallocate() }; pointers.deallocate() }
        for (i, p) in copies.enumerated() { pointers[i] = UnsafePointer(p) }
        widths.withUnsafeBufferPointer { w in
            Concatenate.forward(inputs: UnsafeBufferPointer(pointers), widths: w, y: &y, outer: outer)
        }
        return y
    }
}

@Suite struct MergeTests {
    @Test("Add sums left to right, as Keras does")
    func addOrder() {
        // (1e8 + 1) + (-1e8) is 0 in Float, 1e8 + (1 + -1e8) is not: the order shows.
        let y = MergeRun.add([[Float(1e8), 2], [1, 3], [-1e8, 4]])
        #expect(y == [0, 9])
        #expect(MergeRun.add([[Float(5), 6]]) == [5, 6])
    }

    @Test("Add gradient equals finite differences for every input")
    func addGradient() {
        var rng = TestRandom(51)
        let inputs: [[Double]] = (0..<3).map { _ in rng.array(10) }, r: [Double] = rng.array(10)
        var dx = [Double](repeating: .nan, count: 10)
        Add.backward(dy: r, dx: &dx, count: 10, accumulate: false)
        for k in 0..<3 {
            let numeric = numericGradient(inputs[k]) { v in
                var all = inputs
                all[k] = v
                return dot(MergeRun.add(all), r)
            }
            #expect(maxError(dx, numeric) < 1e-9)
        }
        var acc = [Double](repeating: 1, count: 10)
        Add.backward(dy: r, dx: &acc, count: 10, accumulate: true)
        #expect(acc == r.map { $0 + 1 })
    }

    /// Two rank-2 feature maps [batch 2, 3, 2, channels] with 2 and 3 channels, concatenated along each axis.
    @Test("Concatenate along any axis lays out what a reference gather does", arguments: [1, 2, 3])
    func concatenateLayout(_ axis: Int) {
        var a = [2, 3, 2, 2], b = a
        b[axis] = 3
        let xa = (0..<a.reduce(1, *)).map(Double.init), xb = (0..<b.reduce(1, *)).map { 1000 + Double($0) }
        let y = MergeRun.concatenate([xa, xb], shapes: [a, b], axis: axis)
        var shape = a
        shape[axis] = a[axis] + b[axis]
        // Element by element from the multi-index.
        var expected = [Double]()
        func visit(_ index: [Int]) {
            if index.count == 4 {
                var i = index
                let fromA = i[axis] < a[axis]
                if !fromA { i[axis] -= a[axis] }
                let s = fromA ? a : b
                let flat = ((i[0] * s[1] + i[1]) * s[2] + i[2]) * s[3] + i[3]
                expected.append(fromA ? xa[flat] : xb[flat])
                return
            }
            for k in 0..<shape[index.count] { visit(index + [k]) }
        }
        visit([])
        #expect(y == expected)
    }

    @Test("Concatenate gradient splits dy between the inputs", arguments: [1, 3])
    func concatenateGradient(_ axis: Int) {
        var a = [2, 3, 2, 2], b = a
        b[axis] = 3
        var rng = TestRandom(52)
        let xa: [Double] = rng.array(a.reduce(1, *)), xb: [Double] = rng.array(b.reduce(1, *))
        let r: [Double] = rng.array(xa.count + xb.count)
        let (outer, wa) = Concatenate.matrix(shape: a, axis: axis), wb = Concatenate.matrix(shape: b, axis: axis).width
        var da = [Double](repeating: .nan, count: xa.count), db = [Double](repeating: .nan, count: xb.count)
        Concatenate.backward(dy: r, dx: &da, outer: outer, offset: 0, width: wa, total: wa + wb, accumulate: false)
        Concatenate.backward(dy: r, dx: &db, outer: outer, offset: wa, width: wb, total: wa + wb, accumulate: false)
        let na = numericGradient(xa) { dot(MergeRun.concatenate([$0, xb], shapes: [a, b], axis: axis), r) }
        let nb = numericGradient(xb) { dot(MergeRun.concatenate([xa, $0], shapes: [a, b], axis: axis), r) }
        #expect(maxError(da, na) < 1e-9)
        #expect(maxError(db, nb) < 1e-9)
        var acc = [Double](repeating: 1, count: xb.count)
        Concatenate.backward(dy: r, dx: &acc, outer: outer, offset: wa, width: wb, total: wa + wb, accumulate: true)
        #expect(acc == db.map { $0 + 1 })
    }

    @Test func sameBitsForAnyThreadCount() {
        var rng = TestRandom(53)
        let inputs: [[Float]] = (0..<4).map { _ in rng.array(100_003) }
        let one = withThreads(1) { MergeRun.add(inputs) }
        let cat1 = withThreads(1) { MergeRun.concatenate(inputs, shapes: Array(repeating: [100_003, 1], count: 4), axis: 1) }
        for threads in [2, 3] {
            #expect(withThreads(threads) { MergeRun.add(inputs) }.map(\.bitPattern) == one.map(\.bitPattern))
            let cat = withThreads(threads) {
                MergeRun.concatenate(inputs, shapes: Array(repeating: [100_003, 1], count: 4), axis: 1)
            }
            #expect(cat == cat1)
        }
    }
}
