import CCurl

/// A curl multi handle: many transfers on one thread, driven by `perform` and `poll`.
final class CurlMulti {
    let handle: UnsafeMutableRawPointer

    init(maxConnections: Int) throws(EngineError) {
        guard CurlGlobal.initialized, let handle = curl_multi_init() else { throw EngineError.curl("curl_multi_init failed") }
        self.handle = handle
        alv_curl_multi_setopt_long(handle, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxConnections)
        // Keep every idle connection open for reuse (the default cache is 4 × added handles).
        alv_curl_multi_setopt_long(handle, CURLMOPT_MAXCONNECTS, max(maxConnections, 16))
        alv_curl_multi_setopt_long(handle, CURLMOPT_PIPELINING, 2)  // CURLPIPE_MULTIPLEX for HTTP/2
    }

    deinit {
        curl_multi_cleanup(handle)
    }

    /// Connections open at once, at most (and as many kept idle for reuse).
    func setConnectionLimit(_ count: Int) {
        alv_curl_multi_setopt_long(handle, CURLMOPT_MAX_TOTAL_CONNECTIONS, count)
        alv_curl_multi_setopt_long(handle, CURLMOPT_MAXCONNECTS, max(count, 16))
    }

    /// Ends a `poll` in progress at once (any thread).
    func wakeup() {
        curl_multi_wakeup(handle)
    }

    func add(_ transfer: Transfer) throws(EngineError) {
        let rc = curl_multi_add_handle(handle, transfer.handle)
        if rc != CURLM_OK { throw EngineError.curl("curl_multi_add_handle: \(String(cString: curl_multi_strerror(rc)))") }
    }

    func remove(_ transfer: Transfer) {
        curl_multi_remove_handle(handle, transfer.handle)
    }

    /// Lets curl do what is due on every transfer.
    func perform() {
        var running: Int32 = 0
        curl_multi_perform(handle, &running)
    }

    /// Waits for socket activity or curl's own timers, at most `timeoutMs`.
    func poll(timeoutMs: Int32) {
        var ready: Int32 = 0
        curl_multi_poll(handle, nil, 0, timeoutMs, &ready)
    }

    /// Calls `body` for each finished transfer with its curl result code.
    func completions(_ body: (Transfer, CURLcode) -> Void) {
        var left: Int32 = 0
        while let message = curl_multi_info_read(handle, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let transfer = Transfer.owner(of: easy)
            else { continue }
            let result = alv_curl_msg_result(message)
            curl_multi_remove_handle(handle, easy)
            body(transfer, result)
        }
    }
}
