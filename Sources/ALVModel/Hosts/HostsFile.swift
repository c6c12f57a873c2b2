import Foundation

/// Machines that run workers: `{"broker_address": "10.0.0.5", "hosts": [{"host": "user@10.0.0.7",
/// "max_workers": 4, "alv_path": "/usr/local/bin/alv", "ssh_options": ["-p", "2222"]}, {"host": "local",
/// "max_workers": 2}]}`. `local` means processes on this machine; any other host is reached with
/// `ssh -o BatchMode=yes HOST` and the user's own ssh configuration.
///
/// Entries with a `kind` other than `ssh` are instance groups whose machines start their own workers
/// (`alv cluster user-data`): `{"kind": "aws-asg", "name": "fleet", "group": "alv-workers", "region":
/// "eu-west-1", "workers_per_instance": 2, "max_instances": 20}` or `{"kind": "command", "name": "gcp",
/// "scale_to": ["gcloud", …, "{{instances}}"], "list": ["gcloud", …], "workers_per_instance": 2,
/// "max_instances": 10}`. Their workers enrol with the broker's key (`broker_key`) on fixed ports
/// (`broker_ports`).
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

    /// A group of machines a provider starts and stops; each runs `workersPerInstance` workers that enrol.
    public struct InstanceGroup: Sendable, Equatable {
        public enum Provider: Sendable, Equatable {
            /// An AWS Auto Scaling group, driven over the Query API. `endpoint` replaces the regional one
            /// (a local AWS API in tests, a VPC endpoint); `profile` names the shared-credentials section.
            case awsAutoScaling(group: String, region: String, endpoint: String?, profile: String?)
            /// A provider CLI: `scaleTo` with `{{instances}}` sets the size; `list` prints one instance id per
            /// line; `terminate` with `{{instance}}` removes one instance and lowers the size by one.
            /// `instanceID` is the shell the user data runs on a machine to print its id as `list` prints it
            /// (default `hostname`).
            case command(scaleTo: [String], list: [String], terminate: [String]?, instanceID: String?)
        }

        public var name: String
        public var provider: Provider
        public var workersPerInstance: Int
        public var maxInstances: Int
        /// Path of `alv` on the instances (the rendered user data runs it).
        public var alvPath: String
        /// What one instance costs per hour, for `alv plan simulate`.
        public var costPerInstanceHour: Double?
        /// Seconds between descriptions of the group (`poll_sec`; default 5 for aws-asg, 10 for a command).
        /// A worker enrolling from a machine not yet seen asks for one at once.
        public var pollSeconds: Double?

        public init(name: String, provider: Provider, workersPerInstance: Int, maxInstances: Int, alvPath: String = "/usr/local/bin/alv", costPerInstanceHour: Double? = nil, pollSeconds: Double? = nil) {
            self.pollSeconds = pollSeconds
            self.name = name
            self.provider = provider
            self.workersPerInstance = workersPerInstance
            self.maxInstances = maxInstances
            self.alvPath = alvPath
            self.costPerInstanceHour = costPerInstanceHour
        }

        public var kind: String {
            switch provider {
            case .awsAutoScaling: return "aws-asg"
            case .command: return "command"
            }
        }
    }

    /// The broker's fixed ports, which instances started elsewhere are told once, in their user data.
    public struct BrokerPorts: Sendable, Equatable {
        public var work = 5557, metrics = 5558, control = 5559, enrol = 5560
        public init() {}
    }

    /// The address remote workers use to reach the broker (default: the broker's listen address).
    public var brokerAddress: String?
    public var hosts: [Host]
    public var groups: [InstanceGroup]
    /// The broker's key file (`alv keys generate`), absolute or relative to the hosts file: a broker identity
    /// that outlives one run, so instances configured once can enrol with every run.
    public var brokerKey: String?
    public var brokerPorts: BrokerPorts?

    public init(brokerAddress: String? = nil, hosts: [Host], groups: [InstanceGroup] = [], brokerKey: String? = nil, brokerPorts: BrokerPorts? = nil) {
        self.brokerAddress = brokerAddress
        self.hosts = hosts
        self.groups = groups
        self.brokerKey = brokerKey
        self.brokerPorts = brokerPorts
    }
}

/// Reads and checks a hosts file, reporting every problem with its JSON path.
public enum HostsFileValidator {
    static let fields = ["broker_address", "broker_key", "broker_ports", "hosts"]
    static let hostFields = ["kind", "host", "max_workers", "alv_path", "ssh_options"]
    static let groupFields = ["kind", "name", "workers_per_instance", "max_instances", "alv_path", "instance_cost_per_hour", "poll_sec"]
    static let awsFields = groupFields + ["group", "region", "endpoint", "profile"]
    static let commandFields = groupFields + ["scale_to", "list", "terminate", "instance_id"]

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
        let brokerKey = f["broker_key"].flatMap { sink.string($0, at: path.appending("broker_key")) }
        var ports: HostsFile.BrokerPorts?
        if let node = f["broker_ports"], let p = sink.object(node, at: path.appending("broker_ports"), allowed: ["work", "metrics", "control", "enrol"], required: [], what: "the broker's ports") {
            var value = HostsFile.BrokerPorts()
            let at = path.appending("broker_ports")
            if let n = sink.integer(p["work"], at: at.appending("work"), minimum: 1, maximum: 65535) { value.work = n }
            if let n = sink.integer(p["metrics"], at: at.appending("metrics"), minimum: 1, maximum: 65535) { value.metrics = n }
            if let n = sink.integer(p["control"], at: at.appending("control"), minimum: 1, maximum: 65535) { value.control = n }
            if let n = sink.integer(p["enrol"], at: at.appending("enrol"), minimum: 1, maximum: 65535) { value.enrol = n }
            if Set([value.work, value.metrics, value.control, value.enrol]).count < 4 {
                sink.error(at, node, "expected four different ports, found work \(value.work), metrics \(value.metrics), control \(value.control), enrol \(value.enrol)")
            }
            ports = value
        }
        var hosts: [HostsFile.Host] = []
        var groups: [HostsFile.InstanceGroup] = []
        var seen: [String: Int] = [:]
        if let node = f["hosts"] {
            let listPath = path.appending("hosts")
            if let elements = node.elements {
                if elements.isEmpty { sink.error(listPath, node, "expected at least one host, found an empty array") }
                for (index, element) in elements.enumerated() {
                    let at = listPath.appending(index)
                    let kind = element.members?.first(where: { $0.key == "kind" }).flatMap { sink.oneOf($0.value, at: at.appending("kind"), ["ssh", "aws-asg", "command"]) } ?? "ssh"
                    if kind != "ssh" {
                        guard let group = instanceGroup(element, kind: kind, at: at, sink: &sink) else { continue }
                        if let first = seen[group.name] {
                            sink.error(at.appending("name"), element, "\"\(group.name)\" is listed twice (first at $.hosts[\(first)])")
                        } else {
                            seen[group.name] = index
                            groups.append(group)
                        }
                        continue
                    }
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
        if !groups.isEmpty {
            // Instances reach the broker at an address and a key they were given once, in their user data.
            if broker == nil { sink.error(path.appending("broker_address"), root, "instance groups (\(groups.map(\.name).joined(separator: ", "))) need \"broker_address\": the address their instances reach the broker at") }
            if brokerKey == nil { sink.error(path.appending("broker_key"), root, "instance groups (\(groups.map(\.name).joined(separator: ", "))) need \"broker_key\": a key file from `alv keys generate`, the broker's identity in their user data") }
        }
        let model = HostsFile(brokerAddress: broker, hosts: hosts, groups: groups, brokerKey: brokerKey, brokerPorts: ports ?? (groups.isEmpty ? nil : HostsFile.BrokerPorts()))
        return Validated(model: sink.diagnostics.hasErrors ? nil : model, diagnostics: sink.diagnostics, document: root)
    }

    /// A path from the hosts file: absolute, or relative to the file's directory.
    public static func resolve(_ path: String, relativeTo file: String) -> String {
        path.hasPrefix("/") ? path : ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path)
    }

    /// An `aws-asg` or `command` entry.
    static func instanceGroup(_ element: JSONNode, kind: String, at: JSONPath, sink: inout DiagnosticSink) -> HostsFile.InstanceGroup? {
        let aws = kind == "aws-asg"
        let required = ["name", "workers_per_instance", "max_instances"] + (aws ? ["group", "region"] : ["scale_to", "list"])
        guard let g = sink.object(element, at: at, allowed: aws ? awsFields : commandFields, required: required, what: "an instance group") else { return nil }
        let name = sink.identifier(g["name"], at: at.appending("name"))
        let perInstance = sink.integer(g["workers_per_instance"], at: at.appending("workers_per_instance"), minimum: 1, maximum: 256)
        let maximum = sink.integer(g["max_instances"], at: at.appending("max_instances"), minimum: 0, maximum: 10_000)
        let alvPath = g["alv_path"].flatMap { sink.string($0, at: at.appending("alv_path")) } ?? "/usr/local/bin/alv"
        if !alvPath.hasPrefix("/") { sink.error(at.appending("alv_path"), g["alv_path"], "expected an absolute path on the instances, found \"\(alvPath.prefix(80))\"") }
        let cost = sink.number(g["instance_cost_per_hour"], at: at.appending("instance_cost_per_hour"), minimum: 0, maximum: 1e6, what: "a cost per instance-hour")
        let poll = sink.number(g["poll_sec"], at: at.appending("poll_sec"), minimum: 0.5, maximum: 300, what: "seconds between descriptions of the group")
        var provider: HostsFile.InstanceGroup.Provider?
        if aws {
            let group = sink.string(g["group"], at: at.appending("group"))
            let region = sink.string(g["region"], at: at.appending("region"))
            if let region, !region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) {
                sink.error(at.appending("region"), g["region"], "expected an AWS region such as eu-west-1, found \"\(region.prefix(40))\"")
            }
            let endpoint = g["endpoint"].flatMap { sink.string($0, at: at.appending("endpoint")) }
            if let endpoint, let problem = ProfileValidator.httpURLProblem(endpoint) { sink.error(at.appending("endpoint"), g["endpoint"], problem) }
            let profile = g["profile"].flatMap { sink.string($0, at: at.appending("profile")) }
            if let group, let region { provider = .awsAutoScaling(group: group, region: region, endpoint: endpoint, profile: profile) }
        } else {
            func argv(_ key: String, placeholder: String?) -> [String]? {
                guard let node = g[key] else { return nil }
                guard let list = node.elements, !list.isEmpty else {
                    sink.error(at.appending(key), node, "expected a command as a non-empty array of arguments (no shell), found \(node.found)")
                    return nil
                }
                let args = list.enumerated().compactMap { sink.string($1, at: at.appending(key).appending($0)) }
                guard args.count == list.count else { return nil }
                if let placeholder, !args.contains(where: { $0.contains(placeholder) }) {
                    sink.error(at.appending(key), node, "expected \(placeholder) in one of the arguments (where the provider takes it)")
                    return nil
                }
                return args
            }
            let scaleTo = argv("scale_to", placeholder: "{{instances}}")
            let list = argv("list", placeholder: nil)
            let terminate = argv("terminate", placeholder: "{{instance}}")
            let instanceID = g["instance_id"].flatMap { sink.string($0, at: at.appending("instance_id")) }
            if let instanceID, instanceID.contains("\n") { sink.error(at.appending("instance_id"), g["instance_id"], "expected one line of shell that prints the machine's id") }
            if let scaleTo, let list, g["terminate"] == nil || terminate != nil { provider = .command(scaleTo: scaleTo, list: list, terminate: terminate, instanceID: instanceID) }
        }
        guard let name, let perInstance, let maximum, let provider, alvPath.hasPrefix("/") else { return nil }
        return HostsFile.InstanceGroup(name: name, provider: provider, workersPerInstance: perInstance, maxInstances: maximum, alvPath: alvPath, costPerInstanceHour: cost, pollSeconds: poll)
    }
}
