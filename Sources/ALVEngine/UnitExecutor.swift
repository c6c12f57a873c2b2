import ALVLifecycle
import ALVProtocol
import ALVMetrics
import ALVModel
import ALVTemplates
import CCurl
import Foundation

/// Generates the load of one work unit with libcurl's multi interface and reports per-second
/// metric deltas: hosted by an `Engine` (a worker's one long-lived loop, whose connections outlive the
/// unit), or run alone on the calling thread until the unit's window (plus drain) is over.
///
/// Open model: arrivals on a Poisson (or uniform) schedule; each request carries its *intended*
/// send time, and latency counts from it even when the request had to wait for a connection
/// (coordinated-omission safe). Arrivals beyond the in-flight cap are counted as dropped.
/// Closed model: virtual users send, wait for the response, think, repeat.
public final class UnitExecutor {
    /// Which files of this machine a unit may read when it did not bring its data with it.
    public enum LocalFiles: Sendable, Equatable {
        /// The paths the unit names, relative ones against its `dataDirectory` (a run on this machine).
        case asTheUnitSays
        /// None (a worker: units come over the network).
        case none
        /// Relative paths under this directory only (`alv worker --data-dir`).
        case under(String)
    }

    /// How the unit ended.
    public struct Report: Sendable, Equatable {
        /// The unit arrived after its deadline and was not run.
        public var late: Bool
        /// The run was cancelled before the window ended.
        public var cancelled: Bool
        public var requestsTotal: UInt64
        public var cpuSeconds: Double
        public var peakRSSBytes: UInt64
    }

    let unit: WorkUnit
    let options: EngineOptions
    /// The vector's place in its run: with the run, which units a closed-model user goes on in.
    let vectorIndex: Int
    /// Every request the unit sends: each request type's steps in order (a single request is one step).
    let requests: [CompiledRequest]
    /// Per request type, the index in `requests` of its first step.
    let firstStep: [Int]
    /// Whether request type i is a flow (an open-model arrival of it gets a session of its own).
    let isFlow: [Bool]
    let cookies: Bool
    let alias: AliasTable
    let data: TemplateData
    let sink: (MetricsDelta) -> Void
    let cancellation: CancellationFlag
    /// A second flag that also stops the unit (the run's, when `cancellation` is the vector's).
    let alsoCancelledBy: CancellationFlag?

    private var metrics: [RequestMetrics]
    /// Distinct failures since the last emitted second, for its delta.
    private var samples: [ErrorSample] = []
    private var random: SeededGenerator
    private var scratch: [UInt8] = []
    private var active = 0
    /// The engine hosting the unit (set when it arrives there), and its pool of handles with this unit's options.
    private unowned(unsafe) var engine: Engine!
    private var pool = 0

    // The unit's course on the engine's loop.
    private(set) var startNs: UInt64 = 0
    private(set) var endNs: UInt64 = 0
    private var started = false
    private var stopAt: UInt64?
    private var cancelled = false
    private var nextEmit: UInt64 = 0
    private var cpuAtStart = 0.0
    private var cpuAtEmit = 0.0
    /// Set once the unit is over: the engine hands it on and forgets the unit.
    private(set) var report: Report?
    /// Closed model: users whose request is still in flight in the unit before this one.
    private var awaited: [Int] = []
    private var activeTransfers: [ObjectIdentifier: Transfer] = [:]
    private var requestsTotal: UInt64 = 0

    // Open model.
    private var waiting = RingBuffer<(intended: UInt64, request: Int, session: Int)>(capacity: 1024)
    private var schedule: ArrivalSchedule?
    private var nextArrival: UInt64 = .max
    private var openContext: RenderContext
    /// Open-model flow iterations under way (a virtual user per arrival of a flow), and free slots.
    private var sessions: [VirtualUser] = []
    private var freeSessions: [Int] = []
    private var sessionsMade: UInt64 = 0
    /// Sessions thinking before their next step.
    private var sessionSleeping = WakeHeap()
    private let inFlightCap: Int
    let connectionCap: Int

    // Closed model.
    private var users: [VirtualUser] = []
    private var sleeping = WakeHeap()

    /// Compiles the unit's templates and sets up curl.
    /// - Parameters:
    ///   - workerID: what `{{worker_id}}` renders.
    ///   - localFiles: which files of this machine the unit may read when it did not bring its data: those the
    ///     unit names, where it says (a run on this machine, the default); none; or those under one directory.
    /// - Throws: `EngineError` or a template/data error when the unit cannot run.
    ///   - vectorIndex: the vector's place in its run (closed-model users go on across units of one vector).
    public init(
        unit: WorkUnit, options: EngineOptions = EngineOptions(), workerID: String = "local", localFiles: LocalFiles = .asTheUnitSays,
        vectorIndex: Int = 0, cancellation: CancellationFlag = CancellationFlag(), alsoCancelledBy: CancellationFlag? = nil,
        sink: @escaping (MetricsDelta) -> Void
    ) throws {
        self.alsoCancelledBy = alsoCancelledBy
        self.unit = unit
        self.vectorIndex = vectorIndex
        self.options = options
        self.sink = sink
        self.cancellation = cancellation
        var resolver: DataFileResolver
        switch localFiles {
        case .asTheUnitSays:
            resolver = DataFileResolver(baseDirectory: unit.dataDirectory ?? FileManager.default.currentDirectoryPath, declared: unit.vector.dataFiles, inline: unit.data)
        case .none:
            resolver = DataFileResolver(baseDirectory: "/nonexistent", declared: unit.vector.dataFiles, inline: unit.data, reading: .none)
        case .under(let directory):
            resolver = DataFileResolver(baseDirectory: directory, declared: unit.vector.dataFiles, inline: unit.data, reading: .confined)
        }
        var data = try resolver.templateData(for: unit.vector, environment: unit.env ?? [:])
        data.workerID = workerID
        for type in unit.vector.requestTypes {
            for step in type.flowSteps { for name in step.capture.keys.sorted() { _ = data.variableSlot(name) } }
        }
        self.data = data
        var requests: [CompiledRequest] = []
        var firstStep: [Int] = []
        for type in unit.vector.requestTypes {
            firstStep.append(requests.count)
            for step in type.flowSteps {
                let compiled = try CompiledRequest(step, name: type.metricName(ofStep: step), thinkTime: type.thinkTimeMs, baseURL: unit.baseURL, data: data, options: options)
                if type.steps != nil && requests.count > firstStep[firstStep.count - 1] { requests[requests.count - 1].next = requests.count }
                requests.append(compiled)
            }
        }
        self.requests = requests
        self.firstStep = firstStep
        isFlow = unit.vector.requestTypes.map { $0.steps != nil }
        cookies = unit.vector.cookies
        alias = AliasTable(weights: unit.vector.requestTypes.map(\.frequency))
        metrics = Array(repeating: RequestMetrics(), count: requests.count)
        random = SeededGenerator(seed: unit.seed)
        openContext = RenderContext(seed: unit.seed &+ 0x5EED, userIndex: unit.firstUserIndex, data: data)
        openContext.variables = Array(repeating: nil, count: data.variables.count)
        switch unit.load {
        case .open(_, _, let cap):
            inFlightCap = cap ?? options.maxInFlight
            connectionCap = min(options.connections, inFlightCap)
        case .closed(let count):
            inFlightCap = count
            connectionCap = count
        }
    }

    private var isCancelled: Bool { cancellation.isCancelled || (alsoCancelledBy?.isCancelled ?? false) }

    /// Runs the unit to its end on the calling thread: on `engine`'s loop (with the units it already hosts,
    /// over its connections), or on a loop of its own.
    public func run(on engine: Engine? = nil) -> Report {
        if let engine { return engine.runAlone(self) }
        guard let own = try? Engine() else {
            return Report(late: false, cancelled: false, requestsTotal: 0, cpuSeconds: 0, peakRSSBytes: ProcessStats.peakResidentBytes())
        }
        return own.runAlone(self)
    }

    // MARK: On the engine's loop

    /// The unit arrives on `engine`'s loop. - Returns: its report when it came after its deadline (not run).
    func attach(to engine: Engine) -> Report? {
        self.engine = engine
        pool = engine.pool(for: options)
        cpuAtStart = ProcessStats.cpuSeconds()
        if MonotonicClock.unixMsNow() > unit.deadlineMs {
            return Report(late: true, cancelled: false, requestsTotal: 0, cpuSeconds: 0, peakRSSBytes: ProcessStats.peakResidentBytes())
        }
        startNs = MonotonicClock.monotonic(unixMs: unit.startMs)
        endNs = startNs + UInt64(unit.durationSec * 1e9)
        return nil
    }

    /// Between its start and the end of its window (not draining).
    var isRunningWindow: Bool { started && stopAt == nil }

    /// Cancels the unit at once (the engine is shutting down).
    func cancelNow() { cancellation.cancel() }

    /// Starts, launches what is due, ends the window, emits the second, drains: whatever `now` calls for.
    func advance(_ now: UInt64) {
        guard report == nil else { return }
        if !started {
            if isCancelled {
                report = Report(late: false, cancelled: true, requestsTotal: 0, cpuSeconds: 0, peakRSSBytes: ProcessStats.peakResidentBytes())
                return
            }
            // A closed-model unit starts once the unit before it (same run and vector) has ended its
            // window, so the users it hands over are there.
            guard now >= startNs, !(isClosed && engine.hasPredecessor(of: self)) else { return }
            started = true
            cpuAtEmit = ProcessStats.cpuSeconds()
            // Deltas cover whole Unix seconds, so deltas from several workers line up.
            nextEmit = MonotonicClock.monotonic(unixMs: (MonotonicClock.unixMs(startNs) / 1000 + 1) * 1000)
            setUpLoad(start: startNs)
        }
        if stopAt == nil && (now >= endNs || isCancelled) {
            cancelled = isCancelled && now < endNs
            stopAt = now
            cancelWaiting()
            if !cancelled {
                handOverSleepingUsers()
                // Users with a request in flight rest when it ends; the next unit waits for them.
                for transfer in activeTransfers.values where transfer.user >= 0 { engine.inFlight.insert(key(transfer.user)) }
            }
        }
        if stopAt == nil { adoptAwaitedUsers(now); launchDue(now) }
        emitIfDue(now)
    }

    /// After the loop's completions: launches into freed connections, and ends a drained unit.
    func afterCompletions(_ now: UInt64) {
        guard started, report == nil else { return }
        if stopAt == nil { launchDue(now) }
        emitIfDue(now)
        guard let stopAt else { return }
        if active == 0 || now >= stopAt + drainNs {
            if active > 0 { cancelActive() }
            emit(second: MonotonicClock.unixMs(MonotonicClock.now()) / 1000, cpuAt: &cpuAtEmit)
            report = Report(
                late: false, cancelled: cancelled, requestsTotal: requestsTotal, cpuSeconds: ProcessStats.cpuSeconds() - cpuAtStart,
                peakRSSBytes: ProcessStats.peakResidentBytes())
        }
    }

    /// When the loop must look at this unit again.
    func wake(_ now: UInt64) -> UInt64 {
        guard started else { return startNs }
        var wake = nextEmit
        if let stopAt {
            wake = min(wake, stopAt + drainNs)
        } else {
            wake = min(wake, nextLaunch(), endNs)
            if !awaited.isEmpty { wake = min(wake, now + 5_000_000) }
        }
        return wake
    }

    /// How long requests in flight may finish after the window: the engine's drain, at most 1 s when cancelled.
    private var drainNs: UInt64 { UInt64((cancelled ? min(options.drainSec, 1) : options.drainSec) * 1e9) }

    /// A user the unit before this one left resting goes on in this unit (not before `earliest`).
    /// - Returns: false when there is none.
    private func takeResting(_ user: Int, earliest: UInt64) -> Bool {
        guard let resting = engine.resting.removeValue(forKey: key(user)) else { return false }
        users[user] = resting.user
        // A new version of the vector may have other steps: a user mid-flow there starts a new iteration.
        if let next = users[user].next, next >= requests.count { users[user].next = nil }
        if users[user].context.variables.count != data.variables.count {
            users[user].context.variables = Array(repeating: nil, count: data.variables.count)
        }
        sleeping.push(max(resting.wake, earliest), user)
        return true
    }

    private func emitIfDue(_ now: UInt64) {
        if now >= nextEmit {
            emit(second: MonotonicClock.unixMs(nextEmit) / 1000 - 1, cpuAt: &cpuAtEmit)
            nextEmit += 1_000_000_000
        }
    }

    private var isClosed: Bool {
        if case .closed = unit.load { return true }
        return false
    }

    private func key(_ user: Int) -> Engine.UserKey {
        Engine.UserKey(runID: unit.runID, vectorIndex: vectorIndex, user: unit.firstUserIndex + user)
    }

    /// The window ended: users thinking go on in the next unit of this run and vector.
    private func handOverSleepingUsers() {
        guard isClosed else { return }
        while let (wake, user) = sleeping.pop() { engine.resting[key(user)] = .init(wake: wake, user: users[user]) }
    }

    /// Users the unit before this one still had in flight at its end: taken once they rest, or started
    /// afresh if that unit cancelled them.
    private func adoptAwaitedUsers(_ now: UInt64) {
        guard !awaited.isEmpty else { return }
        awaited.removeAll { user in
            if takeResting(user, earliest: now) { return true }
            if !engine.inFlight.contains(key(user)) {
                sleeping.push(now, user)
                return true
            }
            return false
        }
    }

    // MARK: Launching

    private func setUpLoad(start: UInt64) {
        switch unit.load {
        case .open(let rate, let process, _):
            var arrivals = ArrivalSchedule(rate: rate, rampSeconds: unit.rampUpSec, process: process, from: unit.rampFrom, shape: unit.rateShape)
            nextArrival = start + UInt64(arrivals.next(&random) * 1e9)
            schedule = arrivals
            startTime = start
        case .closed(let count):
            users.reserveCapacity(count)
            for i in 0..<count {
                users.append(VirtualUser(seed: unit.seed &+ UInt64(i) &* 0x9E37_79B9, userIndex: unit.firstUserIndex + i, data: data))
                // A user the unit before this one handed over goes on where it was.
                if takeResting(i, earliest: start) { continue }
                if engine.inFlight.contains(key(i)) {
                    awaited.append(i)
                    continue
                }
                // Users join evenly over the ramp-up: user i at ramp × i / count (those below the
                // unit's starting share at once).
                let share = Double(i) / Double(count)
                let offset = unit.rampFrom >= 1 ? 0 : unit.rampUpSec * max(0, (share - unit.rampFrom) / (1 - unit.rampFrom))
                sleeping.push(start + UInt64(offset * 1e9), i)
            }
        }
    }

    private var startTime: UInt64 = 0

    private func nextLaunch() -> UInt64 {
        switch unit.load {
        case .open: return waiting.isEmpty || active >= connectionCap ? min(nextArrival, sessionSleeping.earliest ?? .max) : 0
        case .closed: return sleeping.earliest ?? .max
        }
    }

    private func launchDue(_ now: UInt64) {
        switch unit.load {
        case .open:
            // Flow iterations whose think time is over go on with their next step.
            while let earliest = sessionSleeping.earliest, earliest <= now, let (wake, session) = sessionSleeping.pop(), let next = sessions[session].next {
                metrics[next].intended += 1
                waiting.append((wake, next, session))
            }
            while nextArrival <= now, var arrivals = schedule {
                let type = alias.pick(&random)
                let request = firstStep[type]
                metrics[request].intended += 1
                if active + waiting.count >= inFlightCap {
                    metrics[request].outcomes[.dropped] += 1
                    requestsTotal += 1
                } else {
                    waiting.append((nextArrival, request, isFlow[type] ? openSession() : -1))
                }
                nextArrival = startTime + UInt64(arrivals.next(&random) * 1e9)
                schedule = arrivals
            }
            while !waiting.isEmpty, active < connectionCap, let transfer = takeTransfer() {
                let (intended, request, session) = waiting.popFirst()!
                transfer.session = session
                if session >= 0 {
                    start(transfer, request: request, intended: intended, user: &sessions[session])
                } else {
                    start(transfer, request: request, intended: intended, context: &openContext, jar: nil)
                }
            }
        case .closed:
            while let earliest = sleeping.earliest, earliest <= now, let (wake, user) = sleeping.pop() {
                guard let transfer = engine.takeTransfer(pool: pool) else { continue }
                transfer.user = user
                let request = users[user].next ?? firstStep[alias.pick(&users[user].context.random)]
                metrics[request].intended += 1
                start(transfer, request: request, intended: wake, user: &users[user])
            }
        }
    }

    private func takeTransfer() -> Transfer? {
        guard active < connectionCap else { return nil }
        return engine.takeTransfer(pool: pool)
    }

    /// A session for an open-model arrival of a flow: a virtual user of its own for the iteration.
    private func openSession() -> Int {
        sessionsMade &+= 1
        let user = VirtualUser(seed: unit.seed &+ 0xF10 &+ sessionsMade &* 0x9E37_79B9, userIndex: unit.firstUserIndex &+ Int(truncatingIfNeeded: sessionsMade), data: data)
        if let slot = freeSessions.popLast() {
            sessions[slot] = user
            return slot
        }
        sessions.append(user)
        return sessions.count - 1
    }

    private func start(_ transfer: Transfer, request: Int, intended: UInt64, user: inout VirtualUser) {
        start(transfer, request: request, intended: intended, context: &user.context, jar: cookies ? user.jar : nil)
    }

    private func start(_ transfer: Transfer, request type: Int, intended: UInt64, context: inout RenderContext, jar: CookieJar?) {
        context.nowMs = MonotonicClock.unixMs(intended)
        let request = requests[type]
        transfer.keep(body: request.check?.needsBody ?? false, headers: request.check?.needsHeaders ?? false, cookies: jar != nil)
        let emptyBefore = context.emptyVariableRenders
        request.prepare(transfer, context: &context, scratch: &scratch)
        if context.emptyVariableRenders != emptyBefore { metrics[type].emptyVariables &+= 1 }
        // Data rows stay the same through a flow's steps: the next iteration moves on.
        if request.next == nil { context.nextIteration(data: data) }
        if let jar {
            transfer.sendCookies(jar.isEmpty ? nil : RequestURL(String(decoding: transfer.url, as: UTF8.self)).flatMap { jar.header(for: $0, nowMs: context.nowMs) })
        } else {
            transfer.sendCookies(nil)
        }
        transfer.typeIndex = type
        transfer.intendedNs = intended
        transfer.load = self
        let now = MonotonicClock.now()
        transfer.sentNs = now
        do {
            try engine.multi.add(transfer)
        } catch {
            record(type: type, outcome: .other, curlCode: -1, latencyNs: 0)
            release(transfer, now: now)
            return
        }
        active += 1
        activeTransfers[ObjectIdentifier(transfer)] = transfer
        let lag = (now &- intended) / 1000
        metrics[type].sent += 1
        metrics[type].lagSumMicros &+= lag
        metrics[type].lagMaxMicros = max(metrics[type].lagMaxMicros, lag)
        if lag > RequestMetrics.lateThresholdMicros { metrics[type].late += 1 }
    }

    // MARK: Completion

    func finish(_ transfer: Transfer, _ code: CURLcode, now: UInt64) {
        active -= 1
        activeTransfers[ObjectIdentifier(transfer)] = nil
        let type = transfer.typeIndex
        let status = code == CURLE_OK ? transfer.responseCode : 0
        var outcome = code == CURLE_OK ? Outcome.forStatus(status) : Self.classify(code)
        var failure: String?
        if code == CURLE_OK { (outcome, failure) = checkResponse(transfer, outcome: outcome, now: now) }
        if outcome.isError || outcome == .status4xx || outcome == .status5xx {
            let message = failure ?? (code == CURLE_OK ? "HTTP \(status)" : transfer.errorText(code))
            samples.note(ErrorSample(requestType: requests[type].name, outcome: outcome.key, status: code == CURLE_OK ? status : nil,
                                     message: message, body: transfer.bodyHeadText))
        }
        metrics[type].bytesIn &+= transfer.bytesIn
        metrics[type].bytesOut &+= transfer.bytesOut
        if code == CURLE_OK { metrics[type].recordPhases(transfer.phases) }
        record(type: type, outcome: outcome, curlCode: outcome == .other && code != CURLE_OK ? Int32(code.rawValue) : nil, latencyNs: now &- transfer.intendedNs)
        release(transfer, now: now)
    }

    private func record(type: Int, outcome: Outcome, curlCode: Int32?, latencyNs: UInt64) {
        metrics[type].outcomes[outcome] += 1
        metrics[type].completed += 1
        metrics[type].latency.record(latencyNs / 1000)
        if let curlCode { metrics[type].curlErrors[curlCode, default: 0] += 1 }
        requestsTotal += 1
    }

    /// Cookies the response set go in its user's jar; its step's expectations are checked and its captures
    /// stored. - Returns: the outcome: `check` when an expectation failed or a capture found nothing.
    private func checkResponse(_ transfer: Transfer, outcome: Outcome, now: UInt64) -> (Outcome, String?) {
        let request = requests[transfer.typeIndex]
        if cookies, !transfer.setCookies.isEmpty, let url = RequestURL(transfer.effectiveURL) {
            let nowMs = MonotonicClock.unixMs(now)
            withUser(of: transfer) { user in
                for header in transfer.setCookies { user.jar.store(setCookie: header, url: url, nowMs: nowMs) }
            }
        }
        guard let check = request.check else { return (outcome, nil) }
        var failure: String?
        let status = transfer.responseCode
        withUser(of: transfer) { user in
            failure = check.evaluate(status: status, body: transfer.responseBody, headers: transfer.responseHeaders, jar: cookies ? user.jar : nil,
                                     elapsedNs: now &- transfer.sentNs, variables: &user.context.variables)
        }
        return failure == nil ? (outcome, nil) : (.check, failure)
    }

    /// Runs `body` on the virtual user a transfer belongs to: its closed-model user, its open-model session, or
    /// the open model's shared state for single requests.
    private func withUser(of transfer: Transfer, _ body: (inout VirtualUser) -> Void) {
        if transfer.user >= 0 {
            body(&users[transfer.user])
        } else if transfer.session >= 0 {
            body(&sessions[transfer.session])
        } else {
            var shared = VirtualUser(context: openContext)
            body(&shared)
            openContext = shared.context
        }
    }

    /// Hands a finished transfer back to the engine, and its user (closed model) to its think time: in this
    /// unit, or, when this unit's window has ended, in the next one of its run and vector. An open-model flow
    /// iteration thinks, then goes on with its next step, or ends.
    private func release(_ transfer: Transfer, now: UInt64) {
        let user = transfer.user
        let session = transfer.session
        let type = transfer.typeIndex
        engine.giveBack(transfer)
        if session >= 0 {
            if stopAt == nil, let next = requests[type].next {
                sessions[session].next = next
                sessionSleeping.push(now + requests[type].thinkNanos(&sessions[session].context.random), session)
            } else {
                freeSessions.append(session)
            }
            return
        }
        guard user >= 0 else { return }
        users[user].next = requests[type].next
        let think = requests[type].thinkNanos(&users[user].context.random)
        if stopAt == nil {
            sleeping.push(now + think, user)
        } else {
            engine.inFlight.remove(key(user))
            if !cancelled { engine.resting[key(user)] = .init(wake: now + think, user: users[user]) }
        }
    }

    /// Arrivals still waiting for a connection when the window closes were never sent.
    private func cancelWaiting() {
        while let (_, type, session) = waiting.popFirst() {
            metrics[type].outcomes[.cancelled] += 1
            metrics[type].completed += 1
            requestsTotal += 1
            if session >= 0 { freeSessions.append(session) }
        }
        // Flow iterations thinking when the window closes end there (their next steps were never due).
        while let (_, session) = sessionSleeping.pop() { freeSessions.append(session) }
    }

    /// Requests still in flight at the hard deadline are cancelled and counted; their users start afresh.
    private func cancelActive() {
        for transfer in activeTransfers.values {
            engine.multi.remove(transfer)
            metrics[transfer.typeIndex].outcomes[.cancelled] += 1
            metrics[transfer.typeIndex].completed += 1
            requestsTotal += 1
            if transfer.user >= 0 { engine.inFlight.remove(key(transfer.user)) }
            engine.giveBack(transfer)
        }
        activeTransfers.removeAll()
        active = 0
    }

    private func emit(second: Int64, cpuAt: inout Double) {
        let cpu = ProcessStats.cpuSeconds()
        var deltas: [String: RequestDelta] = [:]
        for (index, request) in requests.enumerated() where !metrics[index].isEmpty {
            deltas[request.name] = RequestDelta(metrics[index])
            metrics[index].reset()
        }
        sink(MetricsDelta(second: second, requestTypes: deltas, cpuSeconds: cpu - cpuAt, rssBytes: ProcessStats.residentBytes(), errorSamples: samples))
        samples.removeAll(keepingCapacity: true)
        cpuAt = cpu
    }

    /// The outcome class of a curl error.
    static func classify(_ code: CURLcode) -> Outcome {
        switch code {
        case CURLE_OPERATION_TIMEDOUT: return .timeout
        case CURLE_COULDNT_CONNECT: return .connect
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .dns
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED:
            return .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return .reset
        default: return .other
        }
    }
}

// @unchecked Sendable: a unit is made on one thread and handed to one engine loop, which alone uses it
// from then on.
extension UnitExecutor: @unchecked Sendable {}

/// A virtual user's state: its templates' state and captured variables, where it is in its flow, its cookies.
struct VirtualUser {
    var context: RenderContext
    /// The request (an index into the unit's requests) of its flow's next step; nil starts a new iteration.
    var next: Int?
    var jar = CookieJar()

    init(seed: UInt64, userIndex: Int, data: TemplateData) {
        context = RenderContext(seed: seed, userIndex: userIndex, data: data)
        context.variables = Array(repeating: nil, count: data.variables.count)
    }

    init(context: RenderContext) { self.context = context }
}
