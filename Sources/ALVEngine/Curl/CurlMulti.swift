import CCurl
import Foundation

/// A curl multi handle: many transfers on one thread, driven by `perform` and `poll`.
final class CurlMulti {
    let handle: UnsafeMutableRawPointer

    /// libcurl's socket interface on alv's own epoll, or nil for `curl_multi_perform` and `curl_multi_poll`
    /// (`ALV_CURL_LOOP=poll`).
    private var sockets: CurlSocketLoop?
    static let usesSocketLoop = ProcessInfo.processInfo.environment["ALV_CURL_LOOP"] != "poll"

    init(maxConnections: Int) throws(EngineError) {
        guard CurlGlobal.initialized, let handle = curl_multi_init() else { throw EngineError.curl("curl_multi_init failed") }
        self.handle = handle
        if Self.usesSocketLoop { sockets = try CurlSocketLoop(multi: handle) }
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
        if let sockets { sockets.wakeup() } else { curl_multi_wakeup(handle) }
    }

    /// Readies a new easy handle for this multi handle's loop.
    func adopt(_ transfer: Transfer) {
        sockets?.adopt(transfer.handle)
    }

    func add(_ transfer: Transfer) throws(EngineError) {
        let rc = curl_multi_add_handle(handle, transfer.handle)
        if rc != CURLM_OK { throw EngineError.curl("curl_multi_add_handle: \(String(cString: curl_multi_strerror(rc)))") }
    }

    func remove(_ transfer: Transfer) {
        curl_multi_remove_handle(handle, transfer.handle)
    }

    /// Lets curl do what is due: its timers with the socket loop, everything with `curl_multi_perform`.
    func perform() {
        if let sockets {
            sockets.runTimers(now: MonotonicClock.now())
            return
        }
        var running: Int32 = 0
        curl_multi_perform(handle, &running)
    }

    /// Waits for socket activity or curl's own timers, at most `timeoutMs` (and with the socket loop, acts on them).
    func poll(timeoutMs: Int32) {
        if let sockets {
            sockets.wait(timeoutMs: timeoutMs)
            return
        }
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
