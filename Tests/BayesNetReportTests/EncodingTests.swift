import Foundation
import Testing
@testable import BayesNetReport

@Suite struct EncodingTests {
    @Test func npyRoundTripsShapeAndValues() throws {
        let array = NPYArray(shape: [3, 2, 2], values: (0..<12).map { Float($0) * 0.5 - 1 })
        #expect(try NPYArray.parse(array.encoded()) == array)
    }

    @Test func npyHeaderIsPaddedToSixtyFourBytes() {
        let data = NPYArray(shape: [5], values: [1, 2, 3, 4, 5]).encoded()
        #expect((data.count - 5 * 4) % 64 == 0)
    }

    @Test func pngHasSignatureHeaderAndValidChunkCRCs() {
        let png = [UInt8](PNG.encode(width: 3, height: 2, channels: 1, pixels: [0, 64, 128, 192, 255, 10]))
        #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: width 3, height 2, 8-bit grey.
        #expect(Array(png[16..<26]) == [0, 0, 0, 3, 0, 0, 0, 2, 8, 0])
        var offset = 8
        var types: [String] = []
        while offset < png.count {
            let length = Int(png[offset]) << 24 | Int(png[offset + 1]) << 16 | Int(png[offset + 2]) << 8 | Int(png[offset + 3])
            let body = Array(png[(offset + 4)..<(offset + 8 + length)])
            let crc = png[(offset + 8 + length)..<(offset + 12 + length)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(PNG.crc32(body) == crc)
            types.append(String(decoding: body.prefix(4), as: UTF8.self))
            offset += 12 + length
        }
        #expect(types == ["IHDR", "IDAT", "IEND"])
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(PNG.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func zlibStoredBlocksCarryTheBytesAndTheirAdler32() {
        let data = [UInt8]("Wikipedia".utf8)
        let z = PNG.zlibStored(data)
        #expect(Array(z[7..<(7 + data.count)]) == data)
        #expect(Array(z.suffix(4)) == [0x11, 0xE6, 0x03, 0x98])   // Adler-32 of "Wikipedia"
    }

    @Test func ticksCoverTheRangeAtRoundSteps() {
        let ticks = Ticks(low: 0.03, high: 0.97, target: 5)
        #expect(ticks.values.first! <= 0.03 && ticks.values.last! >= 0.97)
        #expect(ticks.values.map { ticks.label($0) } == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    }

    @Test func integerTicksForEpochsNeverRepeatALabel() {
        let ticks = Ticks(low: 1, high: 3, target: 8, integer: true)
        let labels = ticks.values.map { ticks.label($0) }
        #expect(labels == ["1", "2", "3"])
    }

    @Test func textIsEscaped() {
        #expect(escape("<a & \"b\">") == "&lt;a &amp; &quot;b&quot;&gt;")
    }
}

@Suite struct LineChartScaleTests {
    func chart(_ ys: [Double], logAllowed: Bool = true) -> String {
        LineChart(xLabel: "epoch", yLabel: "nats", rightLabel: nil,
                  series: [LineSeries(name: "a", points: ys.enumerated().map { (Double($0.offset + 1), $0.element) },
                                      color: "#000")],
                  allowLogarithmicLeft: logAllowed).svg(label: "t")
    }

    @Test func leftAxisTurnsLogarithmicWhenValuesSpanMoreThanTwentyFold() {
        let svg = chart([4, 1, 0.1, 0.05])
        #expect(svg.contains(">nats (log scale)</text>"))
        let ticks = HTMLProbe(html: svg).captures("class=\"tick\">([^<]*)</text>")
        #expect(ticks.prefix(7) == ["0.05", "0.1", "0.2", "0.5", "1", "2", "5"])
    }

    @Test func leftAxisStaysLinearForANarrowRange() {
        #expect(chart([3, 2, 1, 0.5]).contains(">nats</text>"))
    }

    @Test func leftAxisStaysLinearWhenAValueIsNotPositive() {
        #expect(chart([40, 10, 1, -0.5]).contains(">nats</text>"))
    }

    @Test func manyDecadesGetOneTickPerPowerOfTen() {
        let ticks = HTMLProbe(html: chart([44, 2, 0.03])).captures("class=\"tick\">([^<]*)</text>")
        #expect(ticks.prefix(5) == ["0.01", "0.1", "1", "10", "100"])
    }
}

@Suite struct FormatTests {
    @Test func significantDigitsDropTrailingZeros() {
        #expect(Format.significant(0.002) == "0.002")
        #expect(Format.significant(1.0 / 1500) == "6.667e-04")
        #expect(Format.significant(0.012345) == "0.01235")
    }

    @Test func integersGetThousandsSeparators() {
        #expect(Format.integer(140_688) == "140,688")
        #expect(Format.integer(-1_000) == "-1,000")
        #expect(Format.integer(999) == "999")
    }

    @Test func negativeZeroIsShownAsZero() {
        #expect(Format.fixed(-0.00001, 3) == "0.000")
    }
}

@Suite struct ImageGridTests {
    @Test func mutualInformationKeepsThreeDecimalsOrThreeSignificantDigits() {
        #expect(ImageGrid.miText(1.3) == "1.300")
        #expect(ImageGrid.miText(0.004123) == "0.00412")
    }

    @Test func onlyTwoDimensionalOrOneAndThreeChannelExamplesAreImages() {
        func geometry(_ shape: [Int]) -> Bool { ImageGrid.imageGeometry(NPYArray(shape: shape, values: [])) != nil }
        #expect(geometry([0, 8, 8]))
        #expect(geometry([0, 8, 8, 1]))
        #expect(geometry([0, 32, 32, 3]))
        #expect(!geometry([0, 8, 8, 2]))
        #expect(!geometry([0, 64]))
        #expect(!geometry([0, 4, 4, 4, 1]))
    }

    @Test func pixelsAreStretchedOverTheExamplesOwnRange() {
        let inputs = NPYArray(shape: [2, 1, 3], values: [0, 0, 0, -1, 0, 1])
        #expect(ImageGrid.pixels(of: inputs, example: 1) == [0, 128, 255])
        #expect(ImageGrid.pixels(of: inputs, example: 0) == [0, 0, 0])
    }
}
