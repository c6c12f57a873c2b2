import ALVPrometheus
import Testing

@Suite struct ExpositionParserTests {
    static let text = """
        # HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
        # TYPE node_cpu_seconds_total counter
        node_cpu_seconds_total{cpu="0",mode="idle"} 1234.5
        node_cpu_seconds_total{cpu="1",mode="idle"} 1000
        # TYPE http_request_duration_seconds histogram
        http_request_duration_seconds_bucket{le="0.1",path="/a \\"b\\"\\\\c"} 7
        http_request_duration_seconds_count 9 1700000000000
        process_resident_memory_bytes 2.5e+07
        weird_value NaN
        up +Inf
        # EOF

        """

    @Test func samplesTypesAndEscapes() {
        let p = ExpositionParser(Self.text)
        #expect(p.malformedLines == 0)
        #expect(p.samples.count == 7)
        #expect(p.samples[0] == .init(name: "node_cpu_seconds_total", labels: ["cpu": "0", "mode": "idle"], value: 1234.5))
        #expect(p.samples[2].labels["path"] == "/a \"b\"\\c")
        #expect(p.samples[3].value == 9)
        #expect(p.samples[4].value == 25_000_000)
        #expect(p.samples[5].value.isNaN)
        #expect(p.type(of: "node_cpu_seconds_total") == "counter")
        #expect(p.type(of: "http_request_duration_seconds_bucket") == "histogram")
        #expect(p.type(of: "process_resident_memory_bytes") == nil)
        // Only the names asked for.
        #expect(ExpositionParser(Self.text) { $0 == "up" }.samples.map(\.name) == ["up"])
    }

    @Test func hostileLinesAreSkippedAndCounted() {
        let lines = [
            "m{a=\"unterminated} 1", "m{a=1} 2", "m{=\"x\"} 3", "m 1.2.3", "m", "{a=\"b\"} 1", "m{a=\"b\" 1", "m{a=\"b\",} x",
            String(repeating: "m{", count: 10_000), "m{" + (0..<100).map { "l\($0)=\"v\"" }.joined(separator: ",") + "} 1",
            "\u{0}\u{1}\u{2}", "m{a=\"\\\"} 1",
        ]
        let p = ExpositionParser(lines.joined(separator: "\n") + "\nok 1\n")
        #expect(p.samples.map(\.name) == ["ok"])
        #expect(p.malformedLines == lines.count)
        // Every prefix of a valid text parses without trapping.
        let bytes = Array(Self.text.utf8)
        for cut in 0...bytes.count { _ = ExpositionParser(String(decoding: bytes.prefix(cut), as: UTF8.self)) }
    }
}
