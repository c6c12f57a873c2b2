import ALVTemplates
import Foundation

/// Checks an ALV profile file and builds the model, reporting every problem at once.
public enum ProfileValidator {
    static let fields = [
        "$schema", "profile_id", "name", "description", "start_time", "duration_sec", "vector_sequence",
        "transition_delay_sec", "adjustment", "scaling", "thresholds", "remote_write", "observe",
    ]
    static let adjustmentFields = [
        "error_rate_threshold", "window_sec", "consecutive_windows", "action", "p99_ms_threshold", "count_4xx", "skip_known_bad",
    ]
    static let scalingFields = [
        "mode", "min_workers", "max_workers", "target_utilization", "scale_out_threshold", "scale_in_threshold", "cooldown_sec",
        "capacity_per_worker", "users_per_worker", "forecast_level", "margin_sec", "forecast_only", "scale_in_hold_sec", "max_under_provisioned_share",
    ]

    /// Validates the JSON text of a profile.
    /// - Parameters:
    ///   - knownVectors: vector ids in the repository; nil skips that check.
    public static func validate(_ bytes: [UInt8], file: String?, knownVectors: Set<String>?) -> Validated<ALVProfile> {
        var sink = DiagnosticSink(file: file)
        guard let root = sink.parse(bytes) else { return Validated(model: nil, diagnostics: sink.diagnostics, document: nil) }
        let model = read(root, sink: &sink, knownVectors: knownVectors)
        return Validated(model: sink.diagnostics.hasErrors ? nil : model, diagnostics: sink.diagnostics, document: root)
    }

    public static func validateFile(atPath path: String, knownVectors: Set<String>?) -> Validated<ALVProfile> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return Validated(model: nil, diagnostics: [Diagnostic(file: path, path: "$", position: nil, message: VectorValidator.unreadable(path))], document: nil)
        }
        return validate(Array(data), file: path, knownVectors: knownVectors)
    }

    static func read(_ root: JSONNode, sink: inout DiagnosticSink, knownVectors: Set<String>?) -> ALVProfile? {
        let path = JSONPath.root
        guard let f = sink.object(root, at: path, allowed: fields, required: ["profile_id", "name", "duration_sec", "vector_sequence"], what: "an ALV profile")
        else { return nil }
        let before = sink.diagnostics.errors.count
        let profileID = sink.identifier(f["profile_id"], at: path.appending("profile_id"))
        let name = sink.string(f["name"], at: path.appending("name"))
        let description = sink.string(f["description"], at: path.appending("description"), nonEmpty: false)
        var startTime: StartTime? = .now
        if let node = f["start_time"], let text = sink.string(node, at: path.appending("start_time")) {
            startTime = StartTime.parse(text)
            if startTime == nil {
                sink.error(path.appending("start_time"), node, "expected \"now\" or an ISO 8601 instant with a time zone such as \"2026-12-01T09:00:00Z\", found \"\(text)\"")
            }
        }
        let duration = sink.number(f["duration_sec"], at: path.appending("duration_sec"), minimum: 0, minimumExclusive: true, maximum: 86_400 * 30, what: "seconds (a number)")
        let delay = f["transition_delay_sec"] == nil
            ? 0 : sink.number(f["transition_delay_sec"], at: path.appending("transition_delay_sec"), minimum: 0, maximum: 86_400, what: "seconds (a number)")

        var sequence: [String] = []
        if let node = f["vector_sequence"] {
            let listPath = path.appending("vector_sequence")
            if let elements = node.elements {
                if elements.isEmpty { sink.error(listPath, node, "expected at least one vector id, found an empty array") }
                for (index, element) in elements.enumerated() {
                    guard let id = sink.identifier(element, at: listPath.appending(index)) else { continue }
                    if let knownVectors, !knownVectors.contains(id) {
                        let hint = closestName(to: id, among: Array(knownVectors)).map { " (did you mean \"\($0)\"?)" } ?? ""
                        let known = knownVectors.isEmpty ? "the repository holds no vectors" : "known: \(knownVectors.sorted().joined(separator: ", "))"
                        sink.error(listPath.appending(index), element, "unknown vector \"\(id)\"\(hint); add it with `alv vector add` first (\(known))")
                    }
                    sequence.append(id)
                }
            } else {
                sink.error(listPath, node, "expected an array of vector ids, found \(node.found)")
            }
        }
        let adjustment = f["adjustment"].flatMap { readAdjustment($0, at: path.appending("adjustment"), sink: &sink) }
        let scaling = f["scaling"].flatMap { readScaling($0, at: path.appending("scaling"), sink: &sink) }
        let thresholds = f["thresholds"].map { VectorValidator.readThresholds($0, at: path.appending("thresholds"), sink: &sink) } ?? []
        let remoteWrite = f["remote_write"].flatMap { node -> String? in
            let at = path.appending("remote_write")
            guard let text = sink.string(node, at: at) else { return nil }
            guard let problem = httpURLProblem(text) else { return text }
            sink.error(at, node, "expected a remote-write URL such as \"http://127.0.0.1:9090/api/v1/write\": \(problem)")
            return nil
        }
        let observe = f["observe"].flatMap { readObserve($0, at: path.appending("observe"), sink: &sink) }

        guard sink.diagnostics.errors.count == before, let profileID, let name, let startTime, let duration, let delay else { return nil }
        return ALVProfile(
            profileID: profileID, name: name, description: description, startTime: startTime, durationSec: duration,
            vectorSequence: sequence, transitionDelaySec: delay, adjustment: adjustment, scaling: scaling, thresholds: thresholds,
            remoteWrite: remoteWrite, observe: observe)
    }

    /// Why `text` is not an http(s) URL with a host, or nil when it is one.
    public static func httpURLProblem(_ text: String) -> String? {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased() else { return "\"\(text)\" is not a URL" }
        guard scheme == "http" || scheme == "https" else { return "the scheme is \"\(scheme)\", not http or https" }
        guard let host = url.host, !host.isEmpty else { return "\"\(text)\" names no host" }
        return nil
    }

    /// A Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    public static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, first == "_" || first == ":" || first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0 == ":" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }

    static func readObserve(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink) -> ALVProfile.Observe? {
        guard let f = sink.object(node, at: path, allowed: ["prometheus", "metrics"], required: ["prometheus"], what: "scrape targets") else { return nil }
        let before = sink.diagnostics.errors.count
        func strings(_ key: String, check: (String) -> String?) -> [String] {
            guard let list = f[key] else { return [] }
            guard let elements = list.elements else {
                sink.error(path.appending(key), list, "expected an array of strings, found \(list.found)")
                return []
            }
            var out: [String] = []
            for (i, element) in elements.enumerated() {
                guard let text = sink.string(element, at: path.appending(key).appending(i)) else { continue }
                if let problem = check(text) { sink.error(path.appending(key).appending(i), element, problem) } else { out.append(text) }
            }
            return out
        }
        let urls = strings("prometheus") { text in
            httpURLProblem(text).map { "expected a metrics URL such as \"http://127.0.0.1:9100/metrics\": \($0)" }
        }
        if let list = f["prometheus"], list.elements?.isEmpty == true { sink.error(path.appending("prometheus"), list, "expected at least one metrics URL, found an empty array") }
        let metrics = strings("metrics") { isMetricName($0) ? nil : "expected a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), found \"\($0)\"" }
        guard sink.diagnostics.errors.count == before else { return nil }
        return ALVProfile.Observe(prometheus: urls, metrics: metrics)
    }

    static func readAdjustment(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink) -> Adjustment? {
        guard let f = sink.object(node, at: path, allowed: adjustmentFields, required: [], what: "an adjustment") else { return nil }
        let d = Adjustment()
        let before = sink.diagnostics.errors.count
        let rate = f["error_rate_threshold"] == nil ? d.errorRateThreshold
            : sink.number(f["error_rate_threshold"], at: path.appending("error_rate_threshold"), minimum: 0, minimumExclusive: true, maximum: 1, what: "a share between 0 and 1")
        let window = f["window_sec"] == nil ? d.windowSec
            : sink.number(f["window_sec"], at: path.appending("window_sec"), minimum: 0, minimumExclusive: true, maximum: 3600, what: "seconds (a number)")
        let windows = f["consecutive_windows"] == nil ? d.consecutiveWindows
            : sink.integer(f["consecutive_windows"], at: path.appending("consecutive_windows"), minimum: 1, maximum: 1000)
        let action = f["action"] == nil ? d.action.rawValue
            : sink.oneOf(f["action"], at: path.appending("action"), Adjustment.Action.allCases.map(\.rawValue))
        let p99 = sink.number(f["p99_ms_threshold"], at: path.appending("p99_ms_threshold"), minimum: 0, minimumExclusive: true, what: "milliseconds (a number)")
        let count4xx = f["count_4xx"] == nil ? false : sink.bool(f["count_4xx"], at: path.appending("count_4xx"))
        let skip = f["skip_known_bad"] == nil ? 0 : sink.integer(f["skip_known_bad"], at: path.appending("skip_known_bad"), minimum: 0, maximum: 1000)
        guard sink.diagnostics.errors.count == before, let rate, let window, let windows, let action, let count4xx, let skip,
            let parsedAction = Adjustment.Action(rawValue: action)
        else { return nil }
        return Adjustment(
            errorRateThreshold: rate, windowSec: window, consecutiveWindows: windows, action: parsedAction,
            p99MsThreshold: p99, count4xx: count4xx, skipKnownBad: skip)
    }

    static func readScaling(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink) -> Scaling? {
        guard let f = sink.object(node, at: path, allowed: scalingFields, required: ["mode"], what: "a scaling policy") else { return nil }
        let d = Scaling(mode: .fixed)
        let before = sink.diagnostics.errors.count
        let mode = sink.oneOf(f["mode"], at: path.appending("mode"), Scaling.Mode.allCases.map(\.rawValue))
        let minimum = f["min_workers"] == nil ? d.minWorkers : sink.integer(f["min_workers"], at: path.appending("min_workers"), minimum: 0, maximum: 10_000)
        let maximum = f["max_workers"] == nil ? d.maxWorkers : sink.integer(f["max_workers"], at: path.appending("max_workers"), minimum: 1, maximum: 10_000)
        func share(_ key: String, _ fallback: Double) -> Double? {
            f[key] == nil ? fallback : sink.number(f[key], at: path.appending(key), minimum: 0, minimumExclusive: true, maximum: 1, what: "a share between 0 and 1")
        }
        let target = share("target_utilization", d.targetUtilization)
        let out = share("scale_out_threshold", d.scaleOutThreshold)
        let scaleIn = share("scale_in_threshold", d.scaleInThreshold)
        let cooldown = f["cooldown_sec"] == nil ? d.cooldownSec : sink.number(f["cooldown_sec"], at: path.appending("cooldown_sec"), minimum: 0, maximum: 86_400, what: "seconds (a number)")
        let capacity = f["capacity_per_worker"].map { sink.number($0, at: path.appending("capacity_per_worker"), minimum: 0, minimumExclusive: true, maximum: 10_000_000, what: "requests per second (a number above 0)") }
        let users = f["users_per_worker"] == nil ? d.usersPerWorker : sink.integer(f["users_per_worker"], at: path.appending("users_per_worker"), minimum: 1, maximum: 1_000_000)
        let level = f["forecast_level"] == nil ? d.forecastLevel : sink.number(f["forecast_level"], at: path.appending("forecast_level"), minimum: 50, maximum: 99.9, what: "a percentage between 50 and 99.9")
        let margin = f["margin_sec"] == nil ? d.marginSec : sink.number(f["margin_sec"], at: path.appending("margin_sec"), minimum: 0, maximum: 3600, what: "seconds (a number)")
        let hold = f["scale_in_hold_sec"].map { sink.number($0, at: path.appending("scale_in_hold_sec"), minimum: 0, maximum: 86_400, what: "seconds (a number)") }
        let budget = f["max_under_provisioned_share"] == nil ? d.maxUnderProvisionedShare
            : sink.number(f["max_under_provisioned_share"], at: path.appending("max_under_provisioned_share"), minimum: 0, maximum: 0.5,
                          what: "a share of the arrivals (0.005 is one in 200; 0 turns the budget off)")
        let forecastOnly = f["forecast_only"] == nil ? d.forecastOnly : sink.bool(f["forecast_only"], at: path.appending("forecast_only"))
        if let minimum, let maximum, minimum > maximum {
            sink.error(path.appending("min_workers"), f["min_workers"] ?? node, "expected min_workers ≤ max_workers (\(maximum)), found \(minimum)")
        }
        if let out, let scaleIn, scaleIn >= out {
            sink.error(path.appending("scale_in_threshold"), f["scale_in_threshold"] ?? node, "expected scale_in_threshold below scale_out_threshold (\(out)), found \(scaleIn)")
        }
        guard sink.diagnostics.errors.count == before, let mode, let parsedMode = Scaling.Mode(rawValue: mode), let minimum, let maximum,
            let target, let out, let scaleIn, let cooldown, let users, let level, let margin, let forecastOnly, let budget
        else { return nil }
        return Scaling(
            mode: parsedMode, minWorkers: minimum, maxWorkers: maximum, targetUtilization: target, scaleOutThreshold: out,
            scaleInThreshold: scaleIn, cooldownSec: cooldown, capacityPerWorker: capacity ?? nil, usersPerWorker: users,
            forecastLevel: level, marginSec: margin, forecastOnly: forecastOnly, scaleInHoldSec: hold ?? nil, maxUnderProvisionedShare: budget)
    }
}
