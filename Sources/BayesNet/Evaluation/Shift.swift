import BayesNetFormats
import Foundation
import BayesNetRuntime
import BayesNetSpec

/// A distribution shift applied to test images on the fly, for `evaluate --shift KIND[=LEVEL|=FROM:TO:STEP]`.
public struct Shift: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Degrees, counter-clockwise about the image centre (bilinear, zeros outside).
        case rotate
        /// Added Gaussian noise of this standard deviation (in the network's input units).
        case noise
        /// Gaussian blur of this standard deviation, in pixels.
        case blur
        /// 1 − x: a dark digit on a light ground for inputs scaled to [0, 1]; the level is a mix (1: fully inverted).
        case invert
        /// Pixels right and down, zeros coming in.
        case translate

        var defaultLevels: [Double] {
            switch self {
            case .rotate: return Array(stride(from: 0.0, through: 180, by: 15))
            case .noise: return [0, 0.1, 0.2, 0.4, 0.8]
            case .blur: return [0, 0.5, 1, 1.5, 2]
            case .invert: return [0, 1]
            case .translate: return [0, 1, 2, 3, 4, 6]
            }
        }
    }

    public var kind: Kind
    public var levels: [Double]

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case unknownKind(String, suggestion: String?)
        case badLevels(String)
        public var description: String {
            switch self {
            case .unknownKind(let k, let s):
                return "unknown shift `\(k)`; expected one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))" + (s.map { "; did you mean `\($0)`?" } ?? "")
            case .badLevels(let t): return "shift levels `\(t)` are not a number or FROM:TO:STEP with a positive step"
            }
        }
    }

    /// `rotate`, `rotate=90` or `rotate=0:180:15` (a sweep, both ends included).
    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard let kind = Kind(rawValue: parts[0].lowercased()) else {
            throw .unknownKind(parts[0], suggestion: Suggestions.closest(to: parts[0], among: Kind.allCases.map(\.rawValue)))
        }
        self.kind = kind
        guard parts.count == 2 else {
            levels = kind.defaultLevels
            return
        }
        let range = parts[1].split(separator: ":").map { Double($0) }
        switch range.count {
        case 1 where range[0] != nil && range[0]!.isFinite: levels = [range[0]!]
        case 3:
            guard let from = range[0], let to = range[1], let step = range[2], step > 0, from <= to, (to - from) / step <= 1000 else {
                throw .badLevels(parts[1])
            }
            levels = Array(stride(from: from, through: to + step * 1e-9, by: step))
        default: throw .badLevels(parts[1])
        }
    }

    /// `data` shifted by `level`: images are examples of shape [H, W, C]; noise and invert apply to any shape.
    public func apply(to data: Dataset, level: Double, seed: UInt64) -> Dataset {
        guard level != 0 else { return data }
        var out = data
        var x = data.inputs
        let shape = data.exampleShape
        let size = data.exampleSize
        let (h, w, c) = shape.count == 3 ? (shape[0], shape[1], shape[2]) : (1, size, 1)
        switch kind {
        case .noise:
            let stream = RandomStream(seed: seed, name: "evaluate/shift/noise", step: UInt64(level.bitPattern))
            for i in 0..<x.count { x[i] += Float(level * stream.normal(at: i)) }
        case .invert:
            for i in 0..<x.count { x[i] = Float((1 - level) * Double(x[i]) + level * (1 - Double(x[i]))) }
        case .rotate, .translate, .blur:
            guard shape.count == 3 else { return data }
            var image = [Float](repeating: 0, count: size)
            for n in 0..<data.count {
                let base = n * size
                for i in 0..<size { image[i] = x[base + i] }
                let moved = kind == .blur ? Self.blur(image, h: h, w: w, c: c, sigma: level)
                    : Self.warp(image, h: h, w: w, c: c, degrees: kind == .rotate ? level : 0, shift: kind == .translate ? level : 0)
                for i in 0..<size { x[base + i] = moved[i] }
            }
        }
        out.inputs = x
        return out
    }

    /// Rotation about the centre and translation, by inverse mapping with bilinear interpolation.
    static func warp(_ image: [Float], h: Int, w: Int, c: Int, degrees: Double, shift: Double) -> [Float] {
        var out = [Float](repeating: 0, count: image.count)
        let a = degrees * Double.pi / 180, cosA = cos(a), sinA = sin(a)
        let cy = Double(h - 1) / 2, cx = Double(w - 1) / 2
        func pixel(_ y: Int, _ x: Int, _ k: Int) -> Double {
            y >= 0 && y < h && x >= 0 && x < w ? Double(image[(y * w + x) * c + k]) : 0
        }
        for y in 0..<h {
            for x in 0..<w {
                // Where this output pixel comes from.
                let dy = Double(y) - shift - cy, dx = Double(x) - shift - cx
                let sy = cosA * dy - sinA * dx + cy, sx = sinA * dy + cosA * dx + cx
                let y0 = Int(sy.rounded(.down)), x0 = Int(sx.rounded(.down))
                let fy = sy - Double(y0), fx = sx - Double(x0)
                for k in 0..<c {
                    let v = (1 - fy) * ((1 - fx) * pixel(y0, x0, k) + fx * pixel(y0, x0 + 1, k))
                        + fy * ((1 - fx) * pixel(y0 + 1, x0, k) + fx * pixel(y0 + 1, x0 + 1, k))
                    out[(y * w + x) * c + k] = Float(v)
                }
            }
        }
        return out
    }

    /// Separable Gaussian blur, edges clamped.
    static func blur(_ image: [Float], h: Int, w: Int, c: Int, sigma: Double) -> [Float] {
        let r = max(1, Int((3 * sigma).rounded(.up)))
        var taps = (-r...r).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
        let total = taps.reduce(0, +)
        taps = taps.map { $0 / total }
        var rows = [Float](repeating: 0, count: image.count), out = rows
        for y in 0..<h {
            for x in 0..<w {
                for k in 0..<c {
                    var s = 0.0
                    for (j, t) in taps.enumerated() { s += t * Double(image[(y * w + min(max(x + j - r, 0), w - 1)) * c + k]) }
                    rows[(y * w + x) * c + k] = Float(s)
                }
            }
        }
        for y in 0..<h {
            for x in 0..<w {
                for k in 0..<c {
                    var s = 0.0
                    for (j, t) in taps.enumerated() { s += t * Double(rows[(min(max(y + j - r, 0), h - 1) * w + x) * c + k]) }
                    out[(y * w + x) * c + k] = Float(s)
                }
            }
        }
        return out
    }
}
