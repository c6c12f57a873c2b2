import ALVDashboard
import ALVModel
import ALVPrometheus
import ALVRun
import ALVStore
import ArgumentParser
import Foundation

/// Prometheus beside a run: where its series go (remote write) and which of the target's metrics to scrape.
struct PrometheusFlags: ParsableArguments {
    @Option(name: .customLong("remote-write"), help: ArgumentHelp("Send the run's series to this Prometheus remote-write URL once a second (overrides the profile's remote_write).", valueName: "URL"))
    var remoteWrite: String?

    func validate() throws {
        if let remoteWrite, let problem = ProfileValidator.httpURLProblem(remoteWrite) {
            throw ValidationError("--remote-write expects a URL such as http://127.0.0.1:9090/api/v1/write: \(problem)")
        }
    }

    /// The remote-write URL: the flag, else the profile's.
    func remoteWriteURL(_ plan: RunPlan) -> String? { remoteWrite ?? plan.profile?.remoteWrite }
}

/// What runs beside a run and reports into its summary: the remote writer.
final class RunExports {
    private let writer: RemoteWriter?

    init(flags: PrometheusFlags, plan: RunPlan, feed: LiveFeed, log: @escaping @Sendable (String) -> Void) {
        if let url = flags.remoteWriteURL(plan) {
            let writer = RemoteWriter(.init(url: url), sample: { LiveSeries.current(feed)?.flatMap(\.series) }) { message in
                log(message)
                feed.event(.init(at: isoTimestamp(), kind: "remote_write", detail: ["message": .string(message)]))
            }
            writer.start()
            self.writer = writer
        } else {
            writer = nil
        }
    }

    /// Flushes what is left and puts the counts in the summary (and the stored one).
    func finish(_ summary: inout RunSummary, db: String) {
        guard let writer else { return }
        let counts = writer.finish()
        summary.remoteWrite = .init(url: writer.configuration.url, sent: counts.sent, failed: counts.failed, dropped: counts.dropped)
        if let store = try? MetricsStore(database: try SQLiteDatabase(path: db)), let data = try? summary.jsonData() {
            try? store.updateSummary(summary.runID, summaryJSON: String(decoding: data, as: UTF8.self))
        }
    }
}
