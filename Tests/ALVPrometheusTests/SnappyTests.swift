import ALVPrometheus
import CSnappy
import Testing

@Suite struct SnappyTests {
    /// Inputs that reach every element kind: empty, short literals, the 60/61-byte literal length forms,
    /// long runs (copies longer than 64 bytes), text-like repeats, and more than one 64 KiB block.
    static func inputs() -> [[UInt8]] {
        var random = SystemRandomNumberGenerator()
        var noise = [UInt8](repeating: 0, count: 150_000)
        for i in noise.indices { noise[i] = UInt8.random(in: 0...255, using: &random) }
        let text = Array(String(repeating: "alv_requests_total{run=\"r1\",vector=\"checkout\",outcome=\"2xx\"} 1234\n", count: 3_000).utf8)
        return [
            [], [7], Array(noise.prefix(59)), Array(noise.prefix(60)), Array(noise.prefix(61)), Array(noise.prefix(255)),
            Array(noise.prefix(256)), Array(noise.prefix(257)), [UInt8](repeating: 0xAB, count: 1_000), text, noise,
            Array(text.prefix(70_000)) + Array(noise.prefix(70_000)) + Array(text.prefix(70_000)),
        ]
    }

    @Test func libsnappyDecodesWhatAlvEncodes() throws {
        for input in Self.inputs() {
            let compressed = Snappy.compress(input)
            let valid = compressed.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { snappy_validate_compressed_buffer($0.baseAddress, $0.count) }
            }
            #expect(valid == SNAPPY_OK, "input of \(input.count) bytes")
            var length = 0
            _ = compressed.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { snappy_uncompressed_length($0.baseAddress, $0.count, &length) }
            }
            #expect(length == input.count)
            var output = [CChar](repeating: 0, count: max(1, length))
            var outLength = output.count
            let status = compressed.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { snappy_uncompress($0.baseAddress, $0.count, &output, &outLength) }
            }
            #expect(status == SNAPPY_OK)
            #expect(output.prefix(outLength).map { UInt8(bitPattern: $0) } == input, "input of \(input.count) bytes")
            #expect(try Snappy.decompress(compressed) == input)
        }
        // Repeats compress: the exposition-like text to under a tenth.
        let text = Self.inputs()[9]
        #expect(Snappy.compress(text).count * 10 < text.count)
    }

    @Test func alvDecodesWhatLibsnappyEncodes() throws {
        for input in Self.inputs() {
            var out = [CChar](repeating: 0, count: snappy_max_compressed_length(input.count))
            var length = out.count
            let status = input.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { snappy_compress($0.baseAddress, $0.count, &out, &length) }
            }
            #expect(status == SNAPPY_OK)
            #expect(try Snappy.decompress(out.prefix(length).map { UInt8(bitPattern: $0) }) == input)
        }
    }

    @Test func hostileInputIsRefusedNotTrapped() {
        let good = Snappy.compress(Array(String(repeating: "abcdefgh", count: 100).utf8))
        // Every truncation, and every single-byte corruption of a short stream, throws or decodes: never traps.
        for cut in 0..<good.count { #expect(throws: Snappy.DecodeError.self) { try Snappy.decompress(Array(good.prefix(cut))) } }
        for i in good.indices {
            for value: UInt8 in [0x00, 0xFF, 0xFE, 0x03, 0x01] {
                var bad = good
                bad[i] = value
                _ = try? Snappy.decompress(bad)
            }
        }
        // A copy before the start, and a header that promises 1 GiB.
        #expect(throws: Snappy.DecodeError.badOffset(at: 1)) { try Snappy.decompress([4, 0x02, 0x05, 0x00]) }
        #expect(throws: Snappy.DecodeError.tooLarge(1 << 30)) { try Snappy.decompress([0x80, 0x80, 0x80, 0x80, 0x04]) }
    }
}
