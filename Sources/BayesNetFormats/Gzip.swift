import CZlib

/// gzip (RFC 1952) content inflated through zlib, for data files stored compressed (MNIST is distributed so).
///
/// The content is inflated only as far as its own header declares: the reader is asked for the total size once
/// enough of the header is out, and that size is checked against the limits before the rest is inflated. A small
/// file that would inflate to gigabytes is refused with the limit's error after a few kilobytes.
package enum Gzip {
    package static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// The decompressed content of `compressed`. `declaredSize` is given the content inflated so far and returns
    /// the total size its header declares, or nil while the header is incomplete; it may throw (an array over the
    /// memory budget). A stream that ends early is returned short for the reader to report in its own terms.
    package static func inflate(
        _ compressed: [UInt8], limits: DataLimits, declaredSize: ([UInt8]) throws(DataError) -> Int?
    ) throws(DataError) -> [UInt8] {
        func overLimit(_ size: Int, _ verb: String) -> DataError {
            DataError(file: nil, "gzip content \(verb) \(size) bytes, larger than the limit of \(byteText(limits.maxFileBytes)) (raise it with \(DataLimits.Option.maxFileBytes))", kind: .overFileSizeLimit)
        }
        return try compressed.withUnsafeBufferPointer { (input) throws(DataError) in
            var inflater = try Inflater(input)
            var out: [UInt8] = []
            // Header bytes come in small steps: an NPY header is at most 64 KiB, an IDX header 1 KiB.
            var total: Int?
            while total == nil {
                guard try inflater.read(upTo: 4096, into: &out) else {
                    // Content shorter than its header: the reader reports it in its own terms.
                    guard out.count <= limits.maxFileBytes else { throw overLimit(out.count, "holds") }
                    return out
                }
                total = try declaredSize(out)
            }
            let size = total!
            guard size <= limits.maxFileBytes else { throw overLimit(size, "declares") }
            if out.count < size {
                out.reserveCapacity(size + 1)
                guard try inflater.read(upTo: size - out.count, into: &out) else { return out }
            }
            // One byte more reaches the end of the stream, where zlib checks the CRC and length of the content.
            guard out.count <= size, try !inflater.read(upTo: 1, into: &out) else {
                throw DataError(file: nil, "gzip content runs past the \(size) bytes its header declares")
            }
            return out
        }
    }

    /// The start of the content of `compressed`, inflated only until `declaredSize` finds a whole header in it.
    package static func head(_ compressed: [UInt8], declaredSize: ([UInt8]) throws(DataError) -> Int?) throws(DataError) -> [UInt8] {
        // The buffer closures rethrow untyped errors: the result, or the failure, is carried out instead.
        let result: Result<[UInt8], DataError> = compressed.withUnsafeBufferPointer { input in
            Result { () throws(DataError) -> [UInt8] in
                var inflater = try Inflater(input)
                var out: [UInt8] = []
                while try declaredSize(out) == nil {
                    guard try inflater.read(upTo: 4096, into: &out) else { return out }
                }
                return out
            }
        }
        return try result.get()
    }

    /// A zlib inflate stream over a whole compressed file, read forward in pieces; concatenated gzip members
    /// (as `cat a.gz b.gz` makes) are one content. `input` must outlive it.
    package struct Inflater: ~Copyable {
        /// On the heap: zlib keeps pointers into it between calls.
        private let stream: UnsafeMutablePointer<z_stream>
        private let input: UnsafeBufferPointer<UInt8>
        /// Input bytes handed to zlib so far.
        private var fed = 0
        private var ended = false

        package init(_ input: UnsafeBufferPointer<UInt8>) throws(DataError) {
            self.input = input
            stream = .allocate(capacity: 1)
            stream.initialize(to: z_stream())
            // 15 + 16: a 32 KiB window and a gzip wrapper (header and CRC-32 trailer), not zlib's own.
            let rc = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            guard rc == Z_OK else {
                stream.deallocate()
                throw DataError(file: nil, "cannot start gzip decompression (zlib error \(rc))")
            }
        }

        deinit {
            inflateEnd(stream)
            stream.deallocate()
        }

        /// Appends up to `count` more bytes of content to `out`. Returns false when the stream ended before
        /// `count` bytes (what it had is appended); throws when the stream is cut short or damaged.
        package mutating func read(upTo count: Int, into out: inout [UInt8]) throws(DataError) -> Bool {
            var wanted = count
            while wanted > 0 {
                if ended { return false }
                if stream.pointee.avail_in == 0, fed < input.count {
                    let n = min(input.count - fed, Int(UInt32.max))
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + fed)
                    stream.pointee.avail_in = UInt32(n)
                    fed += n
                }
                let step = min(wanted, 1 << 20)
                let start = out.count
                out.append(contentsOf: repeatElement(0, count: step))
                let rc = out.withUnsafeMutableBufferPointer { buffer in
                    stream.pointee.next_out = buffer.baseAddress! + start
                    stream.pointee.avail_out = UInt32(step)
                    return CZlib.inflate(stream, Z_NO_FLUSH)
                }
                let produced = step - Int(stream.pointee.avail_out)
                out.removeLast(step - produced)
                wanted -= produced
                switch rc {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    let left = Int(stream.pointee.avail_in) + input.count - fed
                    guard left > 0 else { ended = true; continue }
                    // Another member follows only if it starts with the gzip magic; anything else is damage.
                    let next = stream.pointee.next_in!
                    guard left >= 2, next[0] == 0x1F, next[1] == 0x8B else {
                        throw DataError(file: nil, "gzip stream is damaged: \(left) bytes follow its end", kind: .corruptGzip)
                    }
                    inflateReset(stream)
                case Z_BUF_ERROR:
                    // No progress: with room to write, zlib has run out of input before the end of the stream.
                    throw DataError(file: nil, "gzip stream is cut short: it ends after \(input.count) bytes, before its end marker (the file is truncated)", kind: .truncatedGzip)
                case Z_MEM_ERROR:
                    throw DataError(file: nil, "out of memory while decompressing gzip content")
                default:
                    let reason = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(rc)"
                    throw DataError(file: nil, "gzip stream is damaged: \(reason)", kind: .corruptGzip)
                }
            }
            return true
        }
    }
}
