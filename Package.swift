// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "bayesnet",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "BayesNetSpec", targets: ["BayesNetSpec"]),
        .library(name: "BayesNetRuntime", targets: ["BayesNetRuntime"]),
        .library(name: "BayesNet", targets: ["BayesNet"]),
        .library(name: "BayesNetReport", targets: ["BayesNetReport"]),
        .library(name: "BayesNetFormats", targets: ["BayesNetFormats"]),
        .executable(name: "bayesnet", targets: ["bayesnet"]),
    ],
    // `swift build --traits MPI` links Open MPI for data-parallel training under mpirun; the default build
    // needs no MPI.
    traits: [
        .trait(name: "MPI", description: "Data-parallel training across processes with Open MPI (pkg-config ompi-c)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libyaml, the system C library (Debian: libyaml-dev).
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]
        ),
        // zlib, the system C library (Debian: zlib1g-dev), for gzip-compressed data files.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // Open MPI, the system C library (Debian: libopenmpi-dev), linked only with the MPI trait.
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]
        ),
        // File formats with no knowledge of specs or networks: NPY, IDX, CSV and gzip readers, the atomic writer.
        .target(name: "BayesNetFormats", dependencies: ["CZlib"]),
        // The spec language: YAML nodes, IR, lowering, validation, diagnostics. Imports no runtime, only the formats.
        .target(name: "BayesNetSpec", dependencies: ["CYAML", "BayesNetFormats"]),

        // Vector micro-kernels compiled per function for AVX2/FMA, picked at run time.
        .target(name: "CKernels"),
        // Tensors and numerical kernels. Knows nothing of YAML.
        .target(name: "BayesNetRuntime", dependencies: ["CKernels"]),

        // The interpreter: plans, layers, training, evaluation, data, checkpoints.
        .target(
            name: "BayesNet",
            dependencies: [
                "BayesNetSpec", "BayesNetRuntime", "BayesNetFormats",
                .target(name: "CMPI", condition: .when(traits: ["MPI"])),
            ],
            resources: [.copy("Resources/digits"), .copy("Resources/mnist")]
        ),
        // HTML run reports drawn from a run folder's files alone.
        .target(name: "BayesNetReport", dependencies: ["BayesNetFormats"]),
        .executableTarget(
            name: "bayesnet",
            dependencies: [
                "BayesNet", "BayesNetSpec", "BayesNetRuntime", "BayesNetReport", "BayesNetFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "bayesnet-kernel-bench", dependencies: ["BayesNetRuntime"]),

        // Shared by the test targets: running the built `bayesnet` and other programs as a user would.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "BayesNetSpecTests", dependencies: ["BayesNetSpec", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "BayesNetRuntimeTests", dependencies: ["BayesNetRuntime"], resources: [.copy("Golden")]),
        // Counts heap allocations in the test process (allocator entry points interposed), for BayesNetTests.
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(name: "BayesNetTests", dependencies: ["BayesNet", "BayesNetSpec", "BayesNetRuntime", "BayesNetFormats", "AllocationCounter", "TestSupport", "CZlib"]),
        .testTarget(name: "BayesNetReportTests", dependencies: ["BayesNetReport", "BayesNetFormats"]),
    ],
    swiftLanguageModes: [.v6]
)
