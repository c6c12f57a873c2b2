import Foundation

/// A worker on a group's machine asking the broker to admit the key pair it just made (on the broker's enrol
/// port, over CURVE with that key): which launcher and machine it runs on, which of the machine's worker
/// slots it takes, and the launcher's enrolment token.
public struct EnrolRequest: Sendable, Equatable, Codable {
    public var launcher: String
    public var instance: String
    public var slot: Int
    public var publicKey: String
    public var token: String

    public init(launcher: String, instance: String, slot: Int, publicKey: String, token: String) {
        self.launcher = launcher
        self.instance = instance
        self.slot = slot
        self.publicKey = publicKey
        self.token = token
    }

    enum CodingKeys: String, CodingKey {
        case launcher, instance, slot, token
        case publicKey = "public_key"
    }

    /// The most an enrolment message may weigh on the wire.
    public static let maximumBytes = 4096

    /// - Returns: nil for anything that is not a well-formed request with short fields.
    public static func decode(_ bytes: [UInt8]) -> EnrolRequest? {
        guard bytes.count <= maximumBytes, let request = try? JSONDecoder().decode(EnrolRequest.self, from: Data(bytes)) else { return nil }
        let fields = [request.launcher, request.instance]
        guard fields.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 128 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) } }),
              request.token.utf8.count <= 512, request.publicKey.utf8.count == 40 else { return nil }
        return request
    }
}

/// The broker's answer: the worker id to run as, or why not (the worker tries again later).
public struct EnrolReply: Sendable, Equatable, Codable {
    public var worker: String?
    public var refused: String?

    public init(worker: String? = nil, refused: String? = nil) {
        self.worker = worker
        self.refused = refused
    }
}
