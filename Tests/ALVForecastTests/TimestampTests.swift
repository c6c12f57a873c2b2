import Testing
@testable import ALVForecast

@Suite struct TimestampTests {
    @Test func civilRoundTrip() throws {
        let (seconds, format) = try #require(TimestampFormat.parse("2000-06-05 00:30:00"))
        #expect(format == .civil)
        #expect(seconds == 960_165_000)
        #expect(format.format(seconds) == "2000-06-05 00:30:00")
        #expect(TimestampFormat.parse("2024-02-29T23:59:59Z")?.seconds == 1_709_251_199)
        #expect(TimestampFormat.parse("1960-01-01 00:00")?.seconds == -315_619_200)
        #expect(TimestampFormat.civil.format(-315_619_200) == "1960-01-01 00:00:00")
    }

    @Test func epochAndRejects() {
        #expect(TimestampFormat.parse("1700000000")?.seconds == 1_700_000_000)
        #expect(TimestampFormat.parse("1700000000.6")?.seconds == 1_700_000_001)
        for bad in ["2023-02-29 00:00:00", "2023-13-01", "2023-01-01 24:00", "yesterday", "2023-01-01 10:00:61", ""] {
            #expect(TimestampFormat.parse(Substring(bad)) == nil, "\(bad)")
        }
    }
}
