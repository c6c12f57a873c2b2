import CCurl

/// A virtual user's cookies (RFC 6265, the parts a load test meets): `Set-Cookie` stores or replaces a
/// cookie by name, domain and path; `Max-Age` ≤ 0 or an `Expires` in the past removes it; a request gets the
/// cookies whose domain and path match its URL, unexpired, `Secure` ones over https only.
struct CookieJar {
    struct Cookie: Equatable {
        var name: String
        var value: String
        /// Lowercased; with `hostOnly` it must equal the request's host, else the host must be it or end in `.domain`.
        var domain: String
        var hostOnly: Bool
        var path: String
        /// Unix milliseconds, or nil for a session cookie.
        var expiresMs: Int64?
        var secure: Bool
    }

    private(set) var cookies: [Cookie] = []
    /// At most this many cookies per user (the oldest go first), so a target cannot grow a jar without bound.
    static let capacity = 200

    var isEmpty: Bool { cookies.isEmpty }

    mutating func removeAll() { cookies.removeAll(keepingCapacity: true) }

    /// Stores what one `Set-Cookie` header value says, for a response to `url` at `nowMs`.
    mutating func store(setCookie header: String, url: RequestURL, nowMs: Int64) {
        var attributes = header.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !attributes.isEmpty, let equals = attributes[0].firstIndex(of: "=") else { return }
        let pair = attributes.removeFirst()
        let name = String(pair[..<equals]).trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { return }
        var cookie = Cookie(name: name, value: String(pair[pair.index(after: equals)...]), domain: url.host, hostOnly: true,
                            path: url.defaultCookiePath, expiresMs: nil, secure: false)
        var maxAge: Int64?
        for attribute in attributes {
            let (key, value): (String, String)
            if let eq = attribute.firstIndex(of: "=") {
                key = attribute[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
                value = attribute[attribute.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            } else {
                key = attribute.lowercased()
                value = ""
            }
            switch key {
            case "max-age": maxAge = Int64(value) ?? maxAge
            case "expires":
                let seconds = value.withCString { curl_getdate($0, nil) }
                if seconds != -1 { cookie.expiresMs = Int64(seconds) * 1000 }
            case "domain":
                var domain = value.lowercased()
                if domain.hasPrefix(".") { domain.removeFirst() }
                guard !domain.isEmpty else { continue }
                // A response may set cookies for its own host or a parent domain only.
                guard url.host == domain || url.host.hasSuffix("." + domain) else { return }
                cookie.domain = domain
                cookie.hostOnly = false
            case "path":
                if value.hasPrefix("/") { cookie.path = value }
            case "secure": cookie.secure = true
            default: break
            }
        }
        if let maxAge { cookie.expiresMs = maxAge <= 0 ? Int64.min : nowMs &+ maxAge &* 1000 }
        cookies.removeAll { $0.name == cookie.name && $0.domain == cookie.domain && $0.path == cookie.path }
        if let expires = cookie.expiresMs, expires <= nowMs { return }
        if cookies.count >= Self.capacity { cookies.removeFirst() }
        cookies.append(cookie)
    }

    /// The `Cookie` header value for a request to `url` (`a=1; b=2`), or nil when no cookie matches.
    func header(for url: RequestURL, nowMs: Int64) -> String? {
        var parts: [String] = []
        for cookie in cookies {
            if let expires = cookie.expiresMs, expires <= nowMs { continue }
            if cookie.secure && !url.isHTTPS { continue }
            guard cookie.hostOnly ? url.host == cookie.domain : (url.host == cookie.domain || url.host.hasSuffix("." + cookie.domain)) else { continue }
            guard Self.pathMatches(url.path, cookie.path) else { continue }
            parts.append(cookie.name + "=" + cookie.value)
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// The value of the cookie named `name` that `url` would be sent.
    func value(named name: String) -> String? {
        cookies.last { $0.name == name }?.value
    }

    static func pathMatches(_ requestPath: String, _ cookiePath: String) -> Bool {
        if requestPath == cookiePath { return true }
        guard requestPath.hasPrefix(cookiePath) else { return false }
        return cookiePath.hasSuffix("/") || requestPath.dropFirst(cookiePath.count).first == "/"
    }
}

/// The parts of a request URL cookies are matched on.
struct RequestURL: Equatable {
    var isHTTPS: Bool
    /// Lowercased, without port.
    var host: String
    /// From the first `/` up to `?` or `#`; `/` when empty.
    var path: String

    init?(_ text: some StringProtocol) {
        let text = String(text)
        guard let schemeEnd = text.range(of: "://") else { return nil }
        isHTTPS = text[..<schemeEnd.lowerBound].lowercased() == "https"
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[...close]).lowercased()
        } else {
            host = String(authority.split(separator: ":", maxSplits: 1).first ?? "").lowercased()
        }
        let tail = rest[authorityEnd...]
        let pathEnd = tail.firstIndex { $0 == "?" || $0 == "#" } ?? tail.endIndex
        let p = String(tail[..<pathEnd])
        path = p.isEmpty ? "/" : p
    }

    /// RFC 6265 5.1.4: the path up to its last `/` (`/` when there is none past the first).
    var defaultCookiePath: String {
        guard path.hasPrefix("/"), let last = path.lastIndex(of: "/"), last != path.startIndex else { return "/" }
        return String(path[..<last])
    }
}
