/// A dense row-major tensor with value semantics (copy on write through the array).
public struct Tensor<S: TensorScalar>: Sendable, Equatable {
    public private(set) var shape: [Int]
    /// The elements in row-major order.
    public private(set) var scalars: [S]

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    public init(shape: [Int], repeating value: S = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        self.scalars = Array(repeating: value, count: shape.reduce(1, *))
    }

    public init(shape: [Int], data: [S]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == data.count,
                     "Tensor: shape \(shape) needs \(shape.reduce(1, *)) elements, got \(data.count)")
        self.shape = shape
        self.scalars = data
    }

    /// Row-major strides, in elements.
    public var strides: [Int] {
        var s = Array(repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    @inlinable
    func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "Tensor: index \(index) for shape \(shape)")
        var o = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "Tensor: index \(index) out of range for shape \(shape)")
            o = o * d + i
        }
        return o
    }

    public subscript(_ index: Int...) -> S {
        get { scalars[offset(index)] }
        set { scalars[offset(index)] = newValue }
    }

    /// Same elements, new shape of the same size (flatten is `reshaped([batch, rest])`).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: scalars)
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<S>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<S>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }
}
