import ALVLifecycle
import ALVMetrics
import ALVProtocol
import ALVRun
import Foundation

extension Broker {
    /// Executes `plan` on the connected workers and returns the summary.
    ///
    /// The run exists (advertised to planners, a `running` row in the store) only from the moment its row is
    /// written to the moment this returns; if anything before fails, nothing is advertised, and if the run
    /// fails after, its row ends `failed`.
    /// - Parameters:
    ///   - options: the run's HTTP settings, carried by every unit (reissued ones too).
    ///   - onSecond: each complete second once, in order: the second (epoch), what runs, its merged metrics.
    /// - Throws: `BrokerError.store` when the run's row cannot be written or read.
    public func execute(
        _ plan: RunPlan, options: EngineOptions, seed: UInt64, cancellation: CancellationFlag,
        onSecond: ((Int64, RunStatus?, RequestMetrics) -> Void)? = nil
    ) throws -> RunSummary {
        let runID = InProcessRunner.makeRunID()
        let skipped: Set<String>
        do {
            skipped = try knownBadVectors(plan)
            let planJSON = String(decoding: try JSONEncoder().encode(plan.steps.map(\.vector)), as: UTF8.self)
            try recorder?.beginRun(runID, target: plan.target, profileID: plan.profile?.profileID, planJSON: planJSON)
        } catch {
            throw BrokerError.store("cannot start run \(runID): \(error)")
        }
        let lead = configuration.leadSeconds
        let scheduler = UnitScheduler(
            runID: runID, target: plan.target, env: plan.env, options: options, seed: seed, lead: lead,
            send: { [sockets] message in
                do { return try sockets.send(message) ? nil : "no worker ready (send queue full)" } catch { return "\(error)" }
            },
            event: { [unowned self] kind, detail in event(kind, detail) })
        let session = RunSession(runID: runID, plan: plan, scheduler: scheduler, gapsAtStart: metricsGaps, onSecond: onSecond)
        self.session = session
        defer {
            self.session = nil
            // Planners learn at once that the run is over, before its workers are retired.
            sockets.publish(aggregate(Date()))
            lastAggregate = Date()
        }
        do {
            return try drive(session, plan: plan, options: options, skipped: skipped, cancellation: cancellation)
        } catch let failure as StoreWriteFailure {
            throw failure
        } catch {
            try? recorder?.endRun(runID, status: "failed", summaryJSON: nil)
            throw error
        }
    }

    private func knownBadVectors(_ plan: RunPlan) throws -> Set<String> {
        guard let recorder, let profile = plan.profile, let runs = profile.adjustment?.skipKnownBad, runs > 0 else { return [] }
        return try recorder.shortenedVectors(profileID: profile.profileID, lastRuns: runs)
    }

    private func drive(_ session: RunSession, plan: RunPlan, options: EngineOptions, skipped: Set<String>, cancellation: CancellationFlag) throws -> RunSummary {
        let runID = session.runID
        onStart?(runID)
        event("run_started", ["run_id": .string(runID), "workers": .string(String(liveWorkers.count))])
        for early in eventsBeforeRun {
            session.record(early)
            recorder?.event(run: runID, early)
        }
        eventsBeforeRun.removeAll()
        let unitLength = configuration.unitSeconds
        let lead = configuration.leadSeconds
        var timeline = ProfileTimeline(plan: plan, knownBad: skipped)
        timeline.observer = onEvent
        // Wake a lead before start_time: the first window is sent then and starts on time.
        timeline.waitForStart(cancellation: cancellation, lead: lead) { seconds in
            self.pump(until: Date().addingTimeInterval(max(0, min(seconds, 0.05))))
        }
        // A store that has refused every write for a while ends the run: nothing more of it would be kept.
        func storeEnded() -> Bool { recorder?.health.mustEnd ?? false }
        let runStartSecond = Int64(Date().timeIntervalSince1970.rounded(.up))
        while let slot = timeline.next(now: Date(), cancelled: cancellation.isCancelled || storeEnded(), lead: lead) {
            let step = plan.steps[slot.index]
            let startMs = Int64(slot.start.timeIntervalSince1970 * 1000)
            let endMs = Int64(slot.end.timeIntervalSince1970 * 1000)
            let watch = VectorWatch(adjustment: plan.profile?.adjustment, aborts: AbortThresholds(
                plan: plan, aggregator: session.aggregator, vectorIndex: slot.index, vectorStart: (startMs + 999) / 1000, runStart: runStartSecond))
            session.watching = (slot.index, watch, Int64(slot.start.timeIntervalSince1970))
            session.slotStarts[slot.index] = slot.start
            session.status = { RunStatus(plan: plan, slot: slot) }
            timeline.started(slot)
            var windowStart = startMs
            func stopped() -> Bool { cancellation.isCancelled || watch.decision != nil || storeEnded() }
            while windowStart < endMs && !stopped() {
                let issueAt = Date(timeIntervalSince1970: Double(windowStart) / 1000 - lead)
                while Date() < issueAt && !stopped() { pump(until: min(issueAt, Date().addingTimeInterval(0.05))) }
                if stopped() { break }
                let windowEnd = min(endMs, windowStart + Int64(unitLength * 1000))
                session.scheduler.issue(step: step, vectorIndex: slot.index, vectorStartMs: startMs, from: windowStart, to: windowEnd, epoch: epoch, workers: liveWorkers)
                windowStart = windowEnd
            }
            // Move on a lead before the end, so the next vector's first window is issued in time and starts
            // exactly when this one ends (plus the profile's transition delay).
            let handover = slot.end.addingTimeInterval(-lead)
            while Date() < handover && !stopped() { pump(until: min(handover, Date().addingTimeInterval(0.05))) }
            let ended = stopped() ? Date() : slot.end
            session.watching = nil
            if stopped() {
                // Units of this vector (including any already sent for its next window) stop now.
                sockets.send(ControlMessage(kind: .stopRun, runID: runID, vectorIndex: slot.index, epoch: epoch))
                session.scheduler.stopVector(slot.index)
            }
            if let decision = watch.decision {
                timeline.finish(slot, at: ended, outcome: .adjusted(decision))
            } else if cancellation.isCancelled || storeEnded() {
                timeline.finish(slot, at: ended, outcome: .interrupted)
            } else {
                timeline.finish(slot, at: ended, outcome: .ran)
            }
        }
        for e in timeline.events {
            session.record(e)
            recorder?.event(run: runID, e)
        }
        let runStart = Date().addingTimeInterval(-timeline.elapsed)
        if cancellation.isCancelled || storeEnded() { sockets.send(ControlMessage(kind: .stopRun, runID: runID, epoch: epoch)) }

        // Wait for every unit's last metrics (units drain up to the engine's drain time).
        let drainDeadline = Date().addingTimeInterval(options.drainSec + 3)
        while session.scheduler.open.contains(where: { open in open.holder.map { registry.state(of: $0) != .lost && registry.state(of: $0) != .left } ?? false }) && Date() < drainDeadline {
            pump(until: min(drainDeadline, Date().addingTimeInterval(0.05)))
        }
        pump(until: Date().addingTimeInterval(0.2))
        sockets.send(ControlMessage(kind: .stopRun, runID: runID, epoch: epoch))
        // Messages the broker refused since the previous run ended (no key, a key from elsewhere, one worker
        // speaking for another, malformed or stale), by reason.
        var refused: EventDetail = [:]
        for (reason, count) in dropped where count > droppedReported[reason, default: 0] {
            refused[reason] = .int(count - droppedReported[reason, default: 0])
        }
        droppedReported = dropped
        if !refused.isEmpty { event("messages_refused", refused) }
        let storeFailure = recorder?.health.detail
        if let storeFailure { event("store_write_failed", ["detail": .string(storeFailure), "run_ended": .bool(storeEnded())]) }
        event("run_ended", ["run_id": .string(runID)])
        // The last seconds reach the progress callback too.
        session.reportSeconds(now: Date(), final: true)

        let summary = SummaryBuilder(plan: plan, aggregator: session.aggregator).summary(
            runID: runID, duration: Date().timeIntervalSince(runStart), vectors: timeline.vectors, events: session.events.sorted { $0.at < $1.at },
            loadSeconds: timeline.loadSeconds, workers: workerTable(), metricsGaps: metricsGaps - session.gapsAtStart + session.aggregator.badDeltas,
            aborted: timeline.aborted)
        do {
            try recorder?.endRun(runID, status: summary.status, summaryJSON: String(decoding: try summary.jsonData(), as: UTF8.self))
        } catch {
            throw StoreWriteFailure(summary: summary, detail: (storeFailure.map { $0 + "; " } ?? "") + "ending the run: \(error)")
        }
        if let storeFailure {
            // What failed stayed buffered and is written now; but a run the store ended was cut short.
            if storeEnded() { throw StoreWriteFailure(summary: summary, detail: storeFailure + "; the run was ended") }
            log("run \(runID): \(storeFailure)")
        }
        return summary
    }
}
