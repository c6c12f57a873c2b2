import ALVTarget
import ArgumentParser
import Foundation

struct TargetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "target",
        abstract: "Serve the built-in HTTP target for demos, tests and benchmarks.",
        discussion: """
            Every path answers {"ok":true}; /echo returns the request as JSON; GET /__stats counts requests per \
            method and path and per client address; GET /__bodies returns recorded bodies (--record-bodies). Per-path behaviour and time \
            windows (errors on /buy between second 5 and 15, a stall) come from --config FILE; see \
            config/targets/ for examples.
            """)

    @Option(help: "Port to listen on (0 picks a free one; the URL is printed).")
    var port: Int = 8080

    @Option(help: "Address to bind.")
    var host: String = "127.0.0.1"

    @Option(name: .customLong("latency-ms"), help: ArgumentHelp("Latency of every response: 20, or a range 10-30.", valueName: "MS"))
    var latency: String?

    @Option(name: .customLong("error-rate"), help: ArgumentHelp("Share of requests answered with --error-status (0–1).", valueName: "P"))
    var errorRate: Double = 0

    @Option(name: .customLong("error-status"), help: "Status code of injected errors.")
    var errorStatus: Int = 500

    @Option(help: ArgumentHelp("JSON file with routes and schedules.", valueName: "FILE"))
    var config: String?

    @Option(name: .customLong("record-bodies"), help: ArgumentHelp("Keep the last N request bodies for GET /__bodies.", valueName: "N"))
    var recordBodies: Int = 0

    @Option(help: "Event loop threads (default: one per core).")
    var threads: Int?

    @Option(help: ArgumentHelp("Stop after this many seconds (default: run until SIGINT/SIGTERM).", valueName: "SEC"))
    var duration: Double?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0–65535, got \(port)") }
        guard (0...1).contains(errorRate) else { throw ValidationError("--error-rate must be between 0 and 1, got \(errorRate)") }
        guard (100...599).contains(errorStatus) else { throw ValidationError("--error-status must be an HTTP status 100–599, got \(errorStatus)") }
        if let latency, TargetConfiguration.Latency.parse(latency) == nil {
            throw ValidationError("--latency-ms expects milliseconds (20) or a range (10-30), got \"\(latency)\"")
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be 1–256, got \(threads)") }
        try FlagChecks.duration(duration)
        guard (0...1_000_000).contains(recordBodies) else { throw ValidationError("--record-bodies must be 0–1000000, got \(recordBodies)") }
    }

    func run() throws {
        var configuration = TargetConfiguration()
        if let config {
            let bytes = try readInput(config)
            do {
                configuration = try JSONDecoder().decode(TargetConfiguration.self, from: Data(bytes))
            } catch let error as DecodingError {
                throw CLIError.badInput("\(config): \(describe(error))")
            }
        }
        if let latency { configuration.latencyMs = TargetConfiguration.Latency.parse(latency) }
        if errorRate > 0 {
            configuration.errorRate = errorRate
            configuration.errorStatus = errorStatus
        }
        if recordBodies > 0 { configuration.recordBodies = recordBodies }

        let server: TargetServer
        do {
            server = try TargetServer(host: host, port: port, configuration: configuration, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        } catch {
            throw CLIError.runtime("cannot listen on \(host):\(port): \(error)")
        }
        // Written straight to the descriptor so a parent reading the pipe sees it at once.
        FileHandle.standardOutput.write(Data("alv target listening on \(server.url)\n".utf8))
        let stop = DispatchSemaphore(value: 0)
        let signals = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            return source
        }
        if let duration { DispatchQueue.global().asyncAfter(deadline: .now() + duration) { stop.signal() } }
        stop.wait()
        signals.forEach { $0.cancel() }
        server.stop()
        printError("alv target: served \(server.stats.total) requests")
    }
}

/// A decoding error as "at routes[0].schedule: expected …".
func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
    switch error {
    case .typeMismatch(let type, let context): return "\(path(context.codingPath)): expected \(type): \(context.debugDescription)"
    case .valueNotFound(let type, let context): return "\(path(context.codingPath)): expected \(type), found null"
    case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): missing required field"
    case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default: return "\(error)"
    }
}
