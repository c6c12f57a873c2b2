import ALVModel
import Testing

/// Host entries become ssh destinations and log file names: only what ssh takes and a file name can hold.
struct HostsFileTests {
    @Test(arguments: ["local", "h1", "loadgen@10.0.0.7", "web-01.lab.example", "[::1]", "fe80::1", "user_a@host_b"])
    func hostNamesAccepted(_ name: String) {
        #expect(HostsFile.isHostName(name))
    }

    @Test(arguments: ["../x", "a/b", "-oProxyCommand=x", "a b", "a\tb", "a\nb", "a\u{0}b", ".hidden", "", String(repeating: "a", count: 256), "hôte"])
    func hostNamesRefused(_ name: String) {
        #expect(!HostsFile.isHostName(name))
    }

    @Test func aBadHostIsNamedWithItsPath() {
        let result = HostsFileValidator.validate(Array(#"{"hosts": [{"host": "ok", "max_workers": 1}, {"host": "../../etc", "max_workers": 1}]}"#.utf8), file: "hosts.json")
        #expect(result.model == nil)
        #expect(result.diagnostics.contains { $0.description.contains("hosts[1].host") && $0.description.contains("../../etc") }, "\(result.diagnostics)")
    }
}
