import ALVTesting
import Foundation
import Testing

/// TLS options against nginx with certificates the test makes: which CA verifies the target, client
/// certificates, HTTP/2 negotiated by ALPN, and curl's --resolve. Certificates travel in the work units as
/// PEM text, so a worker process needs no file of the run's machine.
@Suite(.serialized) struct TLSTests {
    let directory = TemporaryDirectory("alv-tls")

    func run(_ target: String, _ extra: [String], workers: String = "0") throws -> (AlvBinary.Result, [String: Any]) {
        let file = directory.write("v.json", #"{"vector_id": "tls", "name": "TLS", "duration_sec": 2, "load": {"target_rps": 40}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#)
        let result = try AlvBinary.run(["run", file, "--target", target, "--workers", workers, "--no-dashboard", "--json", "--db", directory.file("t.db")] + extra, in: directory.path)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
        return (result, summary)
    }

    func count(_ summary: [String: Any], _ key: String) -> Int { (summary["responses"] as? [String: Int])?[key] ?? 0 }

    @Test func theRightCAPassesAndAWrongOneFailsEveryRequestNamingTheVerificationError() throws {
        let nginx = try NginxTLS()
        let url = "https://127.0.0.1:\(nginx.port)"
        let (right, passed) = try run(url, ["--cacert", nginx.caPath])
        #expect(right.status == 0 && count(passed, "2xx") == passed["requests_total"] as? Int && count(passed, "2xx") > 50, "\(right.stderr)")
        // The handshakes show in the tls phase (on new connections only: its median is 0 on reused ones).
        let tls = try #require((passed["phases_ms"] as? [String: [String: Double]])?["tls"])
        #expect((tls["max"] ?? 0) > 0 && tls["p50"] == 0, "\(tls)")
        for extra in [["--cacert", nginx.otherCAPath], []] {
            let (wrong, failed) = try run(url, extra)
            #expect(wrong.status == 1 && wrong.stderr.contains("every request failed"), "\(extra): \(wrong.stderr)")
            let sample = try #require((failed["error_samples"] as? [[String: Any]])?.first)
            #expect(sample["outcome"] as? String == "tls" && (sample["message"] as? String ?? "").contains("certificate"), "\(extra): \(sample)")
            #expect(sample["count"] as? Int == failed["requests_total"] as? Int)
        }
        let missing = try AlvBinary.run(["run", "smoke", "--target", url, "--cacert", directory.file("nope.pem")], in: directory.path)
        #expect(missing.status == 2 && missing.stderr.contains("--cacert \(directory.file("nope.pem")): no such file"), "\(missing.stderr)")
    }

    @Test func http2IsNegotiatedForEveryRequest() throws {
        let nginx = try NginxTLS()
        let (result, summary) = try run("https://127.0.0.1:\(nginx.port)", ["--cacert", nginx.caPath, "--http", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let log = nginx.accessLog
        #expect(log.count == summary["requests_total"] as? Int && log.count > 50, "\(log.count) log lines")
        #expect(log.allSatisfy { $0.hasPrefix("HTTP/2.0 TLSv1.") && $0.hasSuffix(" 200") }, "\(Set(log))")
    }

    /// On a worker process: the certificate and key reach it in the units.
    @Test func aClientCertificateOpensTheDoorThatAsksForOne() throws {
        let nginx = try NginxTLS()
        let url = "https://127.0.0.1:\(nginx.clientAuthPort)"
        let (without, refused) = try run(url, ["--cacert", nginx.caPath], workers: "1")
        #expect(without.status == 1 && count(refused, "4xx") == refused["requests_total"] as? Int, "nginx answers 400 without a client certificate: \(refused["responses"] ?? "")")
        let (with, admitted) = try run(url, ["--cacert", nginx.caPath, "--cert", nginx.clientCertPath, "--key", nginx.clientKeyPath], workers: "1")
        #expect(with.status == 0 && count(admitted, "2xx") == admitted["requests_total"] as? Int && count(admitted, "2xx") > 50, "\(with.stderr)")
        let lonelyKey = try AlvBinary.run(["run", "smoke", "--target", url, "--key", nginx.clientKeyPath], in: directory.path)
        #expect(lonelyKey.status == 2 && lonelyKey.stderr.contains("--key needs --cert"), "\(lonelyKey.stderr)")
    }

    @Test func resolveSendsAHostNameToTheAddressGiven() throws {
        let nginx = try NginxTLS()
        let (result, summary) = try run("https://alv.test:\(nginx.port)", ["--cacert", nginx.caPath, "--resolve", "alv.test:\(nginx.port):127.0.0.1"])
        #expect(result.status == 0 && count(summary, "2xx") == summary["requests_total"] as? Int && count(summary, "2xx") > 50, "\(result.stderr)")
        let bad = try AlvBinary.run(["run", "smoke", "--target", "https://alv.test:1", "--resolve", "alv.test:http:127.0.0.1"], in: directory.path)
        #expect(bad.status == 2 && bad.stderr.contains("--resolve: expected HOST:PORT:ADDRESS"), "\(bad.stderr)")
    }
}
