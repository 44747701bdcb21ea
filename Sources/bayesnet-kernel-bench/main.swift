// Kernel benchmark: GEMM GFLOP/s at 512³ and at convolution shapes, and the forward / backward time of a
// 3x3 convolution layer. Each figure is the best of several repetitions, since the cores may be shared.
import BayesNetRuntime
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall clock, or with `--clock cpu` the process's CPU time (steadier on a shared machine, meaningful for
/// one thread only).
nonisolated(unsafe) var clockID = CLOCK_MONOTONIC

func now() -> Double {
    var ts = timespec()
    clock_gettime(clockID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Best wall time in seconds of `body` over `repeats` runs after one warm-up.
func best(repeats: Int, _ body: () -> Void) -> Double {
    body()
    var t = Double.infinity
    for _ in 0..<repeats {
        let start = now()
        body()
        t = min(t, now() - start)
    }
    return t
}

func randomArray(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed
    return (0..<n).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s >> 11) % 2000 - 1000) / 1000
    }
}

struct Options {
    var sections: Set<String> = ["peak", "gemm", "conv", "small", "flipout", "pool", "posterior"]
    var threads: [Int] = [1, 2]
    var repeats = 7
    var kernels: [Runtime.CPULevel] = Runtime.CPULevel.allCases.filter { $0.isSupported && $0 != .portable }
}

var options = Options()
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--threads": options.threads = (args.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }
    case "--repeats": options.repeats = Int(args.popFirst() ?? "") ?? options.repeats
    case "--kernel":
        let names = (args.popFirst() ?? "").split(separator: ",")
        options.kernels = names.compactMap { n in
            Runtime.CPULevel.allCases.first { String(describing: $0).hasPrefix(n) }
        }.filter(\.isSupported)
    case "--only": options.sections = Set((args.popFirst() ?? "").split(separator: ",").map(String.init))
    case "--clock":
        if args.popFirst() == "cpu" { clockID = CLOCK_PROCESS_CPUTIME_ID }
    case "--help", "-h":
        print("usage: bayesnet-kernel-bench [--threads 1,2] [--repeats N] [--kernel avx2,avx512,portable] [--clock wall|cpu] [--only peak,gemm,conv,small,flipout,pool,posterior,double]")
        exit(0)
    default:
        print("bayesnet-kernel-bench: unknown argument \(a)")
        exit(64)
    }
}

print("CPU: AVX2+FMA \(Runtime.hasAVX2FMA), AVX-512 \(Runtime.hasAVX512); default kernel \(Runtime.cpuLevel)")
print("Best of \(options.repeats) runs per figure.\n")
for kernel in options.kernels where kernel != .portable && options.sections.contains("peak") {
    // Best of three: the ceiling is what the core can do when nothing else runs on it.
    let perCore = (0..<3).map { _ in Runtime.peakFlops(kernel) }.max()! / 1e9
    print("Peak, \(kernel) FMA loop: \(format6(perCore)) GFLOP/s per core (x 2 cores = \(format6(2 * perCore)));"
          + " implied clock \(format6(perCore / Double(kernel == .avx512 ? 64 : 32))) GHz")
    for t in options.threads where t > 1 {
        // The same loop on t threads at once: the sum of their rates shows whether the cores share FMA units.
        Runtime.threadCount = t
        let rates = UnsafeMutablePointer<Double>.allocate(capacity: t)
        defer { rates.deallocate() }
        var together = 0.0
        for _ in 0..<3 {
            rates.initialize(repeating: 0, count: t)
            Runtime.parallelFor(t) { task in rates[task] = Runtime.peakFlops(kernel, seconds: 0.2) }
            together = max(together, (0..<t).reduce(0.0) { $0 + rates[$1] } / 1e9)
        }
        print("  \(t) threads at once: \(format6(together)) GFLOP/s together")
    }
}
print("")

struct GemmShape { var name: String; var m: Int; var n: Int; var k: Int; var transA = false; var transB = false }
let gemmShapes = [
    GemmShape(name: "512^3", m: 512, n: 512, k: 512),
    GemmShape(name: "conv fwd 32x32x64 3x3 b32 (M=32768 N=64 K=576)", m: 32768, n: 64, k: 576),
    GemmShape(name: "conv dW (M=576 N=64 K=32768, A^T)", m: 576, n: 64, k: 32768, transA: true),
    GemmShape(name: "conv dX (M=32768 N=576 K=64, B^T)", m: 32768, n: 576, k: 64, transB: true),
    GemmShape(name: "conv 16x16x128 3x3 b32 (M=8192 N=128 K=1152)", m: 8192, n: 128, k: 1152),
]

for kernel in options.kernels where options.sections.contains("gemm") {
    Runtime.cpuLevel = kernel
    print("GEMM, kernel \(kernel), GFLOP/s")
    for shape in gemmShapes {
        let a = randomArray(shape.m * shape.k, seed: 1), b = randomArray(shape.k * shape.n, seed: 2)
        var c = [Float](repeating: 0, count: shape.m * shape.n)
        var line = "  " + shape.name + String(repeating: " ", count: max(0, 52 - shape.name.count))
        for t in options.threads {
            Runtime.threadCount = t
            let secs = best(repeats: options.repeats) {
                Gemm.gemm(transA: shape.transA, transB: shape.transB, m: shape.m, n: shape.n, k: shape.k, alpha: 1,
                          a: a, lda: shape.transA ? shape.m : shape.k, b: b, ldb: shape.transB ? shape.k : shape.n,
                          beta: 0, c: &c, ldc: shape.n)
            }
            let gflops = 2 * Double(shape.m) * Double(shape.n) * Double(shape.k) / secs / 1e9
            line += "  \(t) thr: " + String(format6(gflops))
        }
        print(line)
    }
    print("")
}

func format6(_ x: Double) -> String {
    let r = (x * 10).rounded() / 10
    let s = "\(r)"
    return String(repeating: " ", count: max(0, 6 - s.count)) + s
}

// The convolution layer of the issue: input 32x32x64, 3x3, 64 filters, batch 32, SAME.
let geometry = ConvGeometry(inputSpatial: [32, 32], inChannels: 64, outChannels: 64, filter: [3, 3], strides: [1, 1],
                            dilations: [1, 1], padding: .same)
let batch = 32
let x = randomArray(batch * geometry.inputCount, seed: 3)
let kernelValues = randomArray(geometry.kernelCount, seed: 4)
let bias = randomArray(64, seed: 5)
let dy = randomArray(batch * geometry.outputCount, seed: 6)
var y = [Float](repeating: 0, count: batch * geometry.outputCount)
var dx = [Float](repeating: 0, count: x.count)
var dk = [Float](repeating: 0, count: kernelValues.count)
var db = [Float](repeating: 0, count: 64)
let flops = 2 * Double(batch) * Double(geometry.macs)
for kernel in options.kernels where options.sections.contains("conv") {
    Runtime.cpuLevel = kernel
    print("Conv 32x32x64, 3x3, 64 filters, batch 32, SAME; kernel \(kernel): ms (GFLOP/s)")
    for t in options.threads {
        Runtime.threadCount = t
        let fwd = best(repeats: options.repeats) {
            Convolution.forward(x: x, kernel: kernelValues, bias: bias, y: &y, batch: batch, geometry: geometry)
        }
        let bwdInput = best(repeats: options.repeats) {
            Convolution.backwardInput(dy: dy, kernel: kernelValues, dx: &dx, batch: batch, geometry: geometry,
                                      accumulate: false)
        }
        let bwdKernel = best(repeats: options.repeats) {
            Convolution.backwardKernel(x: x, dy: dy, dkernel: &dk, batch: batch, geometry: geometry, accumulate: false)
        }
        let bwdBias = best(repeats: options.repeats) {
            Bias.backward(dy: dy, dbias: &db, rows: batch * geometry.outputPositions, channels: 64,
                                     accumulate: false)
        }
        func ms(_ s: Double) -> String { format6(s * 1000) }
        print("  \(t) thr: forward \(ms(fwd)) (\(format6(flops / fwd / 1e9)))"
              + "  backward input \(ms(bwdInput)) (\(format6(flops / bwdInput / 1e9)))"
              + "  kernel \(ms(bwdKernel)) (\(format6(flops / bwdKernel / 1e9)))"
              + "  bias \(ms(bwdBias))  backward total \(ms(bwdInput + bwdKernel + bwdBias))")
    }
    print("")
}

// Small layers of the kind the digits models use, where fixed costs (dispatch, packing) matter most.
struct SmallConv { var name: String; var spatial: [Int]; var cin: Int; var cout: Int; var batch: Int }
let smallConvs = [
    SmallConv(name: "8x8x1 -> 16, 3x3, batch 64", spatial: [8, 8], cin: 1, cout: 16, batch: 64),
    SmallConv(name: "8x8x16 -> 32, 3x3, batch 64", spatial: [8, 8], cin: 16, cout: 32, batch: 64),
    SmallConv(name: "28x28x1 -> 32, 3x3, batch 64", spatial: [28, 28], cin: 1, cout: 32, batch: 64),
    SmallConv(name: "14x14x32 -> 64, 3x3, batch 64", spatial: [14, 14], cin: 32, cout: 64, batch: 64),
]
if options.sections.contains("small") {
    print("Small convolution layers, SAME, default kernel: microseconds forward / backward input / backward kernel")
}
Runtime.cpuLevel = options.kernels.last ?? .portable
for s in smallConvs where options.sections.contains("small") {
    let g = ConvGeometry(inputSpatial: s.spatial, inChannels: s.cin, outChannels: s.cout, filter: [3, 3],
                         strides: [1, 1], dilations: [1, 1], padding: .same)
    let x = randomArray(s.batch * g.inputCount, seed: 7), k = randomArray(g.kernelCount, seed: 8)
    let dy = randomArray(s.batch * g.outputCount, seed: 9)
    var y = [Float](repeating: 0, count: dy.count), dx = [Float](repeating: 0, count: x.count)
    var dk = [Float](repeating: 0, count: k.count)
    var line = "  " + s.name + String(repeating: " ", count: max(0, 32 - s.name.count))
    for t in options.threads {
        Runtime.threadCount = t
        let f = best(repeats: options.repeats * 4) {
            Convolution.forward(x: x, kernel: k, bias: nil, y: &y, batch: s.batch, geometry: g)
        }
        let bi = best(repeats: options.repeats * 4) {
            Convolution.backwardInput(dy: dy, kernel: k, dx: &dx, batch: s.batch, geometry: g, accumulate: false)
        }
        let bk = best(repeats: options.repeats * 4) {
            Convolution.backwardKernel(x: x, dy: dy, dkernel: &dk, batch: s.batch, geometry: g, accumulate: false)
        }
        line += "  \(t) thr: \(format6(f * 1e6)) /\(format6(bi * 1e6)) /\(format6(bk * 1e6))"
    }
    print(line)
}
if options.sections.contains("small") { print("") }

// The fused Flipout convolutions of the w1-lenet5 and w3-conv3d workloads (specs/bench/), as their training
// steps call them: forward, kernel gradient, and the input gradient where a layer below needs it.
struct FlipoutLayer {
    var name: String; var spatial: [Int]; var cin: Int; var cout: Int; var filter: [Int]; var batch: Int
    var inputGradient: Bool
}
let flipoutLayers = [
    FlipoutLayer(name: "w1 conv1 28x28x1 -> 6, 5x5, b128", spatial: [28, 28], cin: 1, cout: 6, filter: [5, 5],
                 batch: 128, inputGradient: false),
    FlipoutLayer(name: "w1 conv2 14x14x6 -> 16, 5x5, b128", spatial: [14, 14], cin: 6, cout: 16, filter: [5, 5],
                 batch: 128, inputGradient: true),
    FlipoutLayer(name: "w1 conv3 7x7x16 -> 120, 5x5, b128", spatial: [7, 7], cin: 16, cout: 120, filter: [5, 5],
                 batch: 128, inputGradient: true),
    FlipoutLayer(name: "w3 16^3x8 -> 16, 3x3x3, b8", spatial: [16, 16, 16], cin: 8, cout: 16, filter: [3, 3, 3],
                 batch: 8, inputGradient: false),
]
if options.sections.contains("flipout") {
    print("Fused Flipout convolutions of the bench workloads, SAME, default kernel: microseconds forward / kernel"
          + " gradient / input gradient")
}
// Few input channels: also with the patches packed for the GEMM, as before the in-place kernels (same bits).
for (s, inPlace) in flipoutLayers.flatMap({ l in l.cin <= 8 ? [(l, true), (l, false)] : [(l, true)] })
    where options.sections.contains("flipout") {
    Runtime.fewChannelKernels = inPlace
    defer { Runtime.fewChannelKernels = true }
    let g = ConvGeometry(inputSpatial: s.spatial, inChannels: s.cin, outChannels: s.cout, filter: s.filter,
                         strides: s.filter.map { _ in 1 }, dilations: s.filter.map { _ in 1 }, padding: .same)
    let x = randomArray(s.batch * g.inputCount, seed: 20), mean = randomArray(g.kernelCount, seed: 21)
    let delta = randomArray(g.kernelCount, seed: 22), bias = randomArray(s.cout, seed: 23)
    let dy = randomArray(s.batch * g.outputCount, seed: 24)
    let signIn = randomArray(s.batch * s.cin, seed: 25).map { $0 < 0 ? Float(-1) : 1 }
    let signOut = randomArray(s.batch * s.cout, seed: 26).map { $0 < 0 ? Float(-1) : 1 }
    var y = [Float](repeating: 0, count: dy.count), dx = [Float](repeating: 0, count: x.count)
    var dMean = [Float](repeating: 0, count: g.kernelCount), dDelta = dMean
    let name = s.name + (inPlace ? "" : " packed")
    var line = "  " + name + String(repeating: " ", count: max(0, 43 - name.count))
    for t in options.threads {
        Runtime.threadCount = t
        let ws = FlipoutConvolution.Workspace<Float>(geometry: g, maxBatch: s.batch)
        let f = best(repeats: options.repeats * 2) {
            FlipoutConvolution.forward(x: x, mean: mean, delta: delta, bias: bias, signIn: signIn, signOut: signOut,
                                       y: &y, batch: s.batch, workspace: ws)
        }
        let k = best(repeats: options.repeats * 2) {
            FlipoutConvolution.backwardKernel(x: x, dy: dy, signIn: signIn, signOut: signOut, dMean: &dMean,
                                              dDelta: &dDelta, batch: s.batch, workspace: ws)
        }
        let i = !s.inputGradient ? 0 : best(repeats: options.repeats * 2) {
            FlipoutConvolution.backwardInput(dy: dy, mean: mean, delta: delta, signIn: signIn, signOut: signOut,
                                             dx: &dx, batch: s.batch, workspace: ws)
        }
        line += "  \(t) thr: \(format6(f * 1e6)) /\(format6(k * 1e6)) /" + (s.inputGradient ? format6(i * 1e6) : "     -")
    }
    print(line)
}
if options.sections.contains("flipout") { print("") }

for t in options.threads where t > 1 {
    Runtime.threadCount = t
    let dispatch = best(repeats: 200) { Runtime.parallelFor(t, EmptyTask()) }
    print("Thread pool: fixed cost of a parallelFor call with \(t) empty tasks: \(format6(dispatch * 1e6)) us")
}

if options.sections.contains("pool") {
    let pg = PoolGeometry(inputSpatial: [32, 32], channels: 64, window: [2, 2], strides: [2, 2], padding: .same)
    let px = randomArray(32 * pg.inputCount, seed: 10), pdy = randomArray(32 * pg.outputCount, seed: 11)
    var py = [Float](repeating: 0, count: pdy.count), pdx = [Float](repeating: 0, count: px.count)
    print("Pooling 2x2 stride 2 on 32x32x64, batch 32: microseconds")
    for t in options.threads {
        Runtime.threadCount = t
        let mf = best(repeats: options.repeats) { Pooling.maxForward(x: px, y: &py, batch: 32, geometry: pg) }
        let mb = best(repeats: options.repeats) {
            Pooling.maxBackward(x: px, y: py, dy: pdy, dx: &pdx, batch: 32, geometry: pg)
        }
        let af = best(repeats: options.repeats) { Pooling.averageForward(x: px, y: &py, batch: 32, geometry: pg) }
        let ab = best(repeats: options.repeats) { Pooling.averageBackward(dy: pdy, dx: &pdx, batch: 32, geometry: pg) }
        print("  \(t) thr: max forward \(format6(mf * 1e6)) backward \(format6(mb * 1e6));"
              + " average forward \(format6(af * 1e6)) backward \(format6(ab * 1e6))")
    }
    let n = 32 * geometry.outputCount
    let act = randomArray(n, seed: 12), upstream = randomArray(n, seed: 13)
    var out = [Float](repeating: 0, count: n), grad = [Float](repeating: 0, count: n)
    print("Activations over \(n) values (batch 32 of 32x32x64): microseconds forward / backward")
    for kind in [ActivationKind.relu, .elu, .tanh, .sigmoid, .softplus] {
        var line = "  \(kind)" + String(repeating: " ", count: max(0, 12 - "\(kind)".count))
        for t in options.threads {
            Runtime.threadCount = t
            let f = best(repeats: options.repeats) { Activations.forward(kind, x: act, y: &out, count: n) }
            let b = best(repeats: options.repeats) {
                Activations.backward(kind, x: act, y: out, dy: upstream, dx: &grad, count: n)
            }
            line += "  \(t) thr: \(format6(f * 1e6)) /\(format6(b * 1e6))"
        }
        print(line)
    }
}

// The graph networks' kernels on a ResNet-20 first-stage map, batch 32 of 32x32x16, beside a ReLU over the same
// values (a pass that only streams memory).
if options.sections.contains("graph") {
    let rows = 32 * 32 * 32, c = 16, n = rows * c
    let gx = randomArray(n, seed: 20), gdy = randomArray(n, seed: 21), gx2 = randomArray(n, seed: 22)
    var gy = [Float](repeating: 0, count: n), gdx = [Float](repeating: 0, count: n)
    let gamma = [Float](repeating: 1.5, count: c), beta = [Float](repeating: 0.5, count: c)
    var dgamma = [Float](repeating: 0, count: c), dbeta = dgamma
    let mean = [Float](repeating: 0, count: c), variance = [Float](repeating: 1, count: c)
    var stats = [Double](repeating: 0, count: 2 * c)
    var scratch = [Double](repeating: 0, count: BatchNormalization.scratchCount(rows: rows, channels: c))
    var pooled = [Float](repeating: 0, count: 32 * c)
    print("Graph kernels over \(n) values (batch 32 of 32x32x16): microseconds")
    for t in options.threads {
        Runtime.threadCount = t
        let relu = best(repeats: options.repeats) { Activations.forward(.relu, x: gx, y: &gy, count: n) }
        let bf = best(repeats: options.repeats) {
            BatchNormalization.trainingForward(x: gx, y: &gy, gamma: gamma, beta: beta, statistics: &stats, rows: rows,
                                               channels: c, epsilon: 1e-3, scratch: &scratch)
        }
        let bb = best(repeats: options.repeats) {
            BatchNormalization.trainingBackward(x: gx, dy: gdy, dx: &gdx, gamma: gamma, statistics: stats,
                                                dgamma: &dgamma, dbeta: &dbeta, rows: rows, channels: c,
                                                epsilon: 1e-3, accumulate: false, accumulateParameters: false,
                                                scratch: &scratch)
        }
        let bi = best(repeats: options.repeats) {
            BatchNormalization.inferenceForward(x: gx, y: &gy, gamma: gamma, beta: beta, movingMean: mean,
                                                movingVariance: variance, rows: rows, channels: c, epsilon: 1e-3,
                                                scratch: &scratch)
        }
        let gp = best(repeats: options.repeats) {
            GlobalPooling.averageForward(x: gx, y: &pooled, batch: 32, positions: 32 * 32, channels: c)
        }
        let add = gx.withUnsafeBufferPointer { a in
            gx2.withUnsafeBufferPointer { b in
                let inputs = [a.baseAddress!, b.baseAddress!]
                return inputs.withUnsafeBufferPointer { list in
                    best(repeats: options.repeats) { Add.forward(inputs: list, y: &gy, count: n) }
                }
            }
        }
        let stream = RandomStream(seed: 1, name: "bench/dropout", step: 0)
        let df = best(repeats: options.repeats) {
            Dropout.forward(x: gx, y: &gy, count: n, perExample: n / 32, firstExample: 0, rate: 0.2, stream: stream)
        }
        print("  \(t) thr: relu \(format6(relu * 1e6)); batch norm training forward \(format6(bf * 1e6)) backward"
              + " \(format6(bb * 1e6)) inference \(format6(bi * 1e6)); global average \(format6(gp * 1e6));"
              + " add \(format6(add * 1e6)); dropout \(format6(df * 1e6))")
    }
}

if options.sections.contains("double") {
    // Double precision runs the generic path; the same layer shape, batch 4.
    let db = 4
    let xd = randomArray(db * geometry.inputCount, seed: 3).map(Double.init)
    let kd = kernelValues.map(Double.init)
    var yd = [Double](repeating: 0, count: db * geometry.outputCount)
    var dxd = [Double](repeating: 0, count: xd.count), dkd = [Double](repeating: 0, count: kd.count)
    let dyd = randomArray(db * geometry.outputCount, seed: 6).map(Double.init)
    let dflops = 2 * Double(db) * Double(geometry.macs)
    print("Double precision conv 32x32x64, 3x3, 64 filters, batch \(db): ms (GFLOP/s)")
    for t in options.threads {
        Runtime.threadCount = t
        let f = best(repeats: 3) { Convolution.forward(x: xd, kernel: kd, bias: nil, y: &yd, batch: db, geometry: geometry) }
        let bi = best(repeats: 3) {
            Convolution.backwardInput(dy: dyd, kernel: kd, dx: &dxd, batch: db, geometry: geometry, accumulate: false)
        }
        let bk = best(repeats: 3) {
            Convolution.backwardKernel(x: xd, dy: dyd, dkernel: &dkd, batch: db, geometry: geometry, accumulate: false)
        }
        print("  \(t) thr: forward \(format6(f * 1e3)) (\(format6(dflops / f / 1e9)))  backward input"
              + " \(format6(bi * 1e3)) (\(format6(dflops / bi / 1e9)))  kernel \(format6(bk * 1e3)) (\(format6(dflops / bk / 1e9)))")
    }
}

if options.sections.contains("posterior") {
    // Per-weight posterior math over 1M weights on one thread: the vectorised kernels against scalar loops
    // through the C library (the Float KL terms in Float, σ and the ρ gradient in Double, as the layers did).
    let n = 1 << 20
    let loc = randomArray(n, seed: 14).map { $0 * 0.1 }, rho = randomArray(n, seed: 15).map { $0 * 4 - 5 }
    let eps = randomArray(n, seed: 16).map { $0 * 2 }, dDraw = randomArray(n, seed: 17)
    var sigma = [Float](repeating: 0, count: n), draw = sigma, dLoc = sigma, dRho = sigma
    let mixture = (pi: 0.5, scale1: 1.0, scale2: exp(-6.0))
    var sink = 0.0
    func ns(_ seconds: Double) -> String { format6(seconds / Double(n) * 1e9) }
    print("Posterior math over \(n) weights, 1 thread: ns per weight")
    print("  libm scalar        draw \(ns(best(repeats: options.repeats) { ScalarPosterior.sample(rho, loc, eps, &sigma, &draw) }))"
          + "  rho grad \(ns(best(repeats: options.repeats) { ScalarPosterior.addRhoGradient(rho, dDraw, eps, &dRho) }))"
          + "  MC KL \(ns(best(repeats: options.repeats) { sink += ScalarPosterior.monteCarloKL(loc, rho, eps, mixture, &dLoc, &dRho) }))"
          + "  analytic KL \(ns(best(repeats: options.repeats) { sink += ScalarPosterior.klNormalNormal(loc, rho, &dLoc, &dRho) }))")
    for kernel in options.kernels.contains(.portable) ? options.kernels : [.portable] + options.kernels {
        Runtime.cpuLevel = kernel
        let d = best(repeats: options.repeats) {
            PosteriorMath.sample(rho: rho, loc: loc, epsilon: eps, sigma: &sigma, draw: &draw, count: n)
        }
        let g = best(repeats: options.repeats) {
            PosteriorMath.addRhoGradient(rho: rho, dDraw: dDraw, epsilon: eps, gradient: &dRho, count: n)
        }
        let mc = best(repeats: options.repeats) {
            sink += Divergence.monteCarloKL(loc: loc, rho: rho, epsilon: eps, prior: mixture, count: n, weight: Float(1e-3),
                                            dLoc: &dLoc, dRho: &dRho)
        }
        let an = best(repeats: options.repeats) {
            sink += Divergence.klNormalNormal(loc: loc, rho: rho, priorLoc: 0, priorScale: 1, count: n,
                                              weight: Float(1e-3), dLoc: &dLoc, dRho: &dRho)
        }
        let name = "\(kernel)" + String(repeating: " ", count: max(0, 18 - "\(kernel)".count))
        print("  \(name) draw \(ns(d))  rho grad \(ns(g))  MC KL \(ns(mc))  analytic KL \(ns(an))")
    }
    if sink.isNaN { print("") }
}

/// The scalar loops the vectorised posterior kernels replace, kept for comparison.
enum ScalarPosterior {
    static func sample(_ rho: [Float], _ loc: [Float], _ eps: [Float], _ sigma: inout [Float], _ draw: inout [Float]) {
        for i in rho.indices {
            sigma[i] = Float(Softplus.scale(rho: Double(rho[i])))
            draw[i] = loc[i] + sigma[i] * eps[i]
        }
    }

    static func addRhoGradient(_ rho: [Float], _ dDraw: [Float], _ eps: [Float], _ gradient: inout [Float]) {
        for i in rho.indices {
            gradient[i] += Float(Double(dDraw[i]) * Double(eps[i]) * Softplus.derivative(Double(rho[i])))
        }
    }

    static func scaleAndSlope(_ rho: Float) -> (Float, Float) {
        let e = Float.kernelExp(-abs(rho))
        return (Float(Softplus.scaleFloor) + (max(rho, 0) + Float.kernelLog1p(e)), rho >= 0 ? 1 / (1 + e) : e / (1 + e))
    }

    static func monteCarloKL(_ loc: [Float], _ rho: [Float], _ eps: [Float], _ prior: (pi: Double, scale1: Double, scale2: Double),
                             _ dLoc: inout [Float], _ dRho: inout [Float]) -> Double {
        let logW1 = Float(log(prior.pi) - log(prior.scale1)), logW2 = Float(log1p(-prior.pi) - log(prior.scale2))
        let prec1 = Float(1 / (prior.scale1 * prior.scale1)), prec2 = Float(1 / (prior.scale2 * prior.scale2))
        let w: Float = 1e-3
        var total = 0.0
        for i in loc.indices {
            let (sigma, slope) = scaleAndSlope(rho[i])
            let x = loc[i] + sigma * eps[i]
            let logQ = -Float.kernelLog(sigma) - 0.5 * eps[i] * eps[i]
            let halfSquare = 0.5 * x * x
            let a1 = logW1 - halfSquare * prec1, a2 = logW2 - halfSquare * prec2
            let d = a1 - a2
            let e = Float.kernelExp(-abs(d))
            let logP = max(a1, a2) + Float.kernelLog1p(e)
            let r1 = d >= 0 ? 1 / (1 + e) : e / (1 + e)
            let dLogP = -x * (r1 * prec1 + (1 - r1) * prec2)
            total += Double(logQ - logP)
            dLoc[i] += w * -dLogP
            dRho[i] += w * (-1 / sigma - dLogP * eps[i]) * slope
        }
        return total
    }

    static func klNormalNormal(_ loc: [Float], _ rho: [Float], _ dLoc: inout [Float], _ dRho: inout [Float]) -> Double {
        let w: Float = 1e-3
        var total = 0.0
        for i in loc.indices {
            let (sigma, slope) = scaleAndSlope(rho[i])
            total += Double(-Float.kernelLog(sigma) + 0.5 * (sigma * sigma + loc[i] * loc[i]) - 0.5)
            dLoc[i] += w * loc[i]
            dRho[i] += w * (-1 / sigma + sigma) * slope
        }
        return total
    }
}

/// A task that does nothing, to time the pool's hand-off alone (the form kernels use: nothing allocated).
struct EmptyTask: ParallelTask {
    func run(_ part: Int) {}
}
