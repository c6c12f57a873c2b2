import Foundation

/// Machines that run workers: `{"broker_address": "10.0.0.5", "hosts": [{"host": "user@10.0.0.7",
/// "max_workers": 4, "alv_path": "/usr/local/bin/alv", "ssh_options": ["-p", "2222"]}, {"host": "local",
/// "max_workers": 2}]}`. `local` means processes on this machine; any other host is reached with
/// `ssh -o BatchMode=yes HOST` and the user's own ssh configuration.
public struct HostsFile: Sendable, Equatable {
    public struct Host: Sendable, Equatable {
        /// `local`, or what ssh is given (`host`, `user@host`, an alias from ~/.ssh/config).
        public var host: String
        public var maxWorkers: Int
        /// Path of `alv` on that machine.
        public var alvPath: String
        /// Extra ssh arguments, placed before the host.
        public var sshOptions: [String]

        public init(host: String, maxWorkers: Int, alvPath: String = "alv", sshOptions: [String] = []) {
            self.host = host
            self.maxWorkers = maxWorkers
            self.alvPath = alvPath
            self.sshOptions = sshOptions
        }

        public var isLocal: Bool { host == "local" }
    }

    /// Whether `name` can be a host entry: `local`, or what ssh takes as a destination and alv can put in a
    /// file name (no `/`, whitespace or control characters, not an option, at most 255 characters).
    public static func isHostName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 255, !name.hasPrefix("-"), !name.hasPrefix("."), name != ".." else { return false }
        return name.unicodeScalars.allSatisfy { c in
            (c.value < 128 && (c.properties.isAlphabetic || ("0"..."9").contains(c))) || "._-@:[]".unicodeScalars.contains(c)
        }
    }

    /// The address remote workers use to reach the broker (default: the broker's listen address).
    public var brokerAddress: String?
    public var hosts: [Host]

    public init(brokerAddress: String? = nil, hosts: [Host]) {
        self.brokerAddress = brokerAddress
        self.hosts = hosts
    }
}

/// Reads and checks a hosts file, reporting every problem with its JSON path.
public enum HostsFileValidator {
    static let fields = ["broker_address", "hosts"]
    static let hostFields = ["host", "max_workers", "alv_path", "ssh_options"]

    public static func validateFile(atPath path: String) -> Validated<HostsFile> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return Validated(model: nil, diagnostics: [Diagnostic(file: path, path: "$", position: nil, message: VectorValidator.unreadable(path))], document: nil)
        }
        return validate(Array(data), file: path)
    }

    public static func validate(_ bytes: [UInt8], file: String?) -> Validated<HostsFile> {
        var sink = DiagnosticSink(file: file)
        guard let root = sink.parse(bytes) else { return Validated(model: nil, diagnostics: sink.diagnostics, document: nil) }
        let path = JSONPath.root
        guard let f = sink.object(root, at: path, allowed: fields, required: ["hosts"], what: "a hosts file") else {
            return Validated(model: nil, diagnostics: sink.diagnostics, document: root)
        }
        let broker = f["broker_address"].flatMap { sink.string($0, at: path.appending("broker_address")) }
        var hosts: [HostsFile.Host] = []
        var seen: [String: Int] = [:]
        if let node = f["hosts"] {
            let listPath = path.appending("hosts")
            if let elements = node.elements {
                if elements.isEmpty { sink.error(listPath, node, "expected at least one host, found an empty array") }
                for (index, element) in elements.enumerated() {
                    let at = listPath.appending(index)
                    guard let h = sink.object(element, at: at, allowed: hostFields, required: ["host", "max_workers"], what: "a host") else { continue }
                    let name = sink.string(h["host"], at: at.appending("host"))
                    if let name, !HostsFile.isHostName(name) {
                        sink.error(at.appending("host"), h["host"], "expected a host name, address, user@host or ssh alias (letters, digits and . - _ @ : [ ]), found \"\(name.prefix(80))\"")
                    }
                    if let name, let first = seen[name] {
                        sink.error(at.appending("host"), h["host"], "host \"\(name)\" is listed twice (first at $.hosts[\(first)])")
                    }
                    let maximum = sink.integer(h["max_workers"], at: at.appending("max_workers"), minimum: 0, maximum: 4096)
                    let alvPath = h["alv_path"].flatMap { sink.string($0, at: at.appending("alv_path")) } ?? "alv"
                    var options: [String] = []
                    if let o = h["ssh_options"] {
                        if let list = o.elements {
                            for (i, e) in list.enumerated() { if let s = sink.string(e, at: at.appending("ssh_options").appending(i), nonEmpty: true) { options.append(s) } }
                        } else {
                            sink.error(at.appending("ssh_options"), o, "expected an array of ssh arguments such as [\"-p\", \"2222\"], found \(o.found)")
                        }
                    }
                    if let name, let maximum {
                        seen[name] = seen[name] ?? index
                        hosts.append(HostsFile.Host(host: name, maxWorkers: maximum, alvPath: alvPath, sshOptions: options))
                    }
                }
            } else {
                sink.error(listPath, node, "expected an array of hosts, found \(node.found)")
            }
        }
        let model = HostsFile(brokerAddress: broker, hosts: hosts)
        return Validated(model: sink.diagnostics.hasErrors ? nil : model, diagnostics: sink.diagnostics, document: root)
    }
}
