import ALVMetrics
/// Snappy block compression (the format of `snappy::Compress`), as Prometheus remote write expects the body:
/// the uncompressed length as a varint, then literals and back-references. A greedy encoder with a 4-byte
/// hash over blocks of 64 KiB, so every offset fits a 2-byte copy; decoders need nothing more.
public enum Snappy {
    static let blockSize = 1 << 16
    static let hashBits = 14

    public static func compress(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + input.count + input.count / 6)
        Varint.append(UInt64(input.count), to: &out)
        var table = [Int32](repeating: -1, count: 1 << hashBits)
        input.withUnsafeBufferPointer { bytes in
            var blockStart = 0
            while blockStart < bytes.count {
                let blockEnd = min(bytes.count, blockStart + blockSize)
                for i in table.indices { table[i] = -1 }
                compressBlock(bytes, from: blockStart, to: blockEnd, table: &table, into: &out)
                blockStart = blockEnd
            }
        }
        return out
    }

    private static func load32(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    private static func hash(_ v: UInt32) -> Int { Int((v &* 0x1E35_A7BD) >> (32 - UInt32(hashBits))) }

    private static func compressBlock(_ b: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, table: inout [Int32], into out: inout [UInt8]) {
        var literalStart = start
        var i = start
        // A match needs 4 bytes to hash; the last bytes of a block go out as a literal.
        while i + 4 <= end {
            let v = load32(b, i)
            let h = hash(v)
            let candidate = Int(table[h])
            table[h] = Int32(i - start)
            if candidate >= 0, load32(b, start + candidate) == v {
                let from = start + candidate
                var length = 4
                while i + length < end, b[from + length] == b[i + length] { length += 1 }
                emitLiteral(b, from: literalStart, to: i, into: &out)
                emitCopy(offset: i - from, length: length, into: &out)
                i += length
                literalStart = i
            } else {
                i += 1
            }
        }
        emitLiteral(b, from: literalStart, to: end, into: &out)
    }

    private static func emitLiteral(_ b: UnsafeBufferPointer<UInt8>, from: Int, to: Int, into out: inout [UInt8]) {
        let n = to - from
        guard n > 0 else { return }
        let m = n - 1
        if m < 60 {
            out.append(UInt8(m << 2))
        } else if m < 1 << 8 {
            out.append(60 << 2)
            out.append(UInt8(m))
        } else {
            // Blocks are 64 KiB, so two bytes of length always suffice.
            out.append(61 << 2)
            out.append(UInt8(m & 0xFF))
            out.append(UInt8(m >> 8))
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[from..<to]))
    }

    /// Copies with a 2-byte offset carry 1–64 bytes each.
    private static func emitCopy(offset: Int, length: Int, into out: inout [UInt8]) {
        var left = length
        while left > 0 {
            let n = min(left, 64)
            out.append(UInt8((n - 1) << 2) | 2)
            out.append(UInt8(offset & 0xFF))
            out.append(UInt8(offset >> 8))
            left -= n
        }
    }

    public enum DecodeError: Error, CustomStringConvertible, Equatable {
        case truncated(at: Int)
        case badOffset(at: Int)
        case lengthMismatch(expected: Int, got: Int)
        case tooLarge(Int)

        public var description: String {
            switch self {
            case .truncated(let at): "snappy: input ends inside an element at byte \(at)"
            case .badOffset(let at): "snappy: a copy at byte \(at) reaches before the start of the output"
            case .lengthMismatch(let expected, let got): "snappy: the header says \(expected) bytes, the elements make \(got)"
            case .tooLarge(let n): "snappy: \(n) bytes uncompressed is more than the 64 MiB allowed"
            }
        }
    }

    /// Decodes a snappy block (every element kind, 1-, 2- and 4-byte offsets), refusing anything malformed.
    public static func decompress(_ input: [UInt8], limit: Int = 64 << 20) throws -> [UInt8] {
        var i = 0
        var expected = 0
        var shift = 0
        while true {
            guard i < input.count, shift < 35 else { throw DecodeError.truncated(at: i) }
            let byte = input[i]
            expected |= Int(byte & 0x7F) << shift
            i += 1
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        guard expected <= limit else { throw DecodeError.tooLarge(expected) }
        var out: [UInt8] = []
        out.reserveCapacity(expected)
        while i < input.count {
            let at = i
            let tag = input[i]
            i += 1
            switch tag & 3 {
            case 0:
                var n = Int(tag >> 2)
                if n >= 60 {
                    let extra = n - 59
                    guard i + extra <= input.count else { throw DecodeError.truncated(at: at) }
                    n = 0
                    for k in 0..<extra { n |= Int(input[i + k]) << (8 * k) }
                    i += extra
                }
                n += 1
                guard i + n <= input.count else { throw DecodeError.truncated(at: at) }
                guard out.count + n <= expected else { throw DecodeError.lengthMismatch(expected: expected, got: out.count + n) }
                out.append(contentsOf: input[i..<(i + n)])
                i += n
            default:
                let length: Int, offset: Int
                switch tag & 3 {
                case 1:
                    guard i + 1 <= input.count else { throw DecodeError.truncated(at: at) }
                    length = Int((tag >> 2) & 7) + 4
                    offset = Int(tag >> 5) << 8 | Int(input[i])
                    i += 1
                case 2:
                    guard i + 2 <= input.count else { throw DecodeError.truncated(at: at) }
                    length = Int(tag >> 2) + 1
                    offset = Int(input[i]) | Int(input[i + 1]) << 8
                    i += 2
                default:
                    guard i + 4 <= input.count else { throw DecodeError.truncated(at: at) }
                    length = Int(tag >> 2) + 1
                    offset = Int(input[i]) | Int(input[i + 1]) << 8 | Int(input[i + 2]) << 16 | Int(input[i + 3]) << 24
                    i += 4
                }
                guard offset > 0, offset <= out.count else { throw DecodeError.badOffset(at: at) }
                guard out.count + length <= expected else { throw DecodeError.lengthMismatch(expected: expected, got: out.count + length) }
                let from = out.count - offset
                for k in 0..<length { out.append(out[from + k]) }
            }
        }
        guard out.count == expected else { throw DecodeError.lengthMismatch(expected: expected, got: out.count) }
        return out
    }
}
