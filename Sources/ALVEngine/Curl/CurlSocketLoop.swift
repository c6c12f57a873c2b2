import CCurl
import Glibc

/// libcurl's socket interface on an epoll of alv's own, wired as the fastest C loop wires it: curl's timer
/// is a deadline that becomes the wait's timeout (no timerfd re-armed on every callback), and a connection
/// parked in curl's cache stays registered, so reusing it costs no `epoll_ctl`. A socket is dropped from
/// the set when curl closes it (the close callback every easy handle gets) or when it fires while parked
/// (the server closed it). An eventfd in the set ends a wait from another thread.
final class CurlSocketLoop {
    private let multi: UnsafeMutableRawPointer
    private let epoll: Int32
    private let wakeFD: Int32
    /// When curl wants its timeout action (monotonic ns), if it does.
    private var deadline: UInt64?
    /// Per descriptor: what the kernel has registered (`registeredBit` when in the set), and what curl wants.
    private var registered: [UInt32] = []
    private var wanted: [UInt32] = []
    private static let registeredBit: UInt32 = 1 << 31
    private let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: 256)

    init(multi: UnsafeMutableRawPointer) throws(EngineError) {
        self.multi = multi
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard epoll >= 0, wakeFD >= 0 else { throw EngineError.curl("epoll_create1/eventfd failed (errno \(errno))") }
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wakeFD))
        epoll_ctl(epoll, EPOLL_CTL_ADD, wakeFD, &event)
        let me = Unmanaged.passUnretained(self).toOpaque()
        alv_curl_multi_setopt_socketfunction(multi, { _, fd, what, userp, _ in
            guard let userp else { return 0 }
            Unmanaged<CurlSocketLoop>.fromOpaque(userp).takeUnretainedValue().want(fd, what)
            return 0
        }, me)
        alv_curl_multi_setopt_timerfunction(multi, { _, timeoutMs, userp in
            guard let userp else { return 0 }
            let loop = Unmanaged<CurlSocketLoop>.fromOpaque(userp).takeUnretainedValue()
            loop.deadline = timeoutMs < 0 ? nil : MonotonicClock.now() + UInt64(timeoutMs) * 1_000_000
            return 0
        }, me)
    }

    deinit {
        close(epoll)
        close(wakeFD)
        events.deallocate()
    }

    /// Gives an easy handle the close callback, so a closed socket leaves the set.
    func adopt(_ easy: UnsafeMutableRawPointer) {
        alv_curl_easy_setopt_closesocket(easy, { userp, fd in
            if let userp { Unmanaged<CurlSocketLoop>.fromOpaque(userp).takeUnretainedValue().forget(fd) }
            return close(fd)
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    private func grow(_ fd: Int) {
        if fd >= registered.count {
            let size = max(fd + 1, registered.count * 2, 64)
            registered += Array(repeating: 0, count: size - registered.count)
            wanted += Array(repeating: 0, count: size - wanted.count)
        }
    }

    private func want(_ fd: curl_socket_t, _ what: Int32) {
        guard fd >= 0 else { return }
        let index = Int(fd)
        grow(index)
        if what == alv_curl_poll_remove {
            // Parked in curl's cache (or about to close): stays registered until it closes or fires.
            wanted[index] = 0
            return
        }
        let mask = (what & alv_curl_poll_in != 0 ? EPOLLIN.rawValue : 0) | (what & alv_curl_poll_out != 0 ? EPOLLOUT.rawValue : 0)
        wanted[index] = mask
        var event = epoll_event(events: mask, data: epoll_data_t(fd: fd))
        if registered[index] & Self.registeredBit == 0 {
            if epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0 && errno == EEXIST { epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event) }
        } else if registered[index] & ~Self.registeredBit != mask {
            if epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event) != 0 && errno == ENOENT { epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) }
        }
        registered[index] = mask | Self.registeredBit
    }

    private func forget(_ fd: curl_socket_t) {
        guard fd >= 0, Int(fd) < registered.count else { return }
        registered[Int(fd)] = 0
        wanted[Int(fd)] = 0
    }

    /// Curl's timeout action, when its deadline has come.
    func runTimers(now: UInt64) {
        guard let deadline, now >= deadline else { return }
        self.deadline = nil
        var running: Int32 = 0
        curl_multi_socket_action(multi, alv_curl_socket_timeout, 0, &running)
    }

    /// Waits up to `timeoutMs` (less when curl's deadline comes first) and acts on every ready socket.
    func wait(timeoutMs: Int32) {
        var timeout = timeoutMs
        if let deadline {
            let now = MonotonicClock.now()
            timeout = deadline <= now ? 0 : min(timeout, Int32(min(UInt64(Int32.max), (deadline - now + 999_999) / 1_000_000)))
        }
        let count = epoll_wait(epoll, events, 256, timeout)
        guard count > 0 else { return }
        var running: Int32 = 0
        for i in 0..<Int(count) {
            let fd = events[i].data.fd
            let flags = events[i].events
            if fd == wakeFD {
                var value: UInt64 = 0
                _ = read(wakeFD, &value, 8)
                continue
            }
            if Int(fd) < wanted.count && wanted[Int(fd)] == 0 {
                // A parked connection fired (the server closed it): out of the set; curl finds out on reuse.
                epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
                registered[Int(fd)] = 0
                continue
            }
            let action = (flags & EPOLLIN.rawValue != 0 ? alv_curl_cselect_in : 0) | (flags & EPOLLOUT.rawValue != 0 ? alv_curl_cselect_out : 0)
                | (flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 ? alv_curl_cselect_err : 0)
            curl_multi_socket_action(multi, fd, action, &running)
        }
        runTimers(now: MonotonicClock.now())
    }

    /// Ends a `wait` in progress (any thread).
    func wakeup() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }
}
