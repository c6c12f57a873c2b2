import ALVTemplates
import Foundation

/// Checks a Load Vector file and builds the model, reporting every problem at once.
public enum VectorValidator {
    static let fields = [
        "$schema", "vector_id", "name", "description", "request_types", "ramp_up_time_sec", "duration_sec", "load",
        "thresholds", "data_files", "cookies",
    ]
    static let requestFields = [
        "name", "method", "url", "frequency", "headers", "payload_template", "think_time_ms", "timeout_ms", "expect", "capture", "steps",
    ]
    static let stepFields = ["name", "method", "url", "headers", "payload_template", "timeout_ms", "expect", "capture"]
    static let expectFields = ["status", "body_contains", "json", "max_ms"]
    /// Fields of a single request that a flow sets per step instead.
    static let perStepFields = ["method", "url", "headers", "payload_template", "timeout_ms", "expect", "capture"]
    static let loadFields = ["target_rps", "virtual_users", "arrival", "max_in_flight", "forecast"]
    static let forecastFields = ["history", "prometheus", "horizon_sec", "scale", "model", "time_scale", "level"]

    /// Validates the JSON text of a vector.
    /// - Parameters:
    ///   - bytes: the file's contents.
    ///   - file: the name to put in messages.
    ///   - baseDirectory: where relative data files resolve; the file's directory.
    ///   - environment: what `{{env.NAME}}` is checked against (a missing variable is a warning).
    ///   - reading: which files data files may name (`.confined` for a vector that came over the network).
    public static func validate(
        _ bytes: [UInt8], file: String?, baseDirectory: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment, reading: DataFileResolver.Reading = .anywhere
    ) -> Validated<LoadVector> {
        var sink = DiagnosticSink(file: file)
        guard let root = sink.parse(bytes) else { return Validated(model: nil, diagnostics: sink.diagnostics, document: nil) }
        let model = read(root, sink: &sink, baseDirectory: baseDirectory ?? FileManager.default.currentDirectoryPath, environment: environment, reading: reading)
        return Validated(model: sink.diagnostics.hasErrors ? nil : model, diagnostics: sink.diagnostics, document: root)
    }

    /// Validates a vector file on disk; data files resolve relative to its directory.
    public static func validateFile(atPath path: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Validated<LoadVector> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return Validated(model: nil, diagnostics: [Diagnostic(file: path, path: "$", position: nil, message: unreadable(path))], document: nil)
        }
        return validate(Array(data), file: path, baseDirectory: (path as NSString).deletingLastPathComponent.nonEmpty ?? ".", environment: environment)
    }

    static func read(_ root: JSONNode, sink: inout DiagnosticSink, baseDirectory: String, environment: [String: String], reading: DataFileResolver.Reading) -> LoadVector? {
        let path = JSONPath.root
        guard let fields = sink.object(root, at: path, allowed: fields, required: ["vector_id", "name", "request_types", "duration_sec", "load"], what: "a Load Vector")
        else { return nil }

        let vectorID = sink.identifier(fields["vector_id"], at: path.appending("vector_id"))
        let name = sink.string(fields["name"], at: path.appending("name"))
        let description = sink.string(fields["description"], at: path.appending("description"), nonEmpty: false)
        let rampUp = fields["ramp_up_time_sec"] == nil
            ? 0 : sink.number(fields["ramp_up_time_sec"], at: path.appending("ramp_up_time_sec"), minimum: 0, maximum: 86_400 * 7, what: "seconds (a number)")
        let duration = sink.number(fields["duration_sec"], at: path.appending("duration_sec"), minimum: 0, minimumExclusive: true, maximum: 86_400 * 7, what: "seconds (a number)")
        var forecast: ForecastLoad?
        let load = fields["load"].flatMap { readLoad($0, at: path.appending("load"), sink: &sink, forecast: &forecast) }
        let thresholds = fields["thresholds"].map { readThresholds($0, at: path.appending("thresholds"), sink: &sink) } ?? []
        let dataFiles = fields["data_files"].map { readDataFiles($0, at: path.appending("data_files"), sink: &sink) } ?? [:]
        var resolver = DataFileResolver(baseDirectory: baseDirectory, declared: dataFiles, reading: reading)
        for (name, _) in dataFiles.sorted(by: { $0.key < $1.key }) {
            if case .failure(let problem) = resolver.load(name) {
                sink.error(path.appending("data_files").appending(name), fields["data_files"]?[name], problem.description)
            }
        }

        var requestTypes: [RequestType] = []
        var requestTypesValid = true
        if let node = fields["request_types"] {
            let listPath = path.appending("request_types")
            if let elements = node.elements {
                if elements.isEmpty { sink.error(listPath, node, "expected at least one request type, found an empty array") }
                var seen: [String: Int] = [:]
                for (index, element) in elements.enumerated() {
                    let elementPath = listPath.appending(index)
                    if let request = readRequestType(element, at: elementPath, sink: &sink, resolver: &resolver, environment: environment) {
                        if let first = seen[request.name] {
                            sink.error(elementPath.appending("name"), element["name"], "duplicate request type name \"\(request.name)\" (also request_types[\(first)]); names must be unique")
                        } else {
                            seen[request.name] = index
                        }
                        requestTypes.append(request)
                    } else {
                        requestTypesValid = false
                    }
                }
                if requestTypesValid, !requestTypes.isEmpty {
                    let total = requestTypes.reduce(0) { $0 + $1.frequency }
                    if abs(total - 100) > 0.01 {
                        let parts = requestTypes.map { sink.format($0.frequency) }.joined(separator: " + ")
                        let hint = abs(total - 1) < 0.0001
                            ? " (did you mean percentages? " + requestTypes.map { sink.format(($0.frequency * 100_000).rounded() / 1000) }.joined(separator: " + ") + " = 100)"
                            : ""
                        sink.error(listPath, node, "request type frequencies must sum to 100, found \(parts) = \(sink.format((total * 1000).rounded() / 1000))\(hint)")
                    }
                }
            } else {
                sink.error(listPath, node, "expected an array of request types, found \(node.found)")
            }
        }

        // A tag that names no request type would judge nothing (and pass): refuse it, with the names it could mean.
        if requestTypesValid, !requestTypes.isEmpty, let thresholdNode = fields["thresholds"] {
            let names = requestTypes.flatMap { type in [type.name] + (type.steps ?? []).map { type.metricName(ofStep: $0) } }
            for threshold in thresholds {
                guard let tag = threshold.tag else { continue }
                let known = tag.key == "vector" ? [vectorID ?? ""] : names
                guard !known.contains(tag.value) else { continue }
                let hint = closestName(to: tag.value, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""
                sink.error(path.appending("thresholds").appending(threshold.key), thresholdNode[threshold.key],
                           tag.key == "vector"
                               ? "a vector's threshold can name only its own vector, \"\(vectorID ?? "")\", found \"\(tag.value)\"\(hint)"
                               : "no request type or step is named \"\(tag.value)\"\(hint); this vector has \(names.joined(separator: ", "))")
            }
        }
        let cookies = fields["cookies"] == nil ? true : sink.bool(fields["cookies"], at: path.appending("cookies"))
        if requestTypesValid, let load, case .open = load, let elements = fields["request_types"]?.elements {
            for (index, request) in requestTypes.enumerated() where request.steps == nil && request.thinkTimeMs != nil {
                let at = path.appending("request_types").appending(index).appending("think_time_ms")
                sink.warning(at, elements[index]["think_time_ms"], "think time does nothing for a single request in the open model (target_rps): arrivals come at the rate whatever the responses do; it applies between the steps of a flow, or to virtual users")
            }
        }
        guard let vectorID, let name, let rampUp, let duration, let load, let cookies, requestTypesValid else { return nil }
        var vector = LoadVector(
            vectorID: vectorID, name: name, description: description, requestTypes: requestTypes, rampUpTimeSec: rampUp,
            durationSec: duration, load: load, thresholds: thresholds, dataFiles: dataFiles)
        vector.forecast = forecast
        vector.cookies = cookies
        return vector
    }

    static func readRequestType(
        _ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink, resolver: inout DataFileResolver, environment: [String: String]
    ) -> RequestType? {
        let isFlow = node["steps"] != nil
        guard let fields = sink.object(node, at: path, allowed: requestFields, required: isFlow ? ["name", "frequency", "steps"] : ["name", "url", "frequency"], what: "a request type") else {
            return nil
        }
        let before = sink.diagnostics.errors.count
        let name = sink.string(fields["name"], at: path.appending("name"))
        let frequency = sink.number(fields["frequency"], at: path.appending("frequency"), minimum: 0, minimumExclusive: true, maximum: 100, what: "a percentage")
        let thinkTime = fields["think_time_ms"].flatMap { readThinkTime($0, at: path.appending("think_time_ms"), sink: &sink) }
        if isFlow {
            for key in perStepFields where fields[key] != nil {
                sink.error(path.appending(key), fields[key], "a flow (a request type with \"steps\") sets \"\(key)\" in each step, not on the type; move it into the steps")
            }
            var steps: [FlowStep] = []
            if let list = fields["steps"], let elements = list.elements {
                if elements.isEmpty { sink.error(path.appending("steps"), list, "expected at least one step, found an empty array") }
                var seen: [String: Int] = [:]
                var captured: Set<String> = []
                for (index, element) in elements.enumerated() {
                    let stepPath = path.appending("steps").appending(index)
                    guard let stepFields = sink.object(element, at: stepPath, allowed: stepFields, required: ["name", "url"], what: "a flow step") else { continue }
                    guard let step = readStep(stepFields, node: element, at: stepPath, sink: &sink, resolver: &resolver, environment: environment, captured: captured) else { continue }
                    if let first = seen[step.name] {
                        sink.error(stepPath.appending("name"), element["name"], "duplicate step name \"\(step.name)\" (also steps[\(first)]); names must be unique in a flow")
                    } else if step.name.contains("/") {
                        sink.error(stepPath.appending("name"), element["name"], "a step name cannot contain '/' (its metrics are named TYPE/STEP), found \"\(step.name)\"")
                    } else {
                        seen[step.name] = index
                    }
                    captured.formUnion(step.capture.keys)
                    steps.append(step)
                }
            } else if let list = fields["steps"] {
                sink.error(path.appending("steps"), list, "expected an array of steps ({\"name\", \"url\", …}), found \(list.found)")
            }
            guard sink.diagnostics.errors.count == before, let name, let frequency else { return nil }
            return RequestType(name: name, url: "", frequency: frequency, thinkTimeMs: thinkTime, steps: steps)
        }
        guard let step = readStep(fields, node: node, at: path, sink: &sink, resolver: &resolver, environment: environment, captured: []),
              sink.diagnostics.errors.count == before, let name, let frequency
        else { return nil }
        return RequestType(
            name: name, method: step.method, url: step.url, frequency: frequency, headers: step.headers, payloadTemplate: step.payloadTemplate,
            thinkTimeMs: thinkTime, timeoutMs: step.timeoutMs, expect: step.expect, capture: step.capture)
    }

    /// The request fields of a single request type or of one flow step. `captured`: variables earlier steps capture.
    static func readStep(
        _ fields: [String: JSONNode], node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink, resolver: inout DataFileResolver,
        environment: [String: String], captured: Set<String>
    ) -> FlowStep? {
        let before = sink.diagnostics.errors.count
        let name = sink.string(fields["name"], at: path.appending("name"))
        let method = fields["method"] == nil ? "GET" : sink.oneOf(fields["method"], at: path.appending("method"), RequestType.methods)
        let url = sink.string(fields["url"], at: path.appending("url"))
        let capture = fields["capture"].map { readCapture($0, at: path.appending("capture"), sink: &sink) } ?? [:]
        let known = captured.union(capture.keys)
        var headers: [String: String] = [:]
        if let headerNode = fields["headers"] {
            if let members = headerNode.members {
                for member in members {
                    let headerPath = path.appending("headers").appending(member.key)
                    if !member.key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) }) || member.key.isEmpty {
                        sink.error(headerPath, member.value, "expected a header name of letters, digits, '-' or '_', found \"\(member.key)\"")
                    }
                    if let value = sink.string(member.value, at: headerPath, nonEmpty: false) {
                        headers[member.key] = value
                        checkTemplate(value, node: member.value, at: headerPath, sink: &sink, resolver: &resolver, environment: environment, captured: known)
                    }
                }
            } else {
                sink.error(path.appending("headers"), headerNode, "expected an object of header names to values, found \(headerNode.found)")
            }
        }
        let payload = sink.string(fields["payload_template"], at: path.appending("payload_template"), nonEmpty: false)
        if let payload {
            checkTemplate(payload, node: fields["payload_template"], at: path.appending("payload_template"), sink: &sink, resolver: &resolver, environment: environment, captured: known)
        }
        if let url {
            checkTemplate(url, node: fields["url"], at: path.appending("url"), sink: &sink, resolver: &resolver, environment: environment, captured: known)
            if hasScheme(url) && !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                sink.error(path.appending("url"), fields["url"], "expected an http:// or https:// URL, or a path relative to --target, found \"\(url)\"")
            }
        }
        let timeout = sink.number(fields["timeout_ms"], at: path.appending("timeout_ms"), minimum: 0, minimumExclusive: true, maximum: 3_600_000, what: "milliseconds (a number)")
        let expect = fields["expect"].flatMap { readExpectation($0, at: path.appending("expect"), sink: &sink) }
        guard sink.diagnostics.errors.count == before, let name, let method, let url else { return nil }
        return FlowStep(name: name, method: method, url: url, headers: headers, payloadTemplate: payload, timeoutMs: timeout, expect: expect, capture: capture)
    }

    static func readExpectation(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink) -> Expectation? {
        guard let fields = sink.object(node, at: path, allowed: expectFields, required: [], what: "an expectation ({\"status\": [200], \"body_contains\", \"json\", \"max_ms\"})") else { return nil }
        let before = sink.diagnostics.errors.count
        var status: [Int]?
        if let list = fields["status"] {
            if let elements = list.elements, !elements.isEmpty {
                status = elements.enumerated().compactMap { sink.integer($0.element, at: path.appending("status").appending($0.offset), minimum: 100, maximum: 599) }
            } else if list.numberValue != nil {
                sink.error(path.appending("status"), list, "expected a list of status codes such as [200], found \(list.found) (write [\(list.preview)])")
            } else {
                sink.error(path.appending("status"), list, "expected a non-empty list of status codes such as [200, 204], found \(list.found)")
            }
        }
        let contains = sink.string(fields["body_contains"], at: path.appending("body_contains"))
        var json: [String: JSONExpectation] = [:]
        if let object = fields["json"] {
            if let members = object.members {
                for member in members {
                    let memberPath = path.appending("json").appending(member.key)
                    if let problem = JSONPathQuery.problem(in: member.key) { sink.error(memberPath, member.value, problem); continue }
                    let value = JSONValue(member.value)
                    json[member.key] = value == .string("exists") ? .exists : .equals(value)
                }
            } else {
                sink.error(path.appending("json"), object, "expected an object of JSONPaths to \"exists\" or a value, such as {\"$.ok\": true}, found \(object.found)")
            }
        }
        let maxMs = sink.number(fields["max_ms"], at: path.appending("max_ms"), minimum: 0, minimumExclusive: true, maximum: 3_600_000, what: "milliseconds (a number)")
        guard sink.diagnostics.errors.count == before else { return nil }
        return Expectation(status: status, bodyContains: contains, json: json, maxMs: maxMs)
    }

    static func readCapture(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink) -> [String: Capture] {
        guard let members = node.members else {
            sink.error(path, node, "expected an object of variable names to sources, such as {\"token\": \"json:$.token\"}, found \(node.found)")
            return [:]
        }
        var result: [String: Capture] = [:]
        for member in members {
            let memberPath = path.appending(member.key)
            guard !member.key.isEmpty, member.key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                sink.error(memberPath, member.value, "expected a variable name of letters, digits and '_', found \"\(member.key)\"")
                continue
            }
            guard let text = sink.string(member.value, at: memberPath) else { continue }
            let (capture, problem) = Capture.parse(text)
            if let problem { sink.error(memberPath, member.value, problem) }
            if let capture { result[member.key] = capture }
        }
        return result
    }

    static func checkTemplate(
        _ source: String, node: JSONNode?, at path: JSONPath, sink: inout DiagnosticSink, resolver: inout DataFileResolver,
        environment: [String: String], captured: Set<String> = []
    ) {
        let parsed: ParsedTemplate
        do {
            parsed = try ParsedTemplate.parse(source)
        } catch {
            sink.error(path, node, "template \(error.description)")
            return
        }
        for reference in parsed.dataReferences {
            switch resolver.load(reference.file) {
            case .failure(let problem):
                sink.error(path, node, "template at character \(reference.offset + 1): {{data.\(reference.file).\(reference.column)}}: \(problem.description)")
            case .success(let dataSet):
                if !dataSet.columns.contains(reference.column) {
                    let hint = closestName(to: reference.column, among: dataSet.columns).map { " (did you mean \"\($0)\"?)" } ?? ""
                    sink.error(path, node, "template at character \(reference.offset + 1): data file '\(reference.file)' has no column \"\(reference.column)\"\(hint); its columns are \(dataSet.columns.joined(separator: ", "))")
                }
            }
        }
        for reference in parsed.variableReferences where !captured.contains(reference.name) {
            let known = captured.sorted()
            let hint = closestName(to: reference.name, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""
            sink.error(path, node, "template at character \(reference.offset + 1): {{vars.\(reference.name)}} is captured by no earlier step\(hint); " +
                (known.isEmpty ? "add \"capture\": {\"\(reference.name)\": \"json:$.…\"} to a step before this one" : "captured so far: \(known.joined(separator: ", "))"))
        }
        for reference in parsed.environmentReferences where environment[reference.name] == nil {
            sink.warning(path, node, "template at character \(reference.offset + 1): environment variable \(reference.name) is not set here; a run needs --env \(reference.name)")
        }
    }

    static func readThinkTime(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink) -> ThinkTime? {
        let expected = "expected milliseconds as a number, or a range: {\"min\": …, \"max\": …}, \"1000-3000\" or [1000, 3000]"
        if node.numberValue != nil {
            return sink.number(node, at: path, minimum: 0, maximum: 3_600_000, what: "milliseconds (a number)").map { .fixed($0) }
        }
        func range(_ low: Double, _ high: Double) -> ThinkTime? {
            guard low.isFinite, high.isFinite, low >= 0, high <= 3_600_000 else {
                sink.error(path, node, "expected a range of milliseconds between 0 and 3600000, found \(node.found)")
                return nil
            }
            guard low <= high else {
                sink.error(path, node, "expected the lower bound first (min ≤ max), found \(node.found)")
                return nil
            }
            return .range(min: low, max: high)
        }
        if let text = node.stringValue {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let low = Double(parts[0]), let high = Double(parts[1]) { return range(low, high) }
            if let single = Double(text.trimmingCharacters(in: .whitespaces)) { return range(single, single).map { _ in .fixed(single) } }
            sink.error(path, node, "\(expected), found \(node.found)")
            return nil
        }
        if let elements = node.elements {
            guard elements.count == 2, let low = elements[0].numberValue, let high = elements[1].numberValue else {
                sink.error(path, node, "expected a range as two numbers [MIN, MAX], found \(node.found)")
                return nil
            }
            return range(low, high)
        }
        guard node.members != nil else {
            sink.error(path, node, "\(expected), found \(node.found)")
            return nil
        }
        guard let fields = sink.object(node, at: path, allowed: ["min", "max"], required: ["min", "max"], what: "a think-time range") else { return nil }
        let low = sink.number(fields["min"], at: path.appending("min"), minimum: 0, maximum: 3_600_000, what: "milliseconds (a number)")
        let high = sink.number(fields["max"], at: path.appending("max"), minimum: 0, maximum: 3_600_000, what: "milliseconds (a number)")
        guard let low, let high else { return nil }
        guard low <= high else {
            sink.error(path.appending("min"), fields["min"], "expected min ≤ max (\(sink.format(high))), found \(sink.format(low))")
            return nil
        }
        return .range(min: low, max: high)
    }

    static func readLoad(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink, forecast: inout ForecastLoad?) -> LoadModel? {
        guard let fields = sink.object(node, at: path, allowed: loadFields, required: [], what: "a load model") else { return nil }
        let hasRate = fields["target_rps"] != nil
        let hasUsers = fields["virtual_users"] != nil
        if let node = fields["forecast"] {
            if hasRate || hasUsers {
                sink.error(path.appending("forecast"), node, "\"forecast\" sets the rate itself: remove \"target_rps\" and \"virtual_users\"")
                return nil
            }
            forecast = readForecast(node, at: path.appending("forecast"), sink: &sink)
            guard forecast != nil else { return nil }
            let arrival = fields["arrival"] == nil ? "poisson" : sink.oneOf(fields["arrival"], at: path.appending("arrival"), ArrivalProcess.allCases.map(\.rawValue))
            let cap = fields["max_in_flight"] == nil ? 0 : sink.integer(fields["max_in_flight"], at: path.appending("max_in_flight"), minimum: 1, maximum: 1_000_000)
            guard let arrival, let process = ArrivalProcess(rawValue: arrival), let cap else { return nil }
            return .open(targetRPS: 1, arrival: process, maxInFlight: cap == 0 ? nil : cap)
        }
        if hasRate && hasUsers {
            sink.error(path, node, "expected exactly one of \"target_rps\" (open model) or \"virtual_users\" (closed model), found both")
            return nil
        }
        if !hasRate && !hasUsers {
            sink.error(path, node, "expected exactly one of \"target_rps\" (open model) or \"virtual_users\" (closed model), found neither")
            return nil
        }
        if hasUsers {
            for key in ["arrival", "max_in_flight"] where fields[key] != nil {
                sink.error(path.appending(key), fields[key], "\"\(key)\" applies to the open model (target_rps) only")
            }
            return sink.integer(fields["virtual_users"], at: path.appending("virtual_users"), minimum: 1, maximum: 1_000_000).map { .closed(virtualUsers: $0) }
        }
        let rate = sink.number(fields["target_rps"], at: path.appending("target_rps"), minimum: 0, minimumExclusive: true, maximum: 10_000_000, what: "requests per second (a number)")
        let arrival = fields["arrival"] == nil ? "poisson" : sink.oneOf(fields["arrival"], at: path.appending("arrival"), ArrivalProcess.allCases.map(\.rawValue))
        let cap = fields["max_in_flight"] == nil ? 0 : sink.integer(fields["max_in_flight"], at: path.appending("max_in_flight"), minimum: 1, maximum: 1_000_000)
        guard let rate, let arrival, let process = ArrivalProcess(rawValue: arrival), let cap else { return nil }
        return .open(targetRPS: rate, arrival: process, maxInFlight: cap == 0 ? nil : cap)
    }

    static func readForecast(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink) -> ForecastLoad? {
        guard let f = sink.object(node, at: path, allowed: forecastFields, required: ["horizon_sec"], what: "a forecast load") else { return nil }
        let before = sink.diagnostics.errors.count
        var history: String? = "prometheus"
        var prometheus: ForecastLoad.PrometheusHistory?
        switch (f["history"], f["prometheus"]) {
        case (let node?, nil): history = sink.string(node, at: path.appending("history"))
        case (nil, let node?): prometheus = readPrometheusHistory(node, at: path.appending("prometheus"), sink: &sink)
        case (nil, nil): sink.error(path, node, "expected \"history\" (a CSV or endpoint:NAME) or \"prometheus\" (url, query, range, step), found neither")
        case (_?, let node?):
            sink.error(path.appending("prometheus"), node, "expected \"history\" or \"prometheus\", found both")
            _ = readPrometheusHistory(node, at: path.appending("prometheus"), sink: &sink)
        }
        let horizon = sink.number(f["horizon_sec"], at: path.appending("horizon_sec"), minimum: 1, maximum: 86_400 * 366, what: "seconds of forecast (a number)")
        let scale = f["scale"] == nil ? 1 : sink.number(f["scale"], at: path.appending("scale"), minimum: 0, minimumExclusive: true, maximum: 1_000_000, what: "a multiplier above 0")
        let model = f["model"] == nil ? "auto" : sink.oneOf(f["model"], at: path.appending("model"), ForecastLoad.models)
        let timeScale = f["time_scale"] == nil ? 1 : sink.number(f["time_scale"], at: path.appending("time_scale"), minimum: 0, minimumExclusive: true, maximum: 1_000_000, what: "seconds of forecast per second of test")
        let level = f["level"] == nil ? 80 : sink.number(f["level"], at: path.appending("level"), minimum: 50, maximum: 99.9, what: "a percentage between 50 and 99.9")
        guard sink.diagnostics.errors.count == before, let history, let horizon, let scale, let model, let timeScale, let level else { return nil }
        var load = ForecastLoad(history: history, horizonSec: horizon, scale: scale, model: model, timeScale: timeScale, level: level)
        load.prometheus = prometheus
        return load
    }

    static func readPrometheusHistory(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink) -> ForecastLoad.PrometheusHistory? {
        guard let f = sink.object(node, at: path, allowed: ["url", "query", "range", "step"], required: ["url", "query", "range", "step"], what: "a Prometheus history")
        else { return nil }
        let before = sink.diagnostics.errors.count
        let url = sink.string(f["url"], at: path.appending("url"))
        if let url, let problem = ProfileValidator.httpURLProblem(url) {
            sink.error(path.appending("url"), f["url"]!, "expected the Prometheus server's URL such as \"http://127.0.0.1:9090\": \(problem)")
        }
        let query = sink.string(f["query"], at: path.appending("query"))
        func duration(_ key: String) -> Int64? {
            guard let text = sink.string(f[key], at: path.appending(key)) else { return nil }
            guard let seconds = parseDuration(text) else {
                sink.error(path.appending(key), f[key]!, "expected a duration such as \"7d\", \"6h\", \"5m\" or \"60s\", found \"\(text)\"")
                return nil
            }
            return seconds
        }
        let range = duration("range"), step = duration("step")
        if let range, let step, range / step < 2 || range / step > 10_000_000 {
            sink.error(path.appending("step"), f["step"]!, "expected between 2 and 10 million steps in the range, found \(range / step)")
        }
        guard sink.diagnostics.errors.count == before, let url, let query, let range, let step else { return nil }
        return ForecastLoad.PrometheusHistory(url: url, query: query, rangeSec: range, stepSec: step)
    }

    /// Whole seconds from `300`, `30s`, `5m`, `1h`, `1d` or `1w`.
    public static func parseDuration(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]
        var number = Substring(text)
        var unit: Int64 = 1
        if let last = text.last, let u = units[last] {
            number = number.dropLast()
            unit = u
        }
        guard let n = Int64(number), n > 0, n <= 10 * 365 * 86_400 / unit else { return nil }
        return n * unit
    }

    static func readThresholds(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink) -> [Threshold] {
        guard let members = node.members else {
            sink.error(path, node, "expected an object of metric names to expressions such as {\"http_errors\": \"rate<0.01\"}, found \(node.found)")
            return []
        }
        var result: [Threshold] = []
        for member in members {
            let memberPath = path.appending(member.key)
            var expressionNode = member.value
            var abort = false, delay = 0.0
            if member.value.members != nil {
                guard let fields = sink.object(member.value, at: memberPath, allowed: ["threshold", "abort_on_fail", "delay_abort_eval_sec"], required: ["threshold"],
                                               what: "a threshold ({\"threshold\": \"<200\", \"abort_on_fail\": true, \"delay_abort_eval_sec\": 10})") else { continue }
                guard let node = fields["threshold"] else { continue }
                expressionNode = node
                if fields["abort_on_fail"] != nil { abort = sink.bool(fields["abort_on_fail"], at: memberPath.appending("abort_on_fail")) ?? false }
                if fields["delay_abort_eval_sec"] != nil {
                    delay = sink.number(fields["delay_abort_eval_sec"], at: memberPath.appending("delay_abort_eval_sec"), minimum: 0, maximum: 86_400 * 7, what: "seconds (a number)") ?? 0
                }
            }
            let expressionPath = member.value.members != nil ? memberPath.appending("threshold") : memberPath
            guard let expression = sink.string(expressionNode, at: expressionPath) else { continue }
            let (threshold, problem) = Threshold.parse(metric: member.key, expression: expression)
            if let problem { sink.error(expressionPath, expressionNode, problem) }
            if var threshold {
                threshold.abortOnFail = abort
                threshold.delayAbortEvalSec = delay
                result.append(threshold)
            }
        }
        return result.sorted { $0.key < $1.key }
    }

    static func readDataFiles(_ node: JSONNode, at path: JSONPath, sink: inout DiagnosticSink) -> [String: DataFileSpec] {
        guard let members = node.members else {
            sink.error(path, node, "expected an object of data names to CSV paths, found \(node.found)")
            return [:]
        }
        var result: [String: DataFileSpec] = [:]
        for member in members {
            let memberPath = path.appending(member.key)
            if !isIdentifier(member.key) || member.key.contains(".") {
                sink.error(memberPath, member.value, "expected a data name of letters, digits, '_' or '-', found \"\(member.key)\"")
                continue
            }
            if member.value.stringValue != nil {
                if let file = sink.string(member.value, at: memberPath) { result[member.key] = DataFileSpec(path: file) }
                continue
            }
            guard let fields = sink.object(member.value, at: memberPath, allowed: ["path", "order"], required: ["path"], what: "a data file (a path, or {\"path\", \"order\"})") else { continue }
            let file = sink.string(fields["path"], at: memberPath.appending("path"))
            let order = fields["order"] == nil ? "sequential" : sink.oneOf(fields["order"], at: memberPath.appending("order"), DataOrder.allCases.map(\.rawValue))
            if let file, let order, let dataOrder = DataOrder(rawValue: order) { result[member.key] = DataFileSpec(path: file, order: dataOrder) }
        }
        return result
    }

    /// Whether `url` starts with `scheme://` (RFC 3986 scheme characters).
    static func hasScheme(_ url: String) -> Bool {
        guard let range = url.range(of: "://") else { return false }
        let scheme = url[..<range.lowerBound]
        guard let first = scheme.first, first.isASCII, first.isLetter else { return false }
        return scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) }
    }

    static func unreadable(_ path: String) -> String {
        FileManager.default.fileExists(atPath: path) ? "cannot read the file (permissions?)" : "no such file"
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
