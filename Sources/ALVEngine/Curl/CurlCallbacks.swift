import CCurl

/// Discards response bodies: the engine counts bytes from curl's transfer info, not here.
/// Capture-free so it can be passed as a C function pointer.
let discardBody: curl_write_callback = { _, size, count, _ in
    size &* count
}

/// curl's global state, initialised once per process before any handle exists.
enum CurlGlobal {
    static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()
}
