import ALVPlanner
import Foundation

/// A port that was free a moment ago (bound to 0 and released), for daemons that cannot bind port 0.
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
public func waitForListener(port: Int, timeout: TimeInterval = 10) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(fd)
        if connected == 0 { return true }
        usleep(50_000)
    }
    return false
}

/// A daemon started by a test, in a process group of its own, and stopped (with its whole group) when
/// released. Its own group matters: sshd, for one, signals its process group when it shuts down.
public class TestDaemon {
    public let process: ChildProcess
    public let directory: TemporaryDirectory

    init(_ executable: String, _ arguments: [String], directory: TemporaryDirectory) throws {
        self.directory = directory
        process = try ChildProcess([executable] + arguments, stderrPath: directory.file("daemon.log"))
    }

    /// Stops the daemon (SIGTERM, then SIGKILL, to its group) and reaps it.
    public func stop() { process.stop(grace: 0) }

    /// What the daemon wrote to stderr.
    public var log: String { (try? String(contentsOfFile: directory.file("daemon.log"), encoding: .utf8)) ?? "" }

    deinit { stop() }
}

/// nginx answering 200 "ok" on 127.0.0.1: a target that outruns any debug-built generator.
public final class Nginx: TestDaemon {
    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }

    public init() throws {
        let directory = TemporaryDirectory("alv-nginx")
        port = freePort()
        let config = directory.write("nginx.conf", """
            worker_processes 1;
            pid \(directory.path)/nginx.pid;
            error_log \(directory.path)/error.log;
            events { worker_connections 4096; }
            http {
              access_log off;
              keepalive_requests 10000000;
              client_body_temp_path \(directory.path)/body;
              server { listen 127.0.0.1:\(port) backlog=4096; location / { return 200 "ok\\n"; } }
            }
            """)
        try super.init("/usr/sbin/nginx", ["-c", config, "-g", "daemon off;"], directory: directory)
        guard waitForListener(port: port) else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "nginx did not start: \(log)"]) }
    }
}

/// nginx over TLS on 127.0.0.1 with certificates made for the test by openssl: a CA, a server certificate it
/// signs (for localhost, alv.test and 127.0.0.1), a client certificate it signs, and an unrelated CA. Port
/// `port` speaks HTTP/1.1 and HTTP/2 (ALPN) and logs each request's protocol; `clientAuthPort` wants a
/// client certificate the CA signed.
public final class NginxTLS: TestDaemon {
    public let port: Int
    public let clientAuthPort: Int
    public var caPath: String { directory.file("ca.pem") }
    public var otherCAPath: String { directory.file("other-ca.pem") }
    public var clientCertPath: String { directory.file("client.pem") }
    public var clientKeyPath: String { directory.file("client.key") }
    /// One line per request: `$server_protocol $ssl_protocol $status`.
    public var accessLog: [String] {
        ((try? String(contentsOfFile: directory.file("access.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    public init() throws {
        let directory = TemporaryDirectory("alv-nginx-tls")
        port = freePort()
        clientAuthPort = freePort()
        let d = directory.path
        func openssl(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: d)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments.joined(separator: " ")) failed"]) }
        }
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + key + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=alv test CA"])
        try openssl(["req", "-x509"] + key + ["-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=another CA"])
        _ = directory.write("server.ext", "subjectAltName=DNS:localhost,DNS:alv.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        _ = directory.write("client.ext", "extendedKeyUsage=clientAuth\n")
        for (name, subject) in [("server", "/CN=localhost"), ("client", "/CN=alv load generator")] {
            try openssl(["req"] + key + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject])
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).ext"])
        }
        let config = directory.write("nginx.conf", """
            worker_processes 1;
            pid \(d)/nginx.pid;
            error_log \(d)/error.log;
            events { worker_connections 1024; }
            http {
              log_format proto '$server_protocol $ssl_protocol $status';
              access_log \(d)/access.log proto;
              client_body_temp_path \(d)/body;
              ssl_certificate \(d)/server.pem;
              ssl_certificate_key \(d)/server.key;
              server { listen 127.0.0.1:\(port) ssl http2; location / { return 200 "ok\\n"; } }
              server {
                listen 127.0.0.1:\(clientAuthPort) ssl;
                ssl_client_certificate \(d)/ca.pem;
                ssl_verify_client on;
                location / { return 200 "ok\\n"; }
              }
            }
            """)
        try super.init("/usr/sbin/nginx", ["-c", config, "-g", "daemon off;"], directory: directory)
        guard waitForListener(port: port), waitForListener(port: clientAuthPort) else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "nginx did not start: \(log)"])
        }
    }
}

/// sshd on 127.0.0.1 with a throwaway host key and one authorised client key, for the current user.
public final class LocalSSHD: TestDaemon {
    public let port: Int
    public let clientKey: String
    public let user: String

    public init() throws {
        let directory = TemporaryDirectory("alv-sshd")
        port = freePort()
        user = ProcessInfo.processInfo.environment["USER"] ?? String(cString: getpwuid(getuid())!.pointee.pw_name)
        clientKey = directory.file("client")
        for (file, comment) in [(directory.file("host"), "alv-test-host"), (clientKey, "alv-test-client")] {
            let keygen = Process()
            keygen.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
            keygen.arguments = ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]
            keygen.standardOutput = FileHandle.nullDevice
            try keygen.run()
            keygen.waitUntilExit()
        }
        let authorized = directory.file("authorized_keys")
        try FileManager.default.copyItem(atPath: clientKey + ".pub", toPath: authorized)
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let config = directory.write("sshd_config", """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(directory.path)/host
            PidFile \(directory.path)/sshd.pid
            AuthorizedKeysFile \(authorized)
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            AcceptEnv ALV_*
            """)
        try super.init("/usr/sbin/sshd", ["-D", "-e", "-f", config], directory: directory)
        guard waitForListener(port: port) else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "sshd did not start: \(log)"]) }
    }

    /// The `ssh_options` a hosts file needs to reach this sshd.
    public var sshOptions: [String] {
        ["-i", clientKey, "-p", String(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
    }

    public var host: String { "\(user)@127.0.0.1" }
}

/// Process ids whose command line matches `pattern` (an extended regular expression, as `pgrep -f` takes).
public func processes(matching pattern: String) -> [Int32] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
    process.arguments = ["-f", pattern]
    let pipe = Pipe()
    process.standardOutput = pipe
    try? process.run()
    process.waitUntilExit()
    return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").compactMap { Int32($0) }
}

/// Polls `condition` every 50 ms until it holds or `timeout` seconds pass; returns its last value.
public func waitFor(_ timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}

/// moto's AWS API server (PyPI `moto[server]`, in `.build-venv`) on 127.0.0.1. `authenticating` turns on
/// its IAM checks from the first call, so unknown access keys are refused.
public final class MotoServer: TestDaemon {
    public let port: Int
    public var endpoint: String { "http://127.0.0.1:\(port)" }
    public static var python: String { Fixtures.packageRoot.path + "/.build-venv/bin/python" }

    public init(authenticating: Bool = false) throws {
        port = freePort()
        let directory = TemporaryDirectory("alv-moto")
        let server = Fixtures.packageRoot.path + "/.build-venv/bin/moto_server"
        try super.init("/usr/bin/env", (authenticating ? ["INITIAL_NO_AUTH_ACTION_COUNT=0"] : []) + [server, "-H", "127.0.0.1", "-p", String(port)], directory: directory)
        guard waitForListener(port: port, timeout: 30) else { throw DaemonFailure(description: "moto_server did not listen on \(port): \(log.suffix(500))") }
    }

    /// Runs Tests/Fixtures/cloud/moto_group.py against this server. - Returns: its stdout.
    public func group(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Fixtures.path("Tests/Fixtures/cloud/moto_group.py"), arguments[0], endpoint] + arguments.dropFirst()
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

public struct DaemonFailure: Error, CustomStringConvertible {
    public var description: String
}
