import ALVTesting
import Foundation
import Testing

/// Every numeric flag of every command, given NaN, ±infinity, 0, −1, 2^63−1, 2^63, 1e-300 and 1e300: no
/// crash, an exit code from the documented set, a non-finite number never accepted, and a refusal that
/// names the flag. Accepted values run against bases that end by themselves within seconds.
@Suite(.serialized) struct CLIFuzzTests {
    static let values = ["nan", "inf", "-inf", "0", "-1", "9223372036854775807", "9223372036854775808", "1e-300", "1e300"]

    @Test func everyNumericFlagSurvivesHostileNumbers() throws {
        let directory = TemporaryDirectory("alv-cli-fuzz")
        var csv = "timestamp,value\n"
        for hour in 0..<(24 * 14) { csv += "\(1_700_000_000 + hour * 3600),\(100 + 50 * sin(Double(hour % 24) / 24 * 2 * .pi))\n" }
        let demand = directory.write("demand.csv", csv)
        let vector = directory.write("v.json", #"{"vector_id": "fz", "name": "Fuzz", "duration_sec": 1, "load": {"target_rps": 5}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        let db = directory.file("alv.db")
        let dead = "http://127.0.0.1:9"
        // (base arguments, flags to fuzz one at a time; a base flag of the same name is replaced)
        let commands: [([String], [String])] = [
            (["plan", "simulate", "--demand", demand, "--lead-time", "1", "--capacity", "10"],
             ["--capacity", "--lead-time", "--level", "--season", "--warmup", "--min-workers", "--max-workers", "--cooldown"]),
            (["plan", "simulate", "--demand", demand, "--lead-time", "1", "--peak-workers", "10"], ["--peak-workers"]),
            (["forecast", "--input", demand, "--model", "snaive"], ["--horizon", "--season", "--level"]),
            (["run", vector, "--target", dead, "--workers", "0", "--no-dashboard", "--db", db],
             ["--connections", "--timeout-ms", "--unit-sec", "--seed", "--workers"]),
            (["broker", "--run", vector, "--target", dead, "--wait-timeout", "0.2", "--work-port", "0", "--metrics-port", "0", "--control-port", "0", "--db", db],
             ["--unit-sec", "--wait-timeout", "--wait-workers", "--work-port", "--connections", "--timeout-ms"]),
            (["target", "--port", "0", "--duration", "0.3"], ["--port", "--error-rate", "--error-status", "--record-bodies", "--threads", "--duration", "--latency-ms"]),
            (["planner", "--broker", "127.0.0.1", "--work-port", "0", "--metrics-port", "0", "--control-port", "0", "--duration", "0.3", "--forecast-only"],
             ["--capacity", "--min-workers", "--max-workers", "--duration", "--control-port"]),
            (["demo", "--no-dashboard", "--db", db], ["--port"]),
            (["vector", "show", "smoke", "--db", db], ["--version"]),
        ]
        var failures: [String] = []
        for (base, flags) in commands {
            for flag in flags {
                for value in Self.values {
                    var arguments = base
                    if let i = arguments.firstIndex(of: flag) { arguments[i + 1] = value } else { arguments += [flag, value] }
                    // Values that start with "-" must be attached to their flag.
                    if value.hasPrefix("-"), let i = arguments.firstIndex(of: flag) { arguments[i] = "\(flag)=\(value)"; arguments.remove(at: i + 1) }
                    let result = try AlvBinary.run(arguments, in: directory.path, timeout: 20)
                    let line = "alv \(base.prefix(2).joined(separator: " ")) \(flag) \(value): exit \(result.status)"
                    if result.crashed || ![0, 1, 2, 3].contains(result.status) {
                        failures.append("\(line) (crashed: \(result.stderr.suffix(200)))")
                    } else if ["nan", "inf", "-inf"].contains(value) && result.status != 2 {
                        failures.append("\(line): a non-finite number was accepted")
                    } else if result.status == 2 && !result.stderr.contains(flag) && !result.stderr.contains(String(flag.dropFirst(2))) {
                        failures.append("\(line): the refusal does not name the flag: \(result.stderr.prefix(200))")
                    }
                }
            }
        }
        let report = "\(failures.count) of the fuzzed runs:\n" + failures.joined(separator: "\n")
        #expect(failures.isEmpty, "\(report)")
    }
}
