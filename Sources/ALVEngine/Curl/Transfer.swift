import ALVProtocol
import CCurl
import Foundation

/// One curl easy handle and the buffers that must outlive a request on it.
///
/// Options that never change (callbacks, timeouts, TLS, HTTP version) are set once; each request
/// sets only its URL, method, headers and body. Re-adding the same handle keeps its connection.
final class Transfer {
    let handle: UnsafeMutableRawPointer
    /// Request body; curl reads it in place (CURLOPT_POSTFIELDS), so it stays put until the next request.
    private(set) var body: UnsafeMutableRawBufferPointer
    private(set) var bodyLength = 0
    /// Headers built for this request when the request type has templated headers (freed on reuse).
    var ownedHeaders: UnsafeMutablePointer<curl_slist>?
    /// `--resolve` entries, kept for the handle's life.
    private var resolveList: UnsafeMutablePointer<curl_slist>?

    var typeIndex = 0
    var intendedNs: UInt64 = 0
    var sentNs: UInt64 = 0
    /// The virtual user using this transfer (closed model), or -1.
    var user = -1
    /// The unit whose request this is, while it is in flight.
    var load: UnitExecutor?
    /// The engine's pool this handle returns to.
    var pool = 0
    /// The request type this handle was last set up for (weak: a unit's compiled requests go with it).
    weak var preparedFor: CompiledRequest?
    /// The open-model flow iteration this request belongs to (an index into the unit's sessions), or -1.
    var session = -1
    /// The URL of the current request (without the terminating NUL), for matching cookies.
    var url: [UInt8] = []

    // What the current response leaves for checks, captures, error samples and the cookie jar.
    /// libcurl's text for the last failure (CURLOPT_ERRORBUFFER: CURL_ERROR_SIZE bytes, NUL-terminated).
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    /// The first `ErrorSample.bodyLimit` bytes of every response body, for an error sample.
    let bodyHead = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    var bodyHeadLength = 0
    /// The whole body (up to `keptBodyLimit`), when the step checks or captures from it.
    var responseBody: [UInt8] = []
    var responseHeaders: [(name: String, value: String)] = []
    var setCookies: [String] = []
    /// Whether the header callback keeps every header (a capture reads one), not only Set-Cookie.
    private(set) var keepsHeaders = false
    private(set) var keepsBody = false
    private var readsHeaders = false
    /// A Cookie header is set on the handle (CURLOPT_COOKIE), to clear when the next request has none.
    private var sendsCookies = false

    let options: EngineOptions

    init(options: EngineOptions) throws(EngineError) {
        guard CurlGlobal.initialized, let handle = curl_easy_init() else { throw EngineError.curl("curl_easy_init failed") }
        self.handle = handle
        body = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 1)
        self.options = options
        applyStaticOptions()
    }


    /// Options every request on this handle shares.
    private func applyStaticOptions() {
        let options = self.options
        alv_curl_easy_setopt_ptr(handle, CURLOPT_PRIVATE, Unmanaged.passUnretained(self).toOpaque())
        alv_curl_easy_setopt_write(handle, CURLOPT_WRITEFUNCTION, readBody)
        alv_curl_easy_setopt_ptr(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque())
        errorBuffer.initialize(to: 0)
        alv_curl_easy_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        alv_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        alv_curl_easy_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        alv_curl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, options.connectTimeoutMs)
        alv_curl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, options.followRedirects ? 1 : 0)
        alv_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, options.verifyTLS ? 1 : 0)
        alv_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, options.verifyTLS ? 2 : 0)
        let version: Int
        switch options.httpVersion {
        case .http1: version = Int(CURL_HTTP_VERSION_1_1)
        case .http2: version = Int(CURL_HTTP_VERSION_2TLS)
        case .h2c: version = Int(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
        }
        alv_curl_easy_setopt_long(handle, CURLOPT_HTTP_VERSION, version)
        for (option, pem) in [(CURLOPT_CAINFO_BLOB, options.caPEM), (CURLOPT_SSLCERT_BLOB, options.clientCertPEM), (CURLOPT_SSLKEY_BLOB, options.clientKeyPEM)] {
            guard let pem else { continue }
            var bytes = Array(pem.utf8)
            bytes.withUnsafeMutableBytes { _ = alv_curl_easy_setopt_blob(handle, option, $0.baseAddress, $0.count) }
        }
        if let resolve = options.resolve, !resolve.isEmpty {
            for entry in resolve { resolveList = curl_slist_append(resolveList, entry) }
            alv_curl_easy_setopt_slist(handle, CURLOPT_RESOLVE, resolveList)
        }
        if options.httpVersion != .http1 { alv_curl_easy_setopt_long(handle, CURLOPT_PIPEWAIT, 1) }
        "alv/0.1".withCString { _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_USERAGENT, $0) }
        // Only HTTP: a unit's URL (or a redirect) naming file://, gopher:// or any other scheme fails the request.
        "http,https".withCString {
            _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_PROTOCOLS_STR, $0)
            _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_REDIR_PROTOCOLS_STR, $0)
        }
        // With no proxy variable in the environment, say so once: libcurl otherwise looks them up (getenv)
        // for every transfer.
        if !Transfer.proxyFromEnvironment {
            "".withCString {
                _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_PROXY, $0)
                _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_NOPROXY, $0)
            }
        }
        // ALV_CURL_VERBOSE=1 prints libcurl's own trace to stderr, for debugging a target.
        if Transfer.verbose { alv_curl_easy_setopt_long(handle, CURLOPT_VERBOSE, 1) }
    }

    static let verbose = ProcessInfo.processInfo.environment["ALV_CURL_VERBOSE"] == "1"

    /// Whether any variable libcurl reads a proxy from is set (then libcurl reads them, as it always does).
    static let proxyFromEnvironment: Bool = {
        let environment = ProcessInfo.processInfo.environment
        return ["http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"].contains { !(environment[$0] ?? "").isEmpty }
    }()

    /// libcurl's message for the last failure, or its generic text for `code`.
    func errorText(_ code: CURLcode) -> String {
        let text = String(cString: errorBuffer)
        return text.isEmpty ? String(cString: curl_easy_strerror(code)) : text
    }

    /// The start of the last response's body, as text.
    var bodyHeadText: String {
        String(decoding: UnsafeBufferPointer(start: bodyHead, count: bodyHeadLength), as: UTF8.self)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
        bodyHead.deallocate()
        if let resolveList { curl_slist_free_all(resolveList) }
        if let ownedHeaders { curl_slist_free_all(ownedHeaders) }
        body.deallocate()
    }

    /// Copies `bytes` into the body buffer, growing it when needed.
    func setBody(_ bytes: [UInt8]) {
        if bytes.count > body.count {
            body.deallocate()
            body = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, body.count * 2), alignment: 1)
        }
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress, let target = body.baseAddress { target.copyMemory(from: base, byteCount: source.count) }
        }
        bodyLength = bytes.count
    }

    /// Sets what the next response keeps: its body (for checks), every header (for a capture), and Set-Cookie
    /// values (whenever the user has a jar). Clears what the last response left.
    func keep(body: Bool, headers: Bool, cookies: Bool = false) {
        if !responseBody.isEmpty { responseBody.removeAll(keepingCapacity: true) }
        if !responseHeaders.isEmpty { responseHeaders.removeAll(keepingCapacity: true) }
        if !setCookies.isEmpty { setCookies.removeAll(keepingCapacity: true) }
        keepsHeaders = headers
        keepsBody = body
        bodyHeadLength = 0
        errorBuffer[0] = 0
        let read = headers || cookies
        if read != readsHeaders {
            readsHeaders = read
            alv_curl_easy_setopt_write(handle, CURLOPT_HEADERFUNCTION, read ? readHeader : nil)
            alv_curl_easy_setopt_ptr(handle, CURLOPT_HEADERDATA, read ? Unmanaged.passUnretained(self).toOpaque() : nil)
        }
    }

    /// The Cookie header of the next request (nil: none).
    func sendCookies(_ header: String?) {
        if let header {
            header.withCString { _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_COOKIE, $0) }
            sendsCookies = true
        } else if sendsCookies {
            alv_curl_easy_setopt_ptr(handle, CURLOPT_COOKIE, nil)
            sendsCookies = false
        }
    }

    /// The URL the response came from (after redirects), or the request's.
    var effectiveURL: String {
        var pointer: UnsafeMutableRawPointer?
        if alv_curl_easy_getinfo_ptr(handle, CURLINFO_EFFECTIVE_URL, &pointer) == CURLE_OK, let pointer {
            return String(cString: pointer.assumingMemoryBound(to: CChar.self))
        }
        return String(decoding: url, as: UTF8.self)
    }

    func freeOwnedHeaders() {
        if let ownedHeaders { curl_slist_free_all(ownedHeaders) }
        ownedHeaders = nil
    }

    /// The transfer an easy handle belongs to.
    static func owner(of handle: UnsafeMutableRawPointer) -> Transfer? {
        var pointer: UnsafeMutableRawPointer?
        guard alv_curl_easy_getinfo_ptr(handle, CURLINFO_PRIVATE, &pointer) == CURLE_OK, let pointer else { return nil }
        return Unmanaged<Transfer>.fromOpaque(pointer).takeUnretainedValue()
    }

    var responseCode: Int {
        var code = 0
        alv_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    /// Bytes received: headers plus body.
    var bytesIn: UInt64 {
        var header = 0
        var body: curl_off_t = 0
        alv_curl_easy_getinfo_long(handle, CURLINFO_HEADER_SIZE, &header)
        alv_curl_easy_getinfo_off(handle, CURLINFO_SIZE_DOWNLOAD_T, &body)
        return UInt64(max(0, header)) + UInt64(max(0, body))
    }

    /// The request's phases in µs, in `Phase` order, from libcurl's cumulative timers: name lookup, connect,
    /// TLS handshake, waiting (from sending to the first byte), transfer (the rest).
    var phases: (UInt64, UInt64, UInt64, UInt64, UInt64) {
        func time(_ info: CURLINFO) -> Int64 {
            var value: curl_off_t = 0
            alv_curl_easy_getinfo_off(handle, info, &value)
            return Int64(value)
        }
        let lookup = time(CURLINFO_NAMELOOKUP_TIME_T), connect = time(CURLINFO_CONNECT_TIME_T)
        let handshake = time(CURLINFO_APPCONNECT_TIME_T), pretransfer = time(CURLINFO_PRETRANSFER_TIME_T)
        let first = time(CURLINFO_STARTTRANSFER_TIME_T), total = time(CURLINFO_TOTAL_TIME_T)
        func span(_ a: Int64, _ b: Int64) -> UInt64 { b > a ? UInt64(b - a) : 0 }
        return (UInt64(max(0, lookup)), span(lookup, connect), handshake > 0 ? span(connect, handshake) : 0, span(pretransfer, first), span(first, total))
    }

    /// Bytes sent: request headers plus body.
    var bytesOut: UInt64 {
        var header = 0
        alv_curl_easy_getinfo_long(handle, CURLINFO_REQUEST_SIZE, &header)
        return UInt64(max(0, header)) + UInt64(bodyLength)
    }
}

/// Engine failures: curl could not be set up, or the unit cannot run.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    case curl(String)
    case badUnit(String)

    public var description: String {
        switch self {
        case .curl(let message): return "libcurl: \(message)"
        case .badUnit(let message): return message
        }
    }
}
