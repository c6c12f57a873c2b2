import ALVModel
import ALVPlanner
import ALVTransport
import ArgumentParser
import Foundation

/// `alv cluster user-data`: the boot script an instance group's launch template runs.
struct ClusterUserDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user-data",
        abstract: "Print the cloud-init script that starts alv workers on an instance group's machines.",
        discussion: """
            The script writes an enrolment file (the broker's public key, the launcher's name and a token the \\
            broker signed, valid for --valid-days) and starts workers_per_instance `alv worker --enrol` loops. \\
            Each worker makes its own CURVE key pair on the machine and the broker admits it for that machine \\
            and slot alone, only while the group reports the machine: no worker key is in the user data. The \\
            token is a bearer credential for enrolment: keep the user data as private as the launch template, \\
            and re-render (a new token) to revoke. The machine's id comes from the EC2 instance metadata \\
            (IMDSv2) for aws-asg, from the launcher's instance_id shell (default `hostname`) for a command \
            launcher; ALV_INSTANCE_ID overrides either.
            """)

    @Option(help: ArgumentHelp("The hosts file.", valueName: "FILE"))
    var hosts: String

    @Option(help: ArgumentHelp("The instance group's name in the hosts file.", valueName: "NAME"))
    var host: String

    @Option(name: .customLong("valid-days"), help: "Days the enrolment token stays valid.")
    var validDays: Int = 30

    func validate() throws {
        guard (1...3650).contains(validDays) else { throw ValidationError("--valid-days must be 1–3650, got \(validDays)") }
    }

    func run() throws {
        let result = HostsFileValidator.validateFile(atPath: hosts)
        guard let file = result.model else { throw CLIError.badInput(result.diagnostics.map(\.description).joined(separator: "\n")) }
        guard let group = file.groups.first(where: { $0.name == host }) else {
            let names = file.groups.map(\.name)
            throw CLIError.badInput("--host \(host): \(hosts) has no instance group of that name (\(names.isEmpty ? "it has none" : "it has " + names.joined(separator: ", ")))")
        }
        guard let address = file.brokerAddress, let keyPath = file.brokerKey, let ports = file.brokerPorts else {
            throw CLIError.badInput("\(hosts): instance groups need broker_address and broker_key")
        }
        let keys = try KeyFiles.keyPair(HostsFileValidator.resolve(keyPath, relativeTo: hosts))
        guard let token = EnrolmentToken.issue(launcher: group.name, expires: Date().addingTimeInterval(Double(validDays) * 86_400), brokerSecretKey: keys.secretKey) else {
            throw CLIError.runtime("cannot sign an enrolment token with \(keyPath)")
        }
        print(Self.script(group: group, brokerAddress: address, ports: ports, enrolLine: EnrolmentToken.renderFile(serverPublicKey: keys.publicKey, launcher: group.name, token: token), validDays: validDays), terminator: "")
    }

    static func script(group: HostsFile.InstanceGroup, brokerAddress: String, ports: HostsFile.BrokerPorts, enrolLine: String, validDays: Int) -> String {
        let identity: String
        switch group.provider {
        case .awsAutoScaling:
            identity = """
                  t=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
                  instance=$(curl -sf -H "X-aws-ec2-metadata-token: $t" http://169.254.169.254/latest/meta-data/instance-id)

                """
        case .command(_, _, _, let instanceID):
            identity = "  instance=$(\(instanceID ?? "hostname"))\n"
        }
        let worker = [WorkerPool.shellQuoted(group.alvPath), "worker", "--broker", WorkerPool.shellQuoted(brokerAddress), "--work-port", String(ports.work), "--metrics-port", String(ports.metrics),
                      "--control-port", String(ports.control), "--enrol-port", String(ports.enrol), "--enrol", "\"$conf/enrol-\(group.name)\"",
                      "--instance", "\"$instance\"", "--slot", "\"$slot\""].joined(separator: " ")
        return """
            #!/bin/bash
            # alv workers for instance group \(group.name) (\(group.kind)), from `alv cluster user-data` (alv \(Alv.version)).
            # cloud-init runs this once at first boot. The enrolment token below expires in \(validDays) days; it is not
            # a worker key: each worker makes its own key pair here and the broker admits it for this machine alone.
            set -eu
            conf="${ALV_CONFIG_DIR:-/etc/alv}"
            logs="${ALV_LOG_DIR:-/var/log/alv}"
            umask 077
            mkdir -p "$conf" "$logs"
            cat > "$conf/enrol-\(group.name)" <<'ALV_ENROL'
            \(enrolLine)ALV_ENROL
            instance="${ALV_INSTANCE_ID:-}"
            if [ -z "$instance" ]; then
            \(identity)fi
            for slot in $(seq 1 \(group.workersPerInstance)); do
              # A worker leaves when its run ends or it is retired; the next run's broker takes it back.
              (while true; do \(worker) </dev/null; sleep 5; done) >>"$logs/worker-$slot.log" 2>&1 &
            done

            """
    }
}
