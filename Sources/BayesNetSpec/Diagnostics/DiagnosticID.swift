/// The stable identity of each kind of spec diagnostic (the `id` of `validate --format json`).
///
/// The raw values are part of the command-line interface: add new cases freely, but never rename or reuse one.
/// docs/diagnostics.md lists them; a test keeps that list and this enum equal.
public enum DiagnosticID: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    // Reading the file and its YAML.
    case unreadableFile = "unreadable-file"
    case yamlSyntax = "yaml-syntax"
    case emptyFile = "empty-file"
    case emptyDocument = "empty-document"
    case multipleDocuments = "multiple-documents"
    case unknownAlias = "unknown-alias"
    case nonScalarKey = "non-scalar-key"
    case duplicateKey = "duplicate-key"
    case mergeNotMapping = "merge-not-mapping"
    case nestingTooDeep = "nesting-too-deep"
    case aliasExpansionLimit = "alias-expansion-limit"
    case noSpec = "no-spec"
    case moreDiagnostics = "more-diagnostics"

    // Keys and values.
    case specNotMapping = "spec-not-mapping"
    case unknownFormatVersion = "unknown-format-version"
    case missingFormatVersion = "missing-format-version"
    case missingKey = "missing-key"
    case unknownKey = "unknown-key"
    case misplacedKey = "misplaced-key"
    case duplicateArgument = "duplicate-argument"
    case conflictingKeys = "conflicting-keys"
    case wrongType = "wrong-type"
    case unknownValue = "unknown-value"
    case outOfRange = "out-of-range"
    case numberOverflow = "number-overflow"
    case divisionByZero = "division-by-zero"
    case listLength = "list-length"
    case emptyList = "empty-list"
    case unexpectedArguments = "unexpected-arguments"
    case invalidName = "invalid-name"

    // Layers.
    case malformedLayer = "malformed-layer"
    case unknownLayerType = "unknown-layer-type"
    case duplicateLayerName = "duplicate-layer-name"
    case conflictingDefaults = "conflicting-defaults"
    case dtypeMismatch = "dtype-mismatch"
    case rankContradiction = "rank-contradiction"
    case unsupportedPadding = "unsupported-padding"
    case dilationWithStride = "dilation-with-stride"
    case tooLarge = "too-large"

    // Shapes through the network.
    case inputShapeMismatch = "input-shape-mismatch"
    case inputSizeMismatch = "input-size-mismatch"
    case emptyOutput = "empty-output"
    case likelihoodOutputMismatch = "likelihood-output-mismatch"
    case builtinDataMismatch = "builtin-data-mismatch"

    // The graph: `inputs:`, merges and blocks.
    case unknownInput = "unknown-input"
    case inputCount = "input-count"
    case graphCycle = "graph-cycle"
    case unreadOutput = "unread-output"
    case multipleOutputs = "multiple-outputs"
    case addShapeMismatch = "add-shape-mismatch"
    case concatenateShapeMismatch = "concatenate-shape-mismatch"
    case unknownParameter = "unknown-parameter"
    case mcDropoutWithoutDropout = "mc-dropout-without-dropout"

    // Data files, checked from their headers by `validate`.
    case missingLikelihood = "missing-likelihood"
    case dataFile = "data-file"
    case missingLabels = "missing-labels"

    // Exporting, checked by `compile --emit tfp`.
    case noTFPEquivalent = "no-tfp-equivalent"
}
