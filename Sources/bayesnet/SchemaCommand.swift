import ArgumentParser
import BayesNetSpec

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (draft 2020-12) of the spec language, for editors and validators.",
        discussion: """
            With `# yaml-language-server: $schema=PATH` as a spec's first line, editors that use the YAML \
            language server (VS Code, Neovim, Helix) complete keys and flag typos as you type. The schema checks \
            keys, types and names; `bayesnet validate` checks the rest (shapes through the network).
            """
    )

    @Option(name: .shortAndLong, help: "Write the schema to this file instead of standard output.")
    var output: String?

    func run() throws {
        let json = SpecSchema.json()
        try Console.emit(json, to: output)
    }
}
