import Foundation
import Testing
import BayesNetSpec

/// `compile --emit tfp`: the module's text for each construct, and the refusals. Whether the module reproduces
/// bayesnet's numbers is scripts/check-tfp-export.sh's job (it needs TensorFlow).
@Suite struct TFPExportTests {
    func module(_ text: String, trainingExamples: Int? = 1000) throws -> String {
        let result = SpecLoader.load(text: text, path: "net.yaml")
        let spec = try #require(result.spec, "\(result.diagnostics)")
        let module = spec.tfpModule(trainingExamples: trainingExamples)
        #expect(module.diagnostics == [])
        return try #require(module.text)
    }

    func spec(_ layers: String, dtype: String = "float32", input: String = "[8, 8, 1]", extra: String = "") -> String {
        "bayesnet: 1\nname: t\nseed: 3\ndtype: \(dtype)\ninput: {shape: \(input)\(extra)}\nlayers:\n\(layers)"
    }

    @Test func flipoutConvolutionCarriesGeometryPosteriorPriorAndWeight() throws {
        let text = try module(spec("""
              - Conv2DFlipout: {filters: 6, kernel_size: [5, 3], padding: same, dilation_rate: 2, activation: relu, kernel_initializer: he_uniform, posterior: {normal_diag: {initial_scale: 0.003}}, penalty_weight: 1/60000}
            """))
        #expect(text.contains("""
                    tfp.layers.Convolution2DFlipout(
                        6, (5, 3), strides=(1, 1), padding="same", dilation_rate=(2, 2), activation="relu",
                        **_variational(tf_keras.initializers.HeUniform(), tf_keras.initializers.Zeros(),
                                       initial_scale=0.003, prior=_scale_mixture_prior(0.5, 1.0, 2000.0),
                                       divergence=_sampled_kl(weights["conv_0"], reuse_draw=True),
                                       value=_value(posterior_mean)),
                        name="conv_0", dtype=DTYPE),
            """))
        #expect(text.contains("        \"conv_0\": 1.6666666666666667e-05,\n"))
    }

    @Test func spikeAndSlabBecomesATFPMixture() throws {
        let text = try module(spec("  - Flatten\n  - DenseFlipout: {units: 2}"))
        #expect(text.contains("tfd.Mixture(\n            cat=tfd.Categorical(probs=probs),"))
        #expect(text.contains("prior=_scale_mixture_prior(0.5, 1.0, 2000.0)"))
    }

    @Test func normalPriorTakesTheClosedFormKL() throws {
        let text = try module(spec("""
              - Flatten
              - DenseReparameterization: {units: 2, prior: {normal: {loc: 0.5, scale: 2}}, penalty_weight: 0.25}
              - DenseReparameterization: {units: 2, prior: {normal: {loc: 0, scale: 1}}, penalty_weight: 0.25}
            """))
        #expect(text.contains("tfp.layers.DenseReparameterization(\n            2, activation=None,"))
        #expect(text.contains("prior=_normal_prior(0.5, 2.0),\n                           divergence=_analytic_kl(weights[\"affine_1\"])"))
        #expect(text.contains("prior=tfp.layers.default_multivariate_normal_fn,\n                           divergence=_analytic_kl(weights[\"affine_2\"])"))
    }

    @Test func plainLayersAreKerasLayers() throws {
        let text = try module(spec("""
              - Conv1D: {filters: 4, kernel_size: 3, strides: 2, kernel_initializer: {random_normal: {stddev: 0.2}}, activation: leaky_relu}
              - Flatten
              - Dense: {units: 3, kernel_initializer: glorot_normal, bias_initializer: he_normal}
            """, input: "[16, 2]"))
        #expect(text.contains("""
                    tf_keras.layers.Conv1D(
                        4, (3,), strides=(2,), padding="valid", dilation_rate=(1,), activation=_leaky_relu,
                        kernel_initializer=tf_keras.initializers.RandomNormal(stddev=0.2), bias_initializer=tf_keras.initializers.Zeros(),
                        name="conv_0", dtype=DTYPE),
            """))
        #expect(text.contains("kernel_initializer=tf_keras.initializers.GlorotNormal(), bias_initializer=tf_keras.initializers.HeNormal(),"))
        #expect(text.contains("return tf.nn.leaky_relu(x, alpha=0.2)"))
        #expect(text.contains("(\"conv_0\", \"conv_0\", \"plain\")"))
        #expect(!text.contains("def _auto("))
    }

    @Test func poolingFlattenAndRanks() throws {
        let text = try module(spec("""
              - MaxPool3D: {pool_size: 2, padding: same}
              - AvgPool: {pool_size: [1, 2, 2], strides: 1}
              - Flatten
            """, input: "[4, 4, 4, 2]"))
        #expect(text.contains("tf_keras.layers.MaxPooling3D((2, 2, 2), strides=(2, 2, 2), padding=\"same\", name=\"max_pool_0\", dtype=DTYPE)"))
        #expect(text.contains("tf_keras.layers.AveragePooling3D((1, 2, 2), strides=(1, 1, 1), padding=\"valid\", name=\"avg_pool_1\", dtype=DTYPE)"))
        #expect(text.contains("tf_keras.layers.Flatten(name=\"flatten_2\", dtype=DTYPE)"))
    }

    @Test func perElementSignsUseTheSubclassOfTheirRank() throws {
        let text = try module(spec("""
              - Conv3DFlipout: {filters: 2, kernel_size: 2, signs: per_element}
              - Conv3DFlipout: {filters: 2, kernel_size: 2}
            """, input: "[5, 5, 5, 1]"))
        #expect(text.contains("class Convolution3DFlipoutSignsPerElement(_SignsPerElement, tfp.layers.Convolution3DFlipout):"))
        #expect(!text.contains("class Convolution2DFlipoutSignsPerElement"))
        #expect(text.contains("        Convolution3DFlipoutSignsPerElement(\n"))
        #expect(text.contains("        tfp.layers.Convolution3DFlipout(\n"))
    }

    @Test func posteriorMeanLayersAndSeedsAreKept() throws {
        let text = try module(spec("""
              - Conv2DReparameterization: {filters: 2, kernel_size: 2, posterior_value: mean, seed: 11}
              - Conv2DFlipout: {filters: 2, kernel_size: 2, seed: 12}
            """))
        #expect(text.contains("tfp.layers.Convolution2DReparameterization("))
        #expect(text.contains("**_variational(tf_keras.initializers.GlorotUniform(seed=11), tf_keras.initializers.Zeros(),"))
        #expect(text.contains("divergence=_sampled_kl(weights[\"conv_0\"], reuse_draw=False),\n                           value=_value(True)),"))
        #expect(text.contains("value=_value(posterior_mean, seed=12)),\n            name=\"conv_1\", dtype=DTYPE, seed=12),"))
        #expect(text.contains("SEED = 3\n"))
    }

    @Test func autoPenaltyWeightDefaultsToTheCountedExamples() throws {
        let layers = "  - Flatten\n  - DenseFlipout: {units: 2}"
        let counted = try module(spec(layers), trainingExamples: 1500)
        #expect(counted.contains("TRAIN_EXAMPLES = 1500\n"))
        #expect(counted.contains("        \"affine_1\": _auto(train_examples),\n"))
        let unknown = try module(spec(layers), trainingExamples: nil)
        #expect(unknown.contains("TRAIN_EXAMPLES = None\n"))
        #expect(unknown.contains("raise ValueError(\"`penalty_weight: auto` needs the number of training examples: pass train_examples\")"))
    }

    @Test func channelsFirstInputIsPermutedToChannelsLast() throws {
        let text = try module(spec("  - Conv2D: {filters: 2, kernel_size: 2}", input: "[3, 8, 6]", extra: ", layout: channels_first"))
        #expect(text.contains("INPUT_SHAPE = (3, 8, 6)\nINPUT_LAYOUT = \"channels_first\"\n"))
        #expect(text.contains("tf_keras.layers.Permute((2, 3, 1), name=\"channels_first_to_last\", dtype=DTYPE),"))
    }

    @Test func namesTensorFlowRefusesAreCleanedAndMapped() throws {
        let text = try module(spec("""
              - Conv2D: {filters: 2, kernel_size: 2, name: "feature map/1"}
              - Conv2D: {filters: 2, kernel_size: 2, name: "feature_map_1"}
              - Flatten: {name: "_x"}
            """))
        #expect(text.contains("(\"feature map/1\", \"feature_map_1\", \"plain\"),"))
        #expect(text.contains("(\"feature_map_1\", \"feature_map_1_1\", \"plain\"),"))
        #expect(text.contains("(\"_x\", \"layer_x\", None),"))
    }

    @Test func likelihoodsBecomeDistributions() throws {
        let normal = try module(spec("  - Flatten\n  - Dense: {units: 2}") + "\nlikelihood: {normal: {scale: 0.1}}")
        #expect(normal.contains("return tfd.Independent(tfd.Normal(loc=outputs, scale=tf.constant(0.1, outputs.dtype)),\n                           reinterpreted_batch_ndims=1)"))
        let bernoulli = try module(spec("  - Flatten\n  - Dense: {units: 1}") + "\nlikelihood: bernoulli")
        #expect(bernoulli.contains("return tfd.Bernoulli(logits=tf.reshape(outputs, [-1]))"))
        let none = try module(spec("  - Flatten"))
        #expect(!none.contains("def likelihood("))
    }

    @Test func float64ThreeDimensionalPoolingIsRefusedAtTheLayerWithANoteAtTheDtype() throws {
        let text = spec("  - Conv3D: {filters: 2, kernel_size: 1}\n  - AvgPool3D: {pool_size: 2}\n  - MaxPool3D: {pool_size: 1}", dtype: "float64", input: "[4, 4, 4, 1]")
        let spec = try #require(SpecLoader.load(text: text, path: "net.yaml").spec)
        let result = spec.tfpModule(trainingExamples: nil)
        #expect(result.text == nil)
        #expect(result.diagnostics.map(\.id) == [.noTFPEquivalent, .noTFPEquivalent])
        #expect(result.diagnostics.map(\.location.line) == [8, 9])
        #expect(result.diagnostics[0].message.contains("`AvgPool3D`"))
        #expect(result.diagnostics[1].message.contains("`MaxPool3D`"))
        #expect(result.diagnostics[0].notes.map(\.location.line) == [4])
        #expect(result.diagnostics[0].rendered(source: spec.source).hasPrefix("net.yaml:8:5: error: TensorFlow has no float64 CPU kernel for 3-D average pooling"))
    }

    @Test func float32ThreeDimensionalPoolingIsExported() throws {
        _ = try module(spec("  - MaxPool3D: {pool_size: 2}", input: "[4, 4, 4, 1]"))
    }

    /// Every library, bench and export-case spec exports to text Python parses (with the system's python3).
    @Test func everySpecExportsToValidPython() throws {
        let folder = packageRoot() + "/Tests/BayesNetSpecTests/Fixtures/tfp-export"
        let files = librarySpecs() + benchSpecs() + yamlFiles(in: folder)
        #expect(files.count >= 20)
        #expect(files.contains { $0.hasSuffix("/resnet-flipout-mnist.yaml") } && files.contains { $0.hasSuffix("/w4-resnet20.yaml") })
        let dir = NSTemporaryDirectory() + "bayesnet-tfp-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var paths: [String] = []
        for (i, file) in files.enumerated() {
            let spec = try #require(SpecLoader.load(path: file).spec)
            let text = try #require(spec.tfpModule(trainingExamples: 1000).text, "\(file)")
            let path = "\(dir)/m\(i).py"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import ast, sys\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f)"] + paths
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(message)")
    }
}

/// Graphs (`inputs:`, `blocks:`) and the layers beyond a plain stack, written with the functional API.
@Suite struct TFPGraphExportTests {
    func module(_ layers: String, input: String = "[8, 8, 2]", extra: String = "") throws -> String {
        let text = "bayesnet: 1\nname: g\nseed: 3\ninput: {shape: \(input)}\n\(extra)layers:\n\(layers)"
        let result = SpecLoader.load(text: text, path: "net.yaml")
        let spec = try #require(result.spec, "\(result.diagnostics)")
        let module = spec.tfpModule(trainingExamples: 1000)
        #expect(module.diagnostics == [])
        return try #require(module.text)
    }

    /// The whole module of a small graph, pinned: regenerate with `cd Tests/BayesNetSpecTests/Fixtures/tfp-export &&
    /// bayesnet compile graph-digits.yaml --emit tfp -o graph-digits.py` when the export changes on purpose.
    @Test func graphModuleMatchesThePinnedFixture() throws {
        let folder = packageRoot() + "/Tests/BayesNetSpecTests/Fixtures/tfp-export"
        let yaml = try String(contentsOfFile: folder + "/graph-digits.yaml", encoding: .utf8)
        let spec = try #require(SpecLoader.load(text: yaml, path: "graph-digits.yaml").spec)
        let text = try #require(spec.tfpModule(trainingExamples: 1500).text)
        let pinned = try String(contentsOfFile: folder + "/graph-digits.py", encoding: .utf8)
        #expect(text == pinned, "graph-digits.py is stale, or the export changed")
    }

    @Test func aPlainStackStaysSequential() throws {
        let text = try module("  - Conv2D: {filters: 2, kernel_size: 3}\n  - Flatten\n  - Dense: {units: 2}")
        #expect(text.contains("    return tf_keras.Sequential([\n        tf_keras.layers.InputLayer(input_shape=INPUT_SHAPE, dtype=DTYPE),\n"))
        #expect(!text.contains("tf_keras.Input("))
    }

    @Test func everyLayerIsCalledOnItsInputsInOrder() throws {
        let text = try module("""
              - Conv2D: {name: stem, filters: 2, kernel_size: 3, padding: same}
              - Conv2D: {name: side, filters: 2, kernel_size: 1, inputs: input}
              - Add: {name: sum, inputs: [stem, side, stem]}
              - Flatten
            """)
        #expect(text.contains("""
                inputs = tf_keras.Input(shape=INPUT_SHAPE, dtype=DTYPE, name="input")
                x = {"input": inputs}
                x["stem"] = layers["stem"](x["input"])
                x["side"] = layers["side"](x["input"])
                x["sum"] = layers["sum"]([x["stem"], x["side"], x["stem"]])
                x["flatten_3"] = layers["flatten_3"](x["sum"])
                return tf_keras.Model(inputs, x["flatten_3"], name="g")

            """))
        #expect(text.contains("        \"sum\": tf_keras.layers.Add(name=\"sum\", dtype=DTYPE),\n"))
    }

    @Test func batchNormalizationCarriesItsSettingsAndLoadsItsFourTensors() throws {
        let text = try module("  - BatchNormalization: {momentum: 0.9, epsilon: 1e-5, center: false}")
        #expect(text.contains("""
            "batch_normalization_0": tf_keras.layers.BatchNormalization(
                        axis=-1, momentum=0.9, epsilon=1e-05, center=False, scale=True,
                        name="batch_normalization_0", dtype=DTYPE),
            """))
        #expect(text.contains("(\"batch_normalization_0\", \"batch_normalization_0\", \"batch_normalization\"),"))
        #expect(text.contains("        for part in (\"gamma\", \"beta\", \"moving_mean\", \"moving_variance\"):\n"))
    }

    @Test func concatenateCountsTheBatchAxisAsKerasDoes() throws {
        let text = try module("""
              - Concatenate: {name: rows, axis: 1, inputs: [input, input]}
              - Concatenate: {name: channels, inputs: [rows, rows]}
            """)
        #expect(text.contains("\"rows\": tf_keras.layers.Concatenate(axis=1, name=\"rows\", dtype=DTYPE),"))
        #expect(text.contains("\"channels\": tf_keras.layers.Concatenate(axis=-1, name=\"channels\", dtype=DTYPE),"))
    }

    @Test func dropoutFollowsMCDropoutExceptAtThePosteriorMean() throws {
        let text = try module("  - Dropout: {rate: 0.25, seed: 9}", extra: "evaluate: {mc_dropout: true}\n")
        #expect(text.contains("def build_model(train_examples=TRAIN_EXAMPLES, posterior_mean=False, seed=SEED, mc_dropout=True):"))
        #expect(text.contains("    dropout_training = True if mc_dropout and not posterior_mean else None\n"))
        #expect(text.contains("tf_keras.layers.Dropout(0.25, seed=9, name=\"dropout_0\", dtype=DTYPE)"))
        #expect(text.contains("x[\"dropout_0\"] = layers[\"dropout_0\"](x[\"input\"], training=dropout_training)"))
    }

    @Test func globalPoolingKeepsItsRankAndKind() throws {
        let max = try module("  - GlobalMaxPooling3D", input: "[4, 4, 4, 2]")
        #expect(max.contains("tf_keras.layers.GlobalMaxPooling3D(name=\"global_max_pool_0\", dtype=DTYPE)"))
        let average = try module("  - GlobalAveragePooling1D", input: "[6, 2]")
        #expect(average.contains("tf_keras.layers.GlobalAveragePooling1D(name=\"global_avg_pool_0\", dtype=DTYPE)"))
    }

    @Test func activationLayersNameTheirFunction() throws {
        let text = try module("  - Activation: leaky_relu\n  - Activation: linear\n  - Activation: softplus")
        #expect(text.contains("tf_keras.layers.Activation(_leaky_relu, name=\"activation_0\", dtype=DTYPE)"))
        #expect(text.contains("tf_keras.layers.Activation(\"linear\", name=\"activation_1\", dtype=DTYPE)"))
        #expect(text.contains("tf_keras.layers.Activation(\"softplus\", name=\"activation_2\", dtype=DTYPE)"))
        #expect(text.contains("def _leaky_relu(x):"))
    }

    @Test func aChannelsFirstGraphPermutesItsInput() throws {
        let text = try module("  - Activation: relu", input: "[3, 8, 6], layout: channels_first")
        #expect(text.contains("    x = {\"input\": tf_keras.layers.Permute((2, 3, 1), name=\"channels_first_to_last\", dtype=DTYPE)(inputs)}\n"))
    }

    @Test func aLayerNothingReadsIsLeftOutAndItsTensorsSkipped() throws {
        let text = try module("""
              - BatchNormalization: {name: unread, center: false, scale: false}
              - Activation: {name: out, activation: relu, inputs: input}
            """)
        #expect(text.contains("UNREAD = [\"unread\"]\n"))
        #expect(!text.contains("layers[\"unread\"]"))
        #expect(!text.contains("(\"unread\", "))
        #expect(text.contains("    expected.update(n for n in tensors if n.rpartition(\".\")[0] in UNREAD)\n"))
    }
}

@Suite struct TFPExportCommandTests {
    @Test func emitTFPWritesTheModuleToTheOutputFile() throws {
        let path = NSTemporaryDirectory() + "bayesnet-tfp-\(getpid()).py"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try Command.run(["compile", packageRoot() + "/specs/digits-lenet5-flipout.yaml", "--emit", "tfp", "-o", path])
        #expect(r.status == 0 && r.stderr == "")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("\"\"\"A bayesnet spec as a TensorFlow Probability Keras model"))
        #expect(text.contains("TRAIN_EXAMPLES = 1500\n"), "digits has 1500 training examples")
        #expect(text.contains("def load_bayesnet_checkpoint(model, path):"))
    }

    @Test func trainExamplesOverridesTheCount() throws {
        let r = try Command.run(["compile", packageRoot() + "/specs/digits-lenet5-flipout.yaml", "--emit", "tfp", "--train-examples", "60000"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("TRAIN_EXAMPLES = 60000\n"))
    }

    @Test func trainExamplesWithoutEmitTFPIsACommandLineError() throws {
        let r = try Command.run(["compile", packageRoot() + "/specs/digits-lenet5-flipout.yaml", "--train-examples", "5"])
        #expect(r.status == 64)
    }

    @Test func aRefusedSpecExitsOneWithTheDiagnosticAndWritesNothing() throws {
        let dir = NSTemporaryDirectory() + "bayesnet-tfp-refused-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = dir + "/net.yaml"
        try "bayesnet: 1\ndtype: float64\ninput: {shape: [4, 4, 4, 1]}\nlayers:\n  - MaxPool3D: {pool_size: 2}\n"
            .write(toFile: spec, atomically: true, encoding: .utf8)
        try "kept".write(toFile: dir + "/model.py", atomically: true, encoding: .utf8)
        let r = try Command.run(["compile", spec, "--emit", "tfp", "-o", dir + "/model.py"])
        #expect(r.status == 1)
        #expect(r.stdout == "")
        #expect(r.stderr.contains("\(spec):5:5: error: TensorFlow has no float64 CPU kernel for 3-D max pooling"))
        #expect(r.stderr.contains("\(spec):2:1: note: the spec's dtype is set here"))
        #expect(try String(contentsOfFile: dir + "/model.py", encoding: .utf8) == "kept")
    }
}
