/// One distinct failure of a request type, as a person reading a summary wants it: what happened (libcurl's
/// error text, the HTTP status, or the check that failed), the start of the body, and how often it happened.
public struct ErrorSample: Sendable, Equatable, Codable {
    public var requestType: String
    /// The outcome key (`timeout`, `tls`, `5xx`, `check`, …).
    public var outcome: String
    /// The HTTP status, when a response came.
    public var status: Int?
    public var message: String
    /// The first bytes of the response body (at most `bodyLimit`), as text.
    public var body: String
    /// Times this same failure (type, outcome, status, message) happened.
    public var count: UInt64

    /// Distinct samples kept per request type (per unit, per delta, and per run).
    public static let perRequestType = 5
    public static let bodyLimit = 200
    public static let messageLimit = 512

    public init(requestType: String, outcome: String, status: Int?, message: String, body: String, count: UInt64 = 1) {
        self.requestType = requestType
        self.outcome = outcome
        self.status = status
        self.message = String(decoding: message.utf8.prefix(Self.messageLimit), as: UTF8.self)
        self.body = String(decoding: body.utf8.prefix(Self.bodyLimit), as: UTF8.self)
        self.count = count
    }

    enum CodingKeys: String, CodingKey { case requestType = "request_type", outcome, status, message, body, count }

    /// Whether `other` is the same failure (its count aside). Numbers in the messages do not count: libcurl
    /// says "Failed to connect … after 0 ms" and "… after 1 ms" of one failure, and a check "took 612 ms" and
    /// "took 640 ms" of one expectation.
    public func isSame(as other: ErrorSample) -> Bool {
        requestType == other.requestType && outcome == other.outcome && status == other.status
            && (message == other.message || Self.withoutNumbers(message) == Self.withoutNumbers(other.message))
    }

    /// `message` with every run of digits as one `#`.
    static func withoutNumbers(_ message: String) -> [UInt8] {
        var out: [UInt8] = []
        var inNumber = false
        for byte in message.utf8 {
            let digit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            if digit && !inNumber { out.append(UInt8(ascii: "#")) }
            if !digit { out.append(byte) }
            inNumber = digit
        }
        return out
    }
}

extension Array where Element == ErrorSample {
    /// Adds `sample`: to the count of the same failure when there is one, as a new entry while its request
    /// type has fewer than `ErrorSample.perRequestType`, else not at all.
    public mutating func note(_ sample: ErrorSample) {
        if let index = firstIndex(where: { $0.isSame(as: sample) }) {
            self[index].count &+= sample.count
        } else if lazy.filter({ $0.requestType == sample.requestType }).count < ErrorSample.perRequestType {
            append(sample)
        }
    }
}
