/// Unsigned LEB128 (protobuf's varint): seven bits a byte, low first, the high bit set on all but the last.
/// The sparse histogram codec, remote write's protobuf and snappy's length header use it.
public enum Varint {
    public static func append(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
