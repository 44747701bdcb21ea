import CKernels

/// The per-weight work of a factorised Normal posterior q = Π N(loc_i, σ_i²), σ_i = 1e-5 + softplus(ρ_i):
/// the reparameterised draw and the ρ gradient it induces. Float buffers go through the vectorised kernels
/// (the same bits on every kernel family), Double buffers through the scalar Double formulas, other types
/// through Double. Each call is single-threaded and elementwise, so a caller may split a range anywhere and
/// run the parts on any threads without changing a value.
public enum PosteriorMath {
    /// σ[i] = 1e-5 + softplus(ρ[i]) and draw[i] = loc[i] + σ[i]·ε[i], or σ[i]·ε[i] when `loc` is nil; σ is
    /// stored only when `sigma` is given. `draw` may be `loc` or `epsilon`; `sigma` may be `rho`.
    @inlinable
    public static func sample<S: BinaryFloatingPoint>(
        rho: UnsafePointer<S>, loc: UnsafePointer<S>?, epsilon: UnsafePointer<S>,
        sigma: UnsafeMutablePointer<S>?, draw: UnsafeMutablePointer<S>, count: Int
    ) {
        if S.self == Float.self {
            sampleFloat(rho: UnsafeRawPointer(rho).assumingMemoryBound(to: Float.self),
                        loc: loc.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) },
                        epsilon: UnsafeRawPointer(epsilon).assumingMemoryBound(to: Float.self),
                        sigma: sigma.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) },
                        draw: UnsafeMutableRawPointer(draw).assumingMemoryBound(to: Float.self), count: count)
        } else if S.self == Double.self {
            sampleDouble(rho: UnsafeRawPointer(rho).assumingMemoryBound(to: Double.self),
                         loc: loc.map { UnsafeRawPointer($0).assumingMemoryBound(to: Double.self) },
                         epsilon: UnsafeRawPointer(epsilon).assumingMemoryBound(to: Double.self),
                         sigma: sigma.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Double.self) },
                         draw: UnsafeMutableRawPointer(draw).assumingMemoryBound(to: Double.self), count: count)
        } else {
            for i in 0..<max(count, 0) {
                let s = Softplus.scaleAndSlope(rho: Double(rho[i])).scale
                let d = s * Double(epsilon[i])
                let value = loc.map { Double($0[i]) + d } ?? d
                sigma?[i] = S(s)
                draw[i] = S(value)
            }
        }
    }

    /// gradient[i] += dDraw[i]·ε[i]·sigmoid(ρ[i]): the draw's gradient carried back to ρ through σ.
    @inlinable
    public static func addRhoGradient<S: BinaryFloatingPoint>(
        rho: UnsafePointer<S>, dDraw: UnsafePointer<S>, epsilon: UnsafePointer<S>,
        gradient: UnsafeMutablePointer<S>, count: Int
    ) {
        if S.self == Float.self {
            addRhoGradientFloat(rho: UnsafeRawPointer(rho).assumingMemoryBound(to: Float.self),
                                dDraw: UnsafeRawPointer(dDraw).assumingMemoryBound(to: Float.self),
                                epsilon: UnsafeRawPointer(epsilon).assumingMemoryBound(to: Float.self),
                                gradient: UnsafeMutableRawPointer(gradient).assumingMemoryBound(to: Float.self),
                                count: count)
        } else if S.self == Double.self {
            addRhoGradientDouble(rho: UnsafeRawPointer(rho).assumingMemoryBound(to: Double.self),
                                 dDraw: UnsafeRawPointer(dDraw).assumingMemoryBound(to: Double.self),
                                 epsilon: UnsafeRawPointer(epsilon).assumingMemoryBound(to: Double.self),
                                 gradient: UnsafeMutableRawPointer(gradient).assumingMemoryBound(to: Double.self),
                                 count: count)
        } else {
            for i in 0..<max(count, 0) {
                let slope = Softplus.scaleAndSlope(rho: Double(rho[i])).slope
                gradient[i] += S(Double(dDraw[i]) * Double(epsilon[i]) * slope)
            }
        }
    }

    @usableFromInline
    static func sampleFloat(rho: UnsafePointer<Float>, loc: UnsafePointer<Float>?, epsilon: UnsafePointer<Float>,
                            sigma: UnsafeMutablePointer<Float>?, draw: UnsafeMutablePointer<Float>, count: Int) {
        bn_posterior_sample_f32(rho, loc, epsilon, sigma, draw, max(count, 0))
    }

    @usableFromInline
    static func sampleDouble(rho: UnsafePointer<Double>, loc: UnsafePointer<Double>?, epsilon: UnsafePointer<Double>,
                             sigma: UnsafeMutablePointer<Double>?, draw: UnsafeMutablePointer<Double>, count: Int) {
        // Element by element, each read before its write, so the documented aliasing holds.
        if let loc {
            for i in 0..<max(count, 0) {
                let s = Softplus.scaleAndSlope(rho: rho[i]).scale
                let value = loc[i] + s * epsilon[i]
                sigma?[i] = s
                draw[i] = value
            }
        } else {
            for i in 0..<max(count, 0) {
                let s = Softplus.scaleAndSlope(rho: rho[i]).scale
                let value = s * epsilon[i]
                sigma?[i] = s
                draw[i] = value
            }
        }
    }

    @usableFromInline
    static func addRhoGradientFloat(rho: UnsafePointer<Float>, dDraw: UnsafePointer<Float>,
                                    epsilon: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>, count: Int) {
        bn_posterior_rho_gradient_f32(rho, dDraw, epsilon, gradient, max(count, 0))
    }

    @usableFromInline
    static func addRhoGradientDouble(rho: UnsafePointer<Double>, dDraw: UnsafePointer<Double>,
                                     epsilon: UnsafePointer<Double>, gradient: UnsafeMutablePointer<Double>,
                                     count: Int) {
        for i in 0..<max(count, 0) {
            gradient[i] += dDraw[i] * epsilon[i] * Softplus.scaleAndSlope(rho: rho[i]).slope
        }
    }
}
