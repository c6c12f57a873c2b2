import ALVBuiltins
import ArgumentParser
import Foundation

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema", abstract: "The JSON Schemas of alv's files (built into the binary).", subcommands: [Print.self])

    struct Print: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the JSON Schema of a load vector, an ALV profile or a JSON report.",
            discussion: "For editors and CI: alv schema print vector > load-vector.schema.json")

        static let files = ["vector": "schema/load-vector.schema.json", "profile": "schema/alv-profile.schema.json", "report": "schema/report.schema.json"]

        @Argument(help: ArgumentHelp("vector, profile or report.", valueName: "KIND"))
        var kind: String

        func validate() throws {
            guard Self.files[kind] != nil else { throw ValidationError("KIND expects vector, profile or report, got \"\(kind)\"") }
        }

        func run() throws {
            guard let path = Self.files[kind], let bytes = Builtins.file(path) else {
                throw CLIError.runtime("this alv was built without \(Self.files[kind] ?? kind)")
            }
            FileHandle.standardOutput.write(Data(bytes))
        }
    }
}
