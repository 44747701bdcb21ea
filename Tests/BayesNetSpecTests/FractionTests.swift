import Testing
@testable import BayesNetSpec

/// A fraction such as `1/255` is a number wherever the spec expects one, read by one parser.
@Suite struct FractionTests {
    @Test func dataScaleTakesAFraction() throws {
        let s = try #require(SpecLoader.load(text: spec("  - Flatten\n", extra: "data: {train: {format: npy, x: x.npy, scale: 1/255}}\n")).spec)
        #expect(s.data.train == .files(format: .npy, x: "x.npy", y: nil, scale: 1.0 / 255))
    }

    @Test func ratesScalesAndPriorsTakeFractions() throws {
        let text = spec("  - Flatten\n  - DenseFlipout: {units: 2, posterior: {normal_diag: {initial_scale: 1/100}}, prior: {normal: {loc: -1/4, scale: 1/2}}}\n",
                        extra: "likelihood: {normal: {scale: 1/10}}\ntrain: {optimizer: {adam: {learning_rate: 3/1000, beta_1: 9/10}}}\n")
        let s = try #require(SpecLoader.load(text: text).spec)
        #expect(s.train.optimizer == .adam(learningRate: 3.0 / 1000, beta1: 0.9))
        #expect(s.likelihood == .normal(scale: 1.0 / 10))
        guard case .affine(let a) = s.layers[1].op else { Issue.record("not affine"); return }
        #expect(a.variational?.posterior == .normalDiag(initialScale: 1.0 / 100))
        #expect(a.variational?.prior == .normal(loc: -0.25, scale: 0.5))
    }

    @Test func penaltyWeightAndOtherNumbersShareOneParser() {
        for text in ["1/60000", "+1/3", "1.5e-3/2", ".5/.25", "7", "-2/4"] {
            guard case .value(let v) = Reader.number(text) else { Issue.record("\(text) is not read"); continue }
            let parts = text.split(separator: "/").map { Double($0.hasPrefix("+") ? String($0.dropFirst()) : String($0))! }
            #expect(v == (parts.count == 2 ? parts[0] / parts[1] : parts[0]))
        }
        #expect(Reader.number("1/0") == .divisionByZero)
        for text in ["1/", "/2", "1//2", "1/2/3", "a/b", "1 / 2", "1e400", "1e308/1e-308", "inf", "0x10"] {
            #expect(Reader.number(text) == .invalid, "\(text)")
        }
    }
}
