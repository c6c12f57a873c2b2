import Foundation
import PackagePlugin

/// Embeds the package's `config/` folder (built-in vectors, profiles, targets, JSON Schemas and their data
/// files) in the target that uses the plugin, as generated Swift source: a binary copied alone to another
/// machine still has its built-ins. `config/` stays the one place they are edited.
@main
struct EmbedConfig: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let config = context.package.directoryURL.appendingPathComponent("config")
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("EmbeddedConfig.swift")
        var inputs: [URL] = []
        if let walker = FileManager.default.enumerator(at: config, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                inputs.append(url)
            }
        }
        return [
            .buildCommand(
                displayName: "Embedding the \(inputs.count) built-in files of config",
                executable: try context.tool(named: "alv-embed").url,
                arguments: [config.path, output.path],
                inputFiles: inputs.sorted { $0.path < $1.path },
                outputFiles: [output])
        ]
    }
}
