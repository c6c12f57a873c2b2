// Micro-benchmarks that print figures; run through scripts/bench-templates (release build).
import ALVModel
import ALVTemplates
import Foundation

/// Nanoseconds per call of `body`, best of `rounds` rounds of `iterations` calls.
func measure(iterations: Int, rounds: Int = 5, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<rounds {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { body() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start)
        best = min(best, elapsed / Double(iterations))
    }
    return best
}

func benchTemplates(configDirectory: String) throws {
    let iterations = 1_000_000
    print("alv-bench templates: \(iterations) renders per round, best of 5 rounds, into a reused buffer")
    print("template".padding(toLength: 44, withPad: " ", startingAt: 0) + "bytes   ns/render")
    var sink = 0
    for vectorID in ["checkout-mix", "crud-mixed", "spike"] {
        let file = "\(configDirectory)/vectors/\(vectorID).json"
        let result = VectorValidator.validateFile(atPath: file)
        guard let vector = result.model else {
            print("cannot load \(file): \(result.diagnostics.map(\.description))")
            exit(2)
        }
        var resolver = DataFileResolver(baseDirectory: "\(configDirectory)/vectors", declared: vector.dataFiles)
        let data = try resolver.templateData(for: vector, environment: ProcessInfo.processInfo.environment)
        for request in vector.requestTypes {
            var cases = [("url", request.url, TemplateEscaping.url)]
            if let payload = request.payloadTemplate { cases.append(("payload", payload, request.payloadEscaping)) }
            for (what, source, escaping) in cases {
                let template = try CompiledTemplate(source: source, escaping: escaping, data: data)
                var context = RenderContext(seed: 1, userIndex: 0, data: data)
                var buffer: [UInt8] = []
                buffer.reserveCapacity(1024)
                let ns = measure(iterations: iterations) {
                    buffer.removeAll(keepingCapacity: true)
                    template.render(into: &buffer, context: &context)
                    context.nextIteration(data: data)
                }
                sink &+= buffer.count
                let label = "\(vectorID).\(request.name).\(what)".padding(toLength: 44, withPad: " ", startingAt: 0)
                print(label + String(buffer.count).padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: "%.1f", ns))
            }
        }
    }
    if sink == 42 { print("") }  // keeps the renders observable
}

let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "templates":
    try benchTemplates(configDirectory: arguments.dropFirst().first ?? "config")
case "simulate-workers":
    // simulate-workers COUNT HOST WORK_PORT METRICS_PORT SECONDS
    let a = Array(arguments.dropFirst())
    guard a.count == 5, let count = Int(a[0]), let work = Int(a[2]), let metrics = Int(a[3]), let seconds = Double(a[4]) else {
        print("usage: alv-bench simulate-workers COUNT HOST WORK_PORT METRICS_PORT SECONDS")
        exit(2)
    }
    try simulateWorkers(count: count, host: a[1], workPort: work, metricsPort: metrics, seconds: seconds)
case "synthetic-run":
    // synthetic-run DB SECONDS: prints the run id
    let a = Array(arguments.dropFirst())
    guard a.count == 2, let seconds = Int(a[1]) else {
        print("usage: alv-bench synthetic-run DB SECONDS")
        exit(2)
    }
    print(try synthesizeRun(database: a[0], seconds: seconds))
case "decompose":
    // decompose FILE PERIODS WINDOW
    let a = Array(arguments.dropFirst())
    try benchDecompose(file: a[0], periods: a[1].split(separator: ",").compactMap { Int($0) }, window: Int(a[2]) ?? 672)
case "forecast":
    // forecast MODELS FILE...: MODELS comma-separated (snaive-day, snaive-week, window, ets, arima, mstl, mstl-arima, prophet, auto)
    let a = Array(arguments.dropFirst())
    guard a.count >= 2 else {
        print("usage: alv-bench forecast MODELS FILE...")
        exit(2)
    }
    try benchForecast(files: Array(a.dropFirst()), models: a[0].split(separator: ",").map(String.init))
case "calibrate":
    // calibrate MANIFEST: interval coverage per calibration method (scripts/bench-calibration)
    guard let manifest = arguments.dropFirst().first else {
        print("usage: alv-bench calibrate MANIFEST")
        exit(2)
    }
    try benchCalibration(manifest: manifest)
case "remote-write":
    // remote-write [TYPES,...]: request types per run
    let counts = arguments.dropFirst().first.map { $0.split(separator: ",").compactMap { Int($0) } } ?? [1, 10, 100]
    benchRemoteWrite(typeCounts: counts)
default:
    print("usage: alv-bench remote-write [TYPES,...] | synthetic-run DB SECONDS | templates [CONFIG_DIR] | forecast MODELS FILE... | calibrate MANIFEST | simulate-workers COUNT HOST WORK_PORT METRICS_PORT SECONDS")
    exit(2)
}
