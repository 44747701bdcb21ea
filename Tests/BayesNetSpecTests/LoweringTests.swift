import Testing
@testable import BayesNetSpec

/// A spec around `layers`, with a 8x8x1 input unless told otherwise.
func spec(_ layers: String, input: String = "[8, 8, 1]", extra: String = "") -> String {
    "bayesnet: 1\ninput: {shape: \(input)}\n\(extra)layers:\n\(layers)"
}

func lenet() throws -> ModelSpec {
    let result = SpecLoader.load(path: packageRoot() + "/specs/digits-lenet5-flipout.yaml")
    return try #require(result.spec)
}

@Suite struct LoweringTests {
    @Test func lenetShapesAreInferredLayerByLayer() throws {
        let shapes = try lenet().layers.map(\.outputShape)
        #expect(shapes == [[8, 8, 6], [4, 4, 6], [4, 4, 16], [2, 2, 16], [64], [84], [10]])
    }

    @Test func lenetTopLevelSettingsAreRead() throws {
        let s = try lenet()
        #expect(s.version == 1)
        #expect(s.name == "digits-lenet5-flipout")
        #expect(s.seed == 42)
        #expect(s.dtype == .float32)
        #expect(s.likelihood == .categorical)
        #expect(s.data.train == .builtin(name: "digits", split: "train"))
        #expect(s.data.test == .builtin(name: "digits", split: "test"))
        #expect(s.train == TrainSpec(epochs: 30, batchSize: 64, optimizer: .adam(learningRate: 0.003), samples: 2,
                                     gradientBlockSize: 32))
        #expect(s.evaluate == EvaluateSpec(samples: 50, batchSize: 256))
    }

    @Test func kerasSpellingLowersToTheSameConvolutionAsTheTFPName() throws {
        let layers = try lenet().layers
        guard case .convolution(let first) = layers[0].op, case .convolution(let second) = layers[2].op else {
            Issue.record("expected convolutions")
            return
        }
        #expect(first.estimator == .flipout && second.estimator == .flipout)
        #expect(second.filterShape == [5, 5] && second.outputSize == 16 && second.inputSize == 6)
        #expect(second.activation == .relu)
        #expect(layers[2].typeName == "Conv2DFlipout")
    }

    @Test func defaultsApplyToTheTypeAndItsAliases() throws {
        let layers = try lenet().layers
        for i in [0, 2] {
            guard case .convolution(let c) = layers[i].op else { Issue.record("not a convolution"); continue }
            #expect(c.padding == .same)
            #expect(c.kernelInitializer == .heUniform)
            #expect(c.variational == Variational(posterior: .normalDiag(initialScale: 0.003), penaltyWeight: .auto))
        }
    }

    @Test func unnamedLayersAreNamedByKindAndIndex() throws {
        #expect(try lenet().layers.map(\.name) == ["conv_0", "max_pool_1", "conv_2", "max_pool_3", "flatten_4", "affine_5", "logits"])
    }

    @Test func lenetSummaryCountsLocAndScaleAndBothFlipoutProducts() throws {
        let rows = try lenet().layerSummaries
        #expect(rows.map(\.parameters) == [312, 0, 4832, 0, 0, 10920, 1700])
        #expect(rows.map(\.macs) == [19200, 0, 76800, 0, 0, 10752, 1680])
        #expect(rows[0].penaltyWeight == .auto && rows[1].penaltyWeight == nil)
    }

    @Test func reparameterizationTwinCountsOneProduct() throws {
        let s = try #require(SpecLoader.load(path: packageRoot() + "/specs/digits-lenet5-reparameterization.yaml").spec)
        #expect(s.layerSummaries.map(\.macs) == [9600, 0, 38400, 0, 0, 5376, 840])
        #expect(s.layerSummaries.map(\.parameters) == [312, 0, 4832, 0, 0, 10920, 1700])
    }

    @Test func argumentLocationsPointAtTheValuesIncludingDefaults() throws {
        let first = try lenet().layers[0]
        #expect(first.location.line == 18 && first.location.column == 5)
        #expect(first.argumentLocations["filter_shape"] == SourceLocation(file: packageRoot() + "/specs/digits-lenet5-flipout.yaml", line: 18, column: 67))
        #expect(first.argumentLocations["padding"]?.line == 15)
    }

    @Test func anchorsAndMergeKeysKeepWhereTheValueWasWritten() throws {
        let text = spec("""
          - Conv2D: &c {filters: 4, kernel_size: 3, padding: same}
          - Conv2D: {<<: *c, filters: 8}
        """)
        let s = try #require(SpecLoader.load(text: text).spec)
        guard case .convolution(let c) = s.layers[1].op else { Issue.record("not a convolution"); return }
        #expect(c.outputSize == 8 && c.filterShape == [3, 3] && c.padding == .same)
        #expect(s.layers[1].argumentLocations["filter_shape"] == SourceLocation(file: "<string>", line: 4, column: 42))
        #expect(s.layers[1].argumentLocations["output_size"]?.line == 5)
    }

    @Test func convolutionDefaultsFollowTFP() throws {
        let s = try #require(SpecLoader.load(text: spec("  - ConvolutionVariationalFlipout: {output_size: 2, filter_shape: 3}")).spec)
        guard case .convolution(let c) = s.layers[0].op else { Issue.record("not a convolution"); return }
        #expect(c.rank == 2 && c.strides == [1, 1] && c.dilations == [1, 1] && c.padding == .valid)
        #expect(c.kernelInitializer == .glorotUniform && c.biasInitializer == .zeros && c.activation == .linear)
        #expect(c.variational == Variational(posterior: .normalDiag(initialScale: 1e-3), prior: .spikeAndSlab,
                                             posteriorValue: .sample, penaltyWeight: .auto, signs: .perChannel))
        #expect(s.layers[0].outputShape == [6, 6, 2])
    }

    @Test func settingsBeyondTFPAreRead() throws {
        let text = spec("""
          - Flatten
          - DenseFlipout: {units: 3, signs: per_element, posterior: {normal_diag: {initial_scale: 0.01}}, prior: {scale_mixture: {pi: 0.25, scale1: 2, scale2: 0.5}}, posterior_value: mean, penalty_weight: 1/60000}
        """)
        let s = try #require(SpecLoader.load(text: text).spec)
        guard case .affine(let a) = s.layers[1].op else { Issue.record("not affine"); return }
        #expect(a.variational == Variational(posterior: .normalDiag(initialScale: 0.01), prior: .scaleMixture(pi: 0.25, scale1: 2, scale2: 0.5),
                                             posteriorValue: .mean, penaltyWeight: .value(1.0 / 60000), signs: .perElement))
    }

    @Test func channelsFirstShapeIsStoredChannelsLast() throws {
        let s = try #require(SpecLoader.load(text: "bayesnet: 1\ninput: {shape: [3, 8, 8], layout: channels_first}\nlayers: [Flatten]").spec)
        #expect(s.input == InputSpec(shape: [8, 8, 3], layout: .channelsFirst))
    }

    @Test func yaml12ScalarsAreTypedByTheirField() throws {
        let s = try #require(SpecLoader.load(text: "bayesnet: 1\nname: no\nseed: 010\ninput: {shape: [4]}\nlayers: [{Dense: {units: 2}}]").spec)
        #expect(s.name == "no")
        #expect(s.seed == 10)
    }

    @Test func resolveIsRelativeToTheSpecFolder() throws {
        let s = try lenet()
        #expect(s.resolve(path: "data/x.npy") == packageRoot() + "/specs/data/x.npy")
        #expect(s.resolve(path: "/abs/x.npy") == "/abs/x.npy")
    }

    @Test func nameDefaultsToTheFileStem() throws {
        #expect(SpecLoader.load(text: spec("  - Flatten"), path: "dir/my-net.yaml").spec?.name == "my-net")
    }

    @Test func poolingStridesDefaultToThePoolSize() throws {
        let s = try #require(SpecLoader.load(text: spec("  - AvgPool: {pool_size: [2, 4]}")).spec)
        #expect(s.layers[0].op == .pool(PoolOp(kind: .average, rank: 2, poolSize: [2, 4], strides: [2, 4], padding: .valid)))
        #expect(s.layers[0].outputShape == [4, 2, 1])
    }

    @Test func dilatedValidConvolutionUsesTheDilatedFilterSpan() throws {
        let s = try #require(SpecLoader.load(text: spec("  - Conv2D: {filters: 1, kernel_size: 3, dilation_rate: [2, 1]}")).spec)
        #expect(s.layers[0].outputShape == [4, 6, 1])
    }
}

@Suite struct SummaryTableTests {
    @Test func lenetTableListsEveryLayerAndTheTotals() throws {
        let table = try lenet().summaryTable()
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines[0] == "Model: digits-lenet5-flipout   input [8, 8, 1]   float32")
        #expect(lines[2].hasPrefix("Layer (type)"))
        #expect(lines[4] == "conv_0 (ConvolutionVariationalFlipout)   [8, 8, 6]             312      19,200   auto (1/N)")
        #expect(lines[10] == "logits (AffineVariationalFlipout)        [10]                1,700       1,680   auto (1/N)")
        #expect(lines[12] == "Total parameters: 17,764   (variational layers count a loc and a scale per weight)")
        #expect(lines[13] == "Total multiply-adds per example: 108,432   (Flipout layers count both products)")
        #expect(lines[14] == "Likelihood: categorical, 10 classes")
    }

    @Test func plainNetworkTableOmitsVariationalNotes() throws {
        let s = try #require(SpecLoader.load(text: "bayesnet: 1\ninput: {shape: [4]}\nlayers: [{Dense: {units: 1000}}]").spec)
        let lines = s.summaryTable().split(separator: "\n").map(String.init)
        #expect(lines.suffix(3) == ["Total parameters: 5,000", "Total multiply-adds per example: 4,000",
                                    "Likelihood: none (the network can be inspected and used for prediction, not trained)"])
    }
}

@Suite struct DefaultsTests {
    @Test func unusedDefaultsAreStillChecked() {
        let ds = SpecLoader.load(text: spec("  - Flatten", extra: "defaults:\n  Conv2D: {padding: full}\n")).diagnostics
        #expect(ds.map { "\($0.location.line):\($0.location.column): \($0.message)" } == ["4:21: unknown padding `full`; expected `SAME` or `VALID`"])
    }

    @Test func aDefaultUsedByTwoLayersIsReportedOnce() {
        let ds = SpecLoader.load(text: spec("  - Conv2D: {filters: 1, kernel_size: 1}\n  - Conv2D: {filters: 1, kernel_size: 1}", extra: "defaults:\n  Conv2D: {strides: 0}\n")).diagnostics
        #expect(ds.map(\.message) == ["`strides` must be positive, found 0"])
    }

    @Test func layerArgumentsWinOverDefaultsByCanonicalName() throws {
        let s = try #require(SpecLoader.load(text: spec("  - Conv2D: {filters: 1, kernel_size: 3}", extra: "defaults:\n  Convolution: {filter_shape: 5, output_size: 7}\n")).spec)
        guard case .convolution(let c) = s.layers[0].op else { Issue.record("not a convolution"); return }
        #expect(c.filterShape == [3, 3] && c.outputSize == 1)
    }

    @Test func defaultRankDoesNotOverrideARankFixingAlias() throws {
        let s = try #require(SpecLoader.load(text: spec("  - Conv1DFlipout: {filters: 1, kernel_size: 3}", input: "[8, 1]", extra: "defaults:\n  ConvolutionVariationalFlipout: {rank: 2}\n")).spec)
        #expect(s.layers[0].outputShape == [6, 1])
    }
}

@Suite struct TopLevelTests {
    @Test func xKeysHoldAnchorsAndAreIgnored() throws {
        let text = "bayesnet: 1\nx-conv: &conv {filters: 4, kernel_size: 3}\ninput: {shape: [8, 8, 1]}\nlayers:\n  - Conv2D: *conv\n"
        let s = try #require(SpecLoader.load(text: text).spec)
        #expect(s.layers[0].outputShape == [6, 6, 4])
    }

    @Test func emptyLayerNameIsRefused() {
        let ds = SpecLoader.load(text: spec("  - Flatten: {name: ''}")).diagnostics
        #expect(ds.map { "\($0.location.line):\($0.location.column): \($0.message)" } == ["4:21: a layer name must be a non-empty single line"])
    }
}

@Suite struct BundledDigitsTests {
    @Test(arguments: ["[8, 8, 1]", "[8, 8]", "[64]"])
    func digitsAcceptImageAndFlatInputs(shape: String) throws {
        let layers = shape == "[64]" ? "  - Dense: {units: 10}" : "  - Flatten\n  - Dense: {units: 10}"
        let text = spec(layers, input: shape, extra: "likelihood: categorical\ndata: {train: {builtin: digits}}\n")
        #expect(SpecLoader.load(text: text).diagnostics.map(\.message) == [])
    }
}

@Suite struct BundledMNISTTests {
    @Test(arguments: ["[28, 28, 1]", "[28, 28]", "[784]"])
    func mnistAcceptsImageAndFlatInputs(shape: String) {
        let layers = shape == "[784]" ? "  - Dense: {units: 10}" : "  - Flatten\n  - Dense: {units: 10}"
        let text = spec(layers, input: shape, extra: "likelihood: categorical\ndata: {train: {builtin: mnist}, test: {builtin: mnist}}\n")
        #expect(SpecLoader.load(text: text).diagnostics.map(\.message) == [])
    }

    @Test func mnistRefusesTheDigitsShape() {
        let text = spec("  - Flatten\n  - Dense: {units: 10}", extra: "likelihood: categorical\ndata: {train: {builtin: mnist}}\n")
        #expect(SpecLoader.load(text: text).diagnostics.map(\.message)
            == ["the bundled `mnist` data has examples of shape [28, 28, 1] (or [784] flat), but `input.shape` is [8, 8, 1]"])
    }

    @Test func mnistNeedsTenLogits() {
        let text = spec("  - Flatten\n  - Dense: {units: 5}", input: "[28, 28, 1]", extra: "likelihood: categorical\ndata: {train: {builtin: mnist}}\n")
        #expect(SpecLoader.load(text: text).diagnostics.map(\.message) == ["the bundled `mnist` data has 10 classes, but the network ends with 5 logits"])
    }

    @Test func gradientBlockSizeIsRead() throws {
        let s = try #require(SpecLoader.load(text: spec("  - Flatten", extra: "train: {batch_size: 64, gradient_block_size: 16}\n")).spec)
        #expect(s.train.gradientBlockSize == 16)
    }

    @Test func gradientBlockSizeMustBePositive() {
        let ds = SpecLoader.load(text: spec("  - Flatten", extra: "train: {gradient_block_size: 0}\n")).diagnostics
        #expect(ds.map(\.message) == ["`gradient_block_size` must be positive, found 0"])
    }

    /// TFP's example, with one difference the spec states: a cosine learning rate.
    @Test func mnistLenetSpecIsTFPsExample() throws {
        let s = try #require(SpecLoader.load(path: packageRoot() + "/specs/mnist-lenet5-flipout.yaml").spec)
        #expect(s.layers.map(\.outputShape) == [[28, 28, 6], [14, 14, 6], [14, 14, 16], [7, 7, 16], [7, 7, 120], [5880], [84], [10]])
        #expect(s.data.train == .builtin(name: "mnist", split: "train"))
        #expect(s.data.test == .builtin(name: "mnist", split: "test"))
        #expect(s.train == TrainSpec(epochs: 10, batchSize: 128, optimizer: .adam(learningRate: 0.001), samples: 1,
                                     schedule: LearningRateSchedule(kind: .cosine(finalFraction: 0))))
        #expect(s.evaluate.samples == 50)
    }
}

@Suite struct MergeKeyTests {
    @Test func ownArgumentWinsOverAMergedAliasOfIt() throws {
        let text = "bayesnet: 1\nx-conv: &conv {filters: 8, kernel_size: 3}\ninput: {shape: [8, 8, 1]}\nlayers:\n  - Conv2D: {<<: *conv, output_size: 16}\n"
        let s = try #require(SpecLoader.load(text: text).spec)
        guard case .convolution(let c) = s.layers[0].op else { Issue.record("not a convolution"); return }
        #expect(c.outputSize == 16)
        #expect(s.layers[0].argumentLocations["output_size"]?.line == 5)
    }

    @Test func aliasAndNameTogetherInsideOneMergedMappingAreStillRefused() {
        let text = "bayesnet: 1\nx-conv: &conv {filters: 8, output_size: 8, kernel_size: 3}\ninput: {shape: [8, 8, 1]}\nlayers:\n  - Conv2D: {<<: *conv}\n"
        #expect(SpecLoader.load(text: text).diagnostics.map(\.message) == ["`output_size` and `filters` are the same argument; give only one"])
    }
}
