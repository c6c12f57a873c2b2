import CCurl
import Foundation

/// Blocking HTTP calls over one libcurl easy handle: remote write, `query_range`, scrapes, cloud APIs. Owned
/// by one thread at a time (the handle is reused for keep-alive between calls).
public final class HTTPClient {
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// AWS Signature Version 4, computed by libcurl (`CURLOPT_AWS_SIGV4`).
    public struct AWSSigning: Sendable {
        public var region: String
        public var service: String
        public var accessKeyID: String
        public var secretAccessKey: String
        public var sessionToken: String?

        public init(region: String, service: String, accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.region = region
            self.service = service
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var url: String
        public var message: String
        public var description: String { "\(url): \(message)" }
        public init(url: String, message: String) {
            self.url = url
            self.message = message
        }
    }

    /// The body read so far, and the most it may grow to.
    final class Sink {
        var bytes: [UInt8] = []
        var limit: Int
        var overflowed = false
        init(limit: Int) { self.limit = limit }
    }

    private let handle: UnsafeMutableRawPointer
    public var timeoutMs: Int
    public var connectTimeoutMs: Int
    /// Bodies larger than this fail the call (a scrape or query answer has no reason to be this big).
    public var maxBodyBytes: Int

    public init(timeoutMs: Int = 5_000, connectTimeoutMs: Int = 1_000, maxBodyBytes: Int = 64 << 20) {
        _ = HTTPClient.globalInit
        handle = curl_easy_init()
        self.timeoutMs = timeoutMs
        self.connectTimeoutMs = connectTimeoutMs
        self.maxBodyBytes = maxBodyBytes
    }

    deinit { curl_easy_cleanup(handle) }

    static let globalInit: Bool = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK }()

    public func get(_ url: String, headers: [String] = []) throws(Failure) -> Response {
        try perform(url, method: nil, body: nil, headers: headers)
    }

    public func post(_ url: String, body: [UInt8], headers: [String], signing: AWSSigning? = nil) throws(Failure) -> Response {
        try perform(url, method: "POST", body: body, headers: headers, signing: signing)
    }

    private func perform(_ url: String, method: String?, body: [UInt8]?, headers: [String], signing: AWSSigning? = nil) throws(Failure) -> Response {
        curl_easy_reset(handle)
        let sink = Sink(limit: maxBodyBytes)
        var list: UnsafeMutablePointer<curl_slist>?
        // A session token is a header of its own, signed with the rest.
        let all = headers + (signing?.sessionToken.map { ["X-Amz-Security-Token: \($0)"] } ?? [])
        for header in all { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }
        var code = alv_curl_easy_setopt_ptr(handle, CURLOPT_URL, url)
        _ = alv_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = alv_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMs)
        _ = alv_curl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMs)
        _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_USERAGENT, "alv")
        // http and https only: a URL from a profile must not read files or speak other protocols.
        _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_ACCEPT_ENCODING, "")
        if let list { _ = alv_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list) }
        if let signing {
            _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_AWS_SIGV4, "aws:amz:\(signing.region):\(signing.service)")
            _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_USERNAME, signing.accessKeyID)
            _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_PASSWORD, signing.secretAccessKey)
        }
        _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
        _ = alv_curl_easy_setopt_write(handle, CURLOPT_WRITEFUNCTION, httpClientWrite)
        guard code == CURLE_OK else { throw Failure(url: url, message: "not a URL libcurl accepts") }
        let result: CURLcode = (body ?? []).withUnsafeBufferPointer { buffer in
            if method == "POST" {
                _ = alv_curl_easy_setopt_long(handle, CURLOPT_POST, 1)
                _ = alv_curl_easy_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(buffer.count))
                let base = buffer.baseAddress.map(UnsafeRawPointer.init) ?? UnsafeRawPointer(("" as StaticString).utf8Start)
                _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_POSTFIELDS, base)
            }
            return curl_easy_perform(handle)
        }
        code = result
        guard code == CURLE_OK else {
            if sink.overflowed { throw Failure(url: url, message: "the answer is larger than \(maxBodyBytes >> 20) MiB") }
            throw Failure(url: url, message: String(cString: curl_easy_strerror(code)))
        }
        var status = 0
        _ = alv_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, body: sink.bytes)
    }
}

/// The easy handle's write callback: appends to the `Sink` passed as user data, failing past its limit.
private func httpClientWrite(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let data, let user else { return 0 }
    let sink = Unmanaged<HTTPClient.Sink>.fromOpaque(user).takeUnretainedValue()
    let n = size * count
    guard sink.bytes.count + n <= sink.limit else {
        sink.overflowed = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: n) { sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
    return n
}
