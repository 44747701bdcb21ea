/// TensorFlow's padding modes.
public enum PaddingMode: Sendable, Equatable {
    /// out = ceil(in / stride); total padding max((out-1)·stride + (k-1)·dilation + 1 - in, 0),
    /// floor(total/2) before and the rest after.
    case same
    /// out = ceil((in - (k-1)·dilation) / stride); no padding.
    case valid
}

/// Output size and padding before, along one spatial axis, as TensorFlow computes them.
@inlinable
func outputSizeAndPadding(input: Int, filter: Int, stride: Int, dilation: Int,
                          padding: PaddingMode) -> (output: Int, padBefore: Int) {
    let span = (filter - 1) * dilation + 1
    switch padding {
    case .same:
        let out = (input + stride - 1) / stride
        let total = max((out - 1) * stride + span - input, 0)
        return (out, total / 2)
    case .valid:
        let out = input >= span ? (input - span + stride) / stride : 0
        return (out, 0)
    }
}

/// The shape arithmetic of an N-d convolution (N in 1...3). Internally every rank is rank 3 with
/// leading unit dimensions, so one implementation serves all of them.
public struct ConvGeometry: Sendable, Equatable {
    public let rank: Int
    public let inputSpatial: [Int]
    public let inChannels: Int
    public let outChannels: Int
    public let filter: [Int]
    public let strides: [Int]
    public let dilations: [Int]
    public let padding: PaddingMode
    public let outputSpatial: [Int]
    /// Padding before each spatial axis.
    public let padBefore: [Int]

    // Rank-3 forms (depth, height, width), unit-padded at the front.
    public let in3: [Int]
    public let out3: [Int]
    public let filter3: [Int]
    public let stride3: [Int]
    public let dilation3: [Int]
    public let pad3: [Int]

    public init(inputSpatial: [Int], inChannels: Int, outChannels: Int, filter: [Int], strides: [Int],
                dilations: [Int], padding: PaddingMode) {
        let rank = inputSpatial.count
        precondition((1...3).contains(rank), "ConvGeometry: rank must be 1, 2 or 3, got \(rank)")
        precondition(filter.count == rank && strides.count == rank && dilations.count == rank,
                     "ConvGeometry: filter, strides and dilations need \(rank) entries")
        precondition(inChannels > 0 && outChannels > 0, "ConvGeometry: channel counts must be positive")
        precondition(inputSpatial.allSatisfy { $0 > 0 } && filter.allSatisfy { $0 > 0 }
                     && strides.allSatisfy { $0 > 0 } && dilations.allSatisfy { $0 > 0 },
                     "ConvGeometry: sizes, strides and dilations must be positive")
        self.rank = rank
        self.inputSpatial = inputSpatial
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.filter = filter
        self.strides = strides
        self.dilations = dilations
        self.padding = padding
        var out = [Int](), pads = [Int]()
        for i in 0..<rank {
            let (o, p) = outputSizeAndPadding(input: inputSpatial[i], filter: filter[i], stride: strides[i],
                                              dilation: dilations[i], padding: padding)
            out.append(o); pads.append(p)
        }
        outputSpatial = out
        padBefore = pads
        let lead = Array(repeating: 1, count: 3 - rank)
        in3 = lead + inputSpatial
        out3 = lead + out
        filter3 = lead + filter
        stride3 = lead + strides
        dilation3 = lead + dilations
        pad3 = Array(repeating: 0, count: 3 - rank) + pads
    }

    /// Per example: product(inputSpatial) * inChannels.
    public var inputCount: Int { inputPositions * inChannels }
    /// Per example: product(outputSpatial) * outChannels.
    public var outputCount: Int { outputPositions * outChannels }
    /// product(filter) * inChannels * outChannels, layout filter + [in, out].
    public var kernelCount: Int { taps * inChannels * outChannels }
    public var inputPositions: Int { inputSpatial.reduce(1, *) }
    public var outputPositions: Int { outputSpatial.reduce(1, *) }
    /// Filter volume.
    public var taps: Int { filter.reduce(1, *) }
    /// Columns of the implicit im2col matrix: taps * inChannels.
    public var patchSize: Int { taps * inChannels }
    /// Multiply-adds per example of the forward pass.
    public var macs: Int { outputPositions * patchSize * outChannels }
}

/// The shape arithmetic of N-d pooling (N in 1...3), padded like TensorFlow.
public struct PoolGeometry: Sendable, Equatable {
    public let rank: Int
    public let inputSpatial: [Int]
    public let channels: Int
    public let window: [Int]
    public let strides: [Int]
    public let padding: PaddingMode
    public let outputSpatial: [Int]
    public let padBefore: [Int]
    public let in3: [Int]
    public let out3: [Int]
    public let window3: [Int]
    public let stride3: [Int]
    public let pad3: [Int]

    public init(inputSpatial: [Int], channels: Int, window: [Int], strides: [Int], padding: PaddingMode) {
        let rank = inputSpatial.count
        precondition((1...3).contains(rank), "PoolGeometry: rank must be 1, 2 or 3, got \(rank)")
        precondition(window.count == rank && strides.count == rank,
                     "PoolGeometry: window and strides need \(rank) entries")
        precondition(channels > 0 && inputSpatial.allSatisfy { $0 > 0 } && window.allSatisfy { $0 > 0 }
                     && strides.allSatisfy { $0 > 0 }, "PoolGeometry: sizes must be positive")
        self.rank = rank
        self.inputSpatial = inputSpatial
        self.channels = channels
        self.window = window
        self.strides = strides
        self.padding = padding
        var out = [Int](), pads = [Int]()
        for i in 0..<rank {
            let (o, p) = outputSizeAndPadding(input: inputSpatial[i], filter: window[i], stride: strides[i],
                                              dilation: 1, padding: padding)
            out.append(o); pads.append(p)
        }
        outputSpatial = out
        padBefore = pads
        let lead = Array(repeating: 1, count: 3 - rank)
        in3 = lead + inputSpatial
        out3 = lead + out
        window3 = lead + window
        stride3 = lead + strides
        pad3 = Array(repeating: 0, count: 3 - rank) + pads
    }

    public var inputCount: Int { inputSpatial.reduce(1, *) * channels }
    public var outputCount: Int { outputSpatial.reduce(1, *) * channels }
}
