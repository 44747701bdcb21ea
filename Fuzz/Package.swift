// swift-tools-version: 6.0
// libFuzzer targets, kept apart from the main package because they have no `main` of their own.
// Build and run one with scripts/fuzz.sh TARGET SECONDS (swift build -c release --sanitize=fuzzer --sanitize=address).
import PackageDescription

let package = Package(
    name: "bayesnet-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "bayesnet", path: ".."),
    ],
    targets: [
        // bytes → YAML → IR → validation → diagnostics (text and JSON), and compiled JSON for valid specs.
        .executableTarget(name: "FuzzSpec", dependencies: [.product(name: "BayesNetSpec", package: "bayesnet")]),
        .executableTarget(name: "FuzzIDX", dependencies: [.product(name: "BayesNetFormats", package: "bayesnet")]),
        .executableTarget(name: "FuzzNPY", dependencies: [.product(name: "BayesNetFormats", package: "bayesnet")]),
        .executableTarget(name: "FuzzSafeTensors", dependencies: [.product(name: "BayesNet", package: "bayesnet")]),
        .executableTarget(name: "FuzzCSV", dependencies: [.product(name: "BayesNetFormats", package: "bayesnet")]),
        // a run folder's files → RunFolder → the HTML report page.
        .executableTarget(name: "FuzzReport", dependencies: [.product(name: "BayesNetReport", package: "bayesnet")]),
    ],
    swiftLanguageModes: [.v6]
)
