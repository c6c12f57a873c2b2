import ALVBuiltins
import ALVTesting
import Foundation
import Testing

/// The binary's embedded copy of config/ is config/, file for file and byte for byte.
struct BuiltinsTests {
    @Test func theEmbeddedFilesAreTheConfigFolder() throws {
        let root = Fixtures.path("config")
        var onDisk: [String: [UInt8]] = [:]
        let walker = try #require(FileManager.default.enumerator(atPath: root))
        for case let relative as String in walker {
            var isDirectory: ObjCBool = false
            let path = root + "/" + relative
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { continue }
            onDisk[relative] = Array(FileManager.default.contents(atPath: path) ?? Data())
        }
        #expect(onDisk.count >= 15)
        #expect(Set(Builtins.files.keys) == Set(onDisk.keys))
        for (path, bytes) in onDisk { #expect(Builtins.file(path) == bytes, "\(path) differs from its embedded copy") }

        let out = TemporaryDirectory("alv-builtins")
        try Builtins.materialize(in: out.path)
        #expect(FileManager.default.contents(atPath: out.file("vectors/data/users.csv")).map(Array.init) == onDisk["vectors/data/users.csv"])
    }
}
