/// A tensor whose shape does not fit the operation; reported as an error rather than a trap.
public struct ShapeError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

@inline(__always)
func expectShape(_ name: String, _ shape: [Int], _ expected: [Int]) throws(ShapeError) {
    if shape != expected { throw ShapeError("\(name) has shape \(shape), expected \(expected)") }
}

@inline(__always)
func leadingBatch(_ name: String, _ shape: [Int], rank: Int) throws(ShapeError) -> Int {
    guard shape.count == rank, let b = shape.first else {
        throw ShapeError("\(name) has rank \(shape.count) (shape \(shape)), expected rank \(rank)")
    }
    return b
}

extension ConvGeometry {
    /// The same as the initializer, but bad sizes (wrong counts, non-positive values, an empty VALID output)
    /// come back as a `ShapeError`.
    public static func checked(inputSpatial: [Int], inChannels: Int, outChannels: Int, filter: [Int], strides: [Int],
                               dilations: [Int], padding: PaddingMode) throws(ShapeError) -> ConvGeometry {
        let rank = inputSpatial.count
        guard (1...3).contains(rank) else { throw ShapeError("convolution rank must be 1, 2 or 3, got \(rank)") }
        guard filter.count == rank, strides.count == rank, dilations.count == rank else {
            throw ShapeError("filter \(filter), strides \(strides) and dilations \(dilations) need \(rank) entries each")
        }
        guard inChannels > 0, outChannels > 0 else {
            throw ShapeError("channel counts must be positive, got \(inChannels) in and \(outChannels) out")
        }
        guard inputSpatial.allSatisfy({ $0 > 0 }), filter.allSatisfy({ $0 > 0 }), strides.allSatisfy({ $0 > 0 }),
              dilations.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("sizes, filter, strides and dilations must be positive")
        }
        let g = ConvGeometry(inputSpatial: inputSpatial, inChannels: inChannels, outChannels: outChannels,
                             filter: filter, strides: strides, dilations: dilations, padding: padding)
        guard g.outputSpatial.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("VALID convolution of input \(inputSpatial) with filter \(filter) and dilations "
                             + "\(dilations) has no output")
        }
        return g
    }

    var inputShapeTail: [Int] { inputSpatial + [inChannels] }
    var outputShapeTail: [Int] { outputSpatial + [outChannels] }
    var kernelShape: [Int] { filter + [inChannels, outChannels] }
}

extension PoolGeometry {
    /// The same as the initializer, but bad sizes come back as a `ShapeError`.
    public static func checked(inputSpatial: [Int], channels: Int, window: [Int], strides: [Int],
                               padding: PaddingMode) throws(ShapeError) -> PoolGeometry {
        let rank = inputSpatial.count
        guard (1...3).contains(rank) else { throw ShapeError("pooling rank must be 1, 2 or 3, got \(rank)") }
        guard window.count == rank, strides.count == rank else {
            throw ShapeError("window \(window) and strides \(strides) need \(rank) entries each")
        }
        guard channels > 0, inputSpatial.allSatisfy({ $0 > 0 }), window.allSatisfy({ $0 > 0 }),
              strides.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("sizes, window and strides must be positive")
        }
        let g = PoolGeometry(inputSpatial: inputSpatial, channels: channels, window: window, strides: strides,
                             padding: padding)
        guard g.outputSpatial.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("VALID pooling of input \(inputSpatial) with window \(window) has no output")
        }
        return g
    }
}

extension Tensor {
    /// [batch, product of the rest]: channels-last data is already laid out this way.
    public func flattened() -> Tensor {
        reshaped([shape.first ?? 0, shape.dropFirst().reduce(1, *)])
    }
}

// Shape-checked tensor forms of the kernels, for callers that do not manage their own buffers.

extension Convolution {
    public static func forward<S: TensorScalar>(_ x: Tensor<S>, kernel: Tensor<S>, bias: Tensor<S>? = nil,
                                                geometry g: ConvGeometry) throws(ShapeError) -> Tensor<S> {
        let batch = try leadingBatch("input", x.shape, rank: g.rank + 2)
        try expectShape("input", x.shape, [batch] + g.inputShapeTail)
        try expectShape("kernel", kernel.shape, g.kernelShape)
        if let bias { try expectShape("bias", bias.shape, [g.outChannels]) }
        var y = Tensor<S>(shape: [batch] + g.outputShapeTail)
        y.withUnsafeMutableBufferPointer { yp in
            x.withUnsafeBufferPointer { xp in
                kernel.withUnsafeBufferPointer { kp in
                    if let bias {
                        bias.withUnsafeBufferPointer { bp in
                            forward(x: xp.baseAddress!, kernel: kp.baseAddress!, bias: bp.baseAddress!,
                                    y: yp.baseAddress!, batch: batch, geometry: g)
                        }
                    } else {
                        forward(x: xp.baseAddress!, kernel: kp.baseAddress!, bias: nil, y: yp.baseAddress!,
                                batch: batch, geometry: g)
                    }
                }
            }
        }
        return y
    }

    public static func backwardInput<S: TensorScalar>(_ dy: Tensor<S>, kernel: Tensor<S>,
                                                      geometry g: ConvGeometry) throws(ShapeError) -> Tensor<S> {
        let batch = try leadingBatch("output gradient", dy.shape, rank: g.rank + 2)
        try expectShape("output gradient", dy.shape, [batch] + g.outputShapeTail)
        try expectShape("kernel", kernel.shape, g.kernelShape)
        var dx = Tensor<S>(shape: [batch] + g.inputShapeTail)
        dx.withUnsafeMutableBufferPointer { dxp in
            dy.withUnsafeBufferPointer { dyp in
                kernel.withUnsafeBufferPointer { kp in
                    backwardInput(dy: dyp.baseAddress!, kernel: kp.baseAddress!, dx: dxp.baseAddress!, batch: batch,
                                  geometry: g, accumulate: false)
                }
            }
        }
        return dx
    }

    public static func backwardKernel<S: TensorScalar>(x: Tensor<S>, dy: Tensor<S>,
                                                       geometry g: ConvGeometry) throws(ShapeError) -> Tensor<S> {
        let batch = try leadingBatch("input", x.shape, rank: g.rank + 2)
        try expectShape("input", x.shape, [batch] + g.inputShapeTail)
        try expectShape("output gradient", dy.shape, [batch] + g.outputShapeTail)
        var dk = Tensor<S>(shape: g.kernelShape)
        dk.withUnsafeMutableBufferPointer { dkp in
            x.withUnsafeBufferPointer { xp in
                dy.withUnsafeBufferPointer { dyp in
                    backwardKernel(x: xp.baseAddress!, dy: dyp.baseAddress!, dkernel: dkp.baseAddress!, batch: batch,
                                   geometry: g, accumulate: false)
                }
            }
        }
        return dk
    }

    /// Sums dy over every axis but the last (channels).
    public static func backwardBias<S: TensorScalar>(_ dy: Tensor<S>) -> Tensor<S> {
        let channels = dy.shape.last ?? 0
        var db = Tensor<S>(shape: [channels])
        db.withUnsafeMutableBufferPointer { dbp in
            dy.withUnsafeBufferPointer { dyp in
                guard let base = dyp.baseAddress, let out = dbp.baseAddress else { return }
                Bias.backward(dy: base, dbias: out, rows: channels == 0 ? 0 : dy.count / channels, channels: channels,
                             accumulate: false)
            }
        }
        return db
    }
}

extension Pooling {
    static func poolBatch<S>(_ name: String, _ t: Tensor<S>, _ tail: [Int], rank: Int) throws(ShapeError) -> Int {
        let batch = try leadingBatch(name, t.shape, rank: rank + 2)
        try expectShape(name, t.shape, [batch] + tail)
        return batch
    }

    public static func maxForward<S: TensorScalar>(_ x: Tensor<S>, geometry g: PoolGeometry) throws(ShapeError)
        -> Tensor<S> {
        let batch = try poolBatch("input", x, g.inputSpatial + [g.channels], rank: g.rank)
        var y = Tensor<S>(shape: [batch] + g.outputSpatial + [g.channels])
        y.withUnsafeMutableBufferPointer { yp in
            x.withUnsafeBufferPointer { xp in
                maxForward(x: xp.baseAddress!, y: yp.baseAddress!, batch: batch, geometry: g)
            }
        }
        return y
    }

    public static func maxBackward<S: TensorScalar>(x: Tensor<S>, y: Tensor<S>, dy: Tensor<S>,
                                                    geometry g: PoolGeometry) throws(ShapeError) -> Tensor<S> {
        let batch = try poolBatch("input", x, g.inputSpatial + [g.channels], rank: g.rank)
        try expectShape("output", y.shape, [batch] + g.outputSpatial + [g.channels])
        try expectShape("output gradient", dy.shape, y.shape)
        var dx = Tensor<S>(shape: x.shape)
        dx.withUnsafeMutableBufferPointer { dxp in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    dy.withUnsafeBufferPointer { dyp in
                        maxBackward(x: xp.baseAddress!, y: yp.baseAddress!, dy: dyp.baseAddress!, dx: dxp.baseAddress!,
                                    batch: batch, geometry: g)
                    }
                }
            }
        }
        return dx
    }

    public static func averageForward<S: TensorScalar>(_ x: Tensor<S>, geometry g: PoolGeometry) throws(ShapeError)
        -> Tensor<S> {
        let batch = try poolBatch("input", x, g.inputSpatial + [g.channels], rank: g.rank)
        var y = Tensor<S>(shape: [batch] + g.outputSpatial + [g.channels])
        y.withUnsafeMutableBufferPointer { yp in
            x.withUnsafeBufferPointer { xp in
                averageForward(x: xp.baseAddress!, y: yp.baseAddress!, batch: batch, geometry: g)
            }
        }
        return y
    }

    public static func averageBackward<S: TensorScalar>(_ dy: Tensor<S>, geometry g: PoolGeometry) throws(ShapeError)
        -> Tensor<S> {
        let batch = try poolBatch("output gradient", dy, g.outputSpatial + [g.channels], rank: g.rank)
        var dx = Tensor<S>(shape: [batch] + g.inputSpatial + [g.channels])
        dx.withUnsafeMutableBufferPointer { dxp in
            dy.withUnsafeBufferPointer { dyp in
                averageBackward(dy: dyp.baseAddress!, dx: dxp.baseAddress!, batch: batch, geometry: g)
            }
        }
        return dx
    }
}

extension Dense {
    /// x [batch, in] · kernel [in, out] + bias [out].
    public static func forward<S: TensorScalar>(_ x: Tensor<S>, kernel: Tensor<S>, bias: Tensor<S>? = nil)
        throws(ShapeError) -> Tensor<S> {
        guard kernel.rank == 2 else { throw ShapeError("kernel has shape \(kernel.shape), expected [in, out]") }
        let inputs = kernel.shape[0], outputs = kernel.shape[1]
        let batch = try leadingBatch("input", x.shape, rank: 2)
        try expectShape("input", x.shape, [batch, inputs])
        if let bias { try expectShape("bias", bias.shape, [outputs]) }
        var y = Tensor<S>(shape: [batch, outputs])
        y.withUnsafeMutableBufferPointer { yp in
            x.withUnsafeBufferPointer { xp in
                kernel.withUnsafeBufferPointer { kp in
                    if let bias {
                        bias.withUnsafeBufferPointer { bp in
                            forward(x: xp.baseAddress!, kernel: kp.baseAddress!, bias: bp.baseAddress!,
                                    y: yp.baseAddress!, batch: batch, inputs: inputs, outputs: outputs)
                        }
                    } else {
                        forward(x: xp.baseAddress!, kernel: kp.baseAddress!, bias: nil, y: yp.baseAddress!,
                                batch: batch, inputs: inputs, outputs: outputs)
                    }
                }
            }
        }
        return y
    }

    public static func backwardInput<S: TensorScalar>(_ dy: Tensor<S>, kernel: Tensor<S>) throws(ShapeError)
        -> Tensor<S> {
        guard kernel.rank == 2 else { throw ShapeError("kernel has shape \(kernel.shape), expected [in, out]") }
        let inputs = kernel.shape[0], outputs = kernel.shape[1]
        let batch = try leadingBatch("output gradient", dy.shape, rank: 2)
        try expectShape("output gradient", dy.shape, [batch, outputs])
        var dx = Tensor<S>(shape: [batch, inputs])
        dx.withUnsafeMutableBufferPointer { dxp in
            dy.withUnsafeBufferPointer { dyp in
                kernel.withUnsafeBufferPointer { kp in
                    backwardInput(dy: dyp.baseAddress!, kernel: kp.baseAddress!, dx: dxp.baseAddress!, batch: batch,
                                  inputs: inputs, outputs: outputs, accumulate: false)
                }
            }
        }
        return dx
    }

    public static func backwardKernel<S: TensorScalar>(x: Tensor<S>, dy: Tensor<S>) throws(ShapeError) -> Tensor<S> {
        let batch = try leadingBatch("input", x.shape, rank: 2)
        guard dy.rank == 2, dy.shape[0] == batch else {
            throw ShapeError("output gradient has shape \(dy.shape), expected [\(batch), out]")
        }
        let inputs = x.shape[1], outputs = dy.shape[1]
        var dk = Tensor<S>(shape: [inputs, outputs])
        dk.withUnsafeMutableBufferPointer { dkp in
            x.withUnsafeBufferPointer { xp in
                dy.withUnsafeBufferPointer { dyp in
                    backwardKernel(x: xp.baseAddress!, dy: dyp.baseAddress!, dkernel: dkp.baseAddress!, batch: batch,
                                   inputs: inputs, outputs: outputs, accumulate: false)
                }
            }
        }
        return dk
    }
}

extension Activations {
    public static func forward<S: TensorScalar>(_ kind: ActivationKind, _ x: Tensor<S>) -> Tensor<S> {
        var y = Tensor<S>(shape: x.shape)
        y.withUnsafeMutableBufferPointer { yp in
            x.withUnsafeBufferPointer { xp in
                guard let xb = xp.baseAddress, let yb = yp.baseAddress else { return }
                forward(kind, x: xb, y: yb, count: x.count)
            }
        }
        return y
    }

    public static func backward<S: TensorScalar>(_ kind: ActivationKind, x: Tensor<S>, y: Tensor<S>, dy: Tensor<S>)
        throws(ShapeError) -> Tensor<S> {
        try expectShape("output", y.shape, x.shape)
        try expectShape("output gradient", dy.shape, x.shape)
        var dx = Tensor<S>(shape: x.shape)
        dx.withUnsafeMutableBufferPointer { dxp in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    dy.withUnsafeBufferPointer { dyp in
                        guard let xb = xp.baseAddress else { return }
                        backward(kind, x: xb, y: yp.baseAddress!, dy: dyp.baseAddress!, dx: dxp.baseAddress!,
                                 count: x.count)
                    }
                }
            }
        }
        return dx
    }
}

extension Losses {
    /// Mean softmax cross-entropy of logits [batch, classes] and its gradient; labels outside 0..<classes
    /// are a `ShapeError`.
    public static func softmaxCrossEntropy<S: TensorScalar>(logits: Tensor<S>, labels: [Int32]) throws(ShapeError)
        -> (loss: S, gradient: Tensor<S>) {
        let batch = try leadingBatch("logits", logits.shape, rank: 2)
        let classes = logits.shape[1]
        guard labels.count == batch else { throw ShapeError("\(labels.count) labels for a batch of \(batch)") }
        guard classes > 0 else { throw ShapeError("logits have no classes") }
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= classes }) {
            throw ShapeError("label \(bad) outside 0..<\(classes)")
        }
        var gradient = Tensor<S>(shape: logits.shape)
        if batch == 0 { return (0, gradient) }
        let loss = gradient.withUnsafeMutableBufferPointer { gp in
            logits.withUnsafeBufferPointer { lp in
                labels.withUnsafeBufferPointer { lab in
                    softmaxCrossEntropy(logits: lp.baseAddress!, labels: lab.baseAddress!, batch: batch,
                                        classes: classes, dlogits: gp.baseAddress!)
                }
            }
        }
        return (loss, gradient)
    }
}
