/// A dataset bundled with the package, named in a spec as `data: {train: {builtin: NAME, split: SPLIT}}`.
/// The table is shared by the spec front-end (names, shapes and classes for validation) and the interpreter
/// (files and scale for loading), so another bundled set is one entry here and its files in the resources.
public struct BuiltinDataset: Sendable, Equatable {
    /// One split's files: IDX images and labels (gzip-compressed or not) in the resource folder `name`.
    public struct Split: Sendable, Equatable {
        public var name: String
        public var images: String
        public var labels: String
    }

    public var name: String
    public var splits: [Split]
    /// One example's shape, channels last.
    public var exampleShape: [Int]
    /// Stored values are multiplied by this to bring them to [0, 1].
    public var scale: Double
    public var classes: Int

    public var exampleSize: Int { exampleShape.reduce(1, *) }

    public func split(named name: String) -> Split? { splits.first { $0.name == name } }

    /// UCI optical digits, 8x8 grey levels 0-16 (1,500 training and 297 test images).
    public static let digits = BuiltinDataset(
        name: "digits",
        splits: [
            Split(name: "train", images: "train-images.idx3-ubyte", labels: "train-labels.idx1-ubyte"),
            Split(name: "test", images: "test-images.idx3-ubyte", labels: "test-labels.idx1-ubyte"),
        ],
        exampleShape: [8, 8, 1], scale: 1.0 / 16, classes: 10)

    /// MNIST, 28x28 grey levels 0-255 (60,000 training and 10,000 test images), the four standard gzip files.
    public static let mnist = BuiltinDataset(
        name: "mnist",
        splits: [
            Split(name: "train", images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz"),
            Split(name: "test", images: "t10k-images-idx3-ubyte.gz", labels: "t10k-labels-idx1-ubyte.gz"),
        ],
        exampleShape: [28, 28, 1], scale: 1.0 / 255, classes: 10)

    public static let all: [BuiltinDataset] = [digits, mnist]

    public static func named(_ name: String) -> BuiltinDataset? { all.first { $0.name == name } }
}
