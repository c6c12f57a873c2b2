import ALVModel
import ArgumentParser
import Foundation
import Synchronization

struct ClusterInstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Copy this alv binary over ssh to every host of a hosts file that lacks it, and check that it starts there.",
        discussion: """
            Each host gets ~/.alv/bin/alv-VERSION-HASH (copied only when missing or different; sent on ssh's \
            stdin, so nothing but ssh is needed there) and ~/.alv/bin/alv pointing to it; use \
            "alv_path": "~/.alv/bin/alv" in the hosts file. Then `alv --version` is run there; a shared library \
            it cannot find is named with the Debian package that has it. Build with --static-swift-stdlib \
            (README) so hosts need no Swift runtime.
            """)

    @Option(help: ArgumentHelp("The hosts file.", valueName: "FILE"))
    var hosts: String

    func run() throws {
        let result = HostsFileValidator.validateFile(atPath: hosts)
        guard let file = result.model else { throw CLIError.badInput(result.diagnostics.map(\.description).joined(separator: "\n")) }
        let remote = file.hosts.filter { !$0.isLocal }
        guard !remote.isEmpty else {
            printError("alv cluster install: \(hosts) lists no remote host; nothing to copy")
            return
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        guard let digest = Shell.run(["sha256sum", executable]).output.split(separator: " ").first.map(String.init), digest.count == 64 else {
            throw CLIError.runtime("cannot hash \(executable) (sha256sum)")
        }
        let name = "alv-\(Alv.version)-\(digest.prefix(12))"
        let size = (try? FileManager.default.attributesOfItem(atPath: executable)[.size] as? Int) ?? 0
        printError("alv cluster install: \(name) (\(String(format: "%.1f", Double(size) / 1e6)) MB) to \(remote.count) host(s)")
        let outcomes = Mutex<[Int: Outcome]>([:])
        DispatchQueue.concurrentPerform(iterations: remote.count) { i in
            let outcome = Self.install(executable: executable, name: name, digest: digest, on: remote[i])
            outcomes.withLock { $0[i] = outcome }
        }
        let all = outcomes.withLock { $0 }
        var failed = 0
        for i in remote.indices {
            guard let outcome = all[i] else { continue }
            print("\(remote[i].host): \(outcome.line)")
            if !outcome.ok { failed += 1 }
        }
        if failed > 0 { throw CLIError.runtime("alv cluster install: \(failed) of \(remote.count) host(s) cannot run alv (see above)") }
        printError("alv cluster install: every host runs \(name); hosts file: \"alv_path\": \"~/.alv/bin/alv\"")
    }

    struct Outcome {
        var ok: Bool
        var line: String
    }

    static func install(executable: String, name: String, digest: String, on host: HostsFile.Host) -> Outcome {
        let ssh = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"] + host.sshOptions + [host.host]
        let path = "\"$HOME\"/.alv/bin/\(name)"
        let started = Date()
        let probe = Shell.run(ssh + ["sha256sum \(path) 2>/dev/null || true"])
        guard probe.status == 0 else { return Outcome(ok: false, line: "cannot connect over ssh: \(probe.output.trimmed.suffix(300))") }
        var copied = ""
        if !probe.output.hasPrefix(digest) {
            // One session: the copy, then its hash as the host computes it.
            let send = Shell.run(ssh + ["mkdir -p \"$HOME\"/.alv/bin && cat > \(path).part && chmod 755 \(path).part && mv \(path).part \(path) && sha256sum \(path)"], stdinFile: executable)
            guard send.status == 0 else { return Outcome(ok: false, line: "copy failed: \(send.output.trimmed.suffix(300))") }
            guard send.output.hasPrefix(digest) else { return Outcome(ok: false, line: "the copy differs from this binary (disk full?): \(send.output.trimmed.suffix(200))") }
            copied = "copied in \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
        } else {
            copied = "already there"
        }
        // One session: the link, then whether the binary starts there.
        let version = Shell.run(ssh + ["ln -sfn \(name) \"$HOME\"/.alv/bin/alv; \(path) --version"])
        if version.status == 0 {
            return Outcome(ok: true, line: "\(copied); starts (\(version.output.split(separator: "\n").first ?? "")); ~/.alv/bin/alv → \(name)")
        }
        let ldd = Shell.run(ssh + ["ldd \(path) 2>&1 | grep 'not found' || true"]).output
        let missing = ldd.split(separator: "\n").compactMap { $0.split(separator: " ").first.map { String($0).trimmingCharacters(in: .whitespaces) } }
        if missing.isEmpty {
            return Outcome(ok: false, line: "\(copied); does not start: \(version.output.trimmed.suffix(300))")
        }
        var packages: [String] = [], runtime = false, unknown: [String] = []
        for library in missing {
            if let package = libraryPackages.first(where: { library.hasPrefix($0.key) })?.value {
                if !packages.contains(package) { packages.append(package) }
            } else if library.hasPrefix("libswift") || library.hasPrefix("libFoundation") || library.hasPrefix("lib_Foundation") || library.hasPrefix("libdispatch") || library.hasPrefix("libBlocksRuntime") {
                runtime = true
            } else {
                unknown.append(library)
            }
        }
        var advice: [String] = []
        if !packages.isEmpty { advice.append("install them there: sudo apt-get install -y \(packages.joined(separator: " "))") }
        if runtime { advice.append("the Swift runtime is missing: build with `swift build -c release --static-swift-stdlib` (README)") }
        if !unknown.isEmpty { advice.append("also missing: \(unknown.joined(separator: ", "))") }
        return Outcome(ok: false, line: "\(copied); does not start, missing \(missing.joined(separator: ", ")); " + advice.joined(separator: "; "))
    }

    /// Shared libraries alv links, and the Debian 12 package of each.
    static let libraryPackages = ["libzmq.so": "libzmq5", "libcurl.so": "libcurl4", "libsqlite3.so": "libsqlite3-0"]
}

/// Runs a command to its end, stdout and stderr together (for ssh, whose output is small).
enum Shell {
    static func run(_ arguments: [String], stdinFile: String? = nil) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = stdinFile.flatMap { FileHandle(forReadingAtPath: $0) } ?? FileHandle.nullDevice
        do { try process.run() } catch { return (127, "cannot start \(arguments.first ?? ""): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
