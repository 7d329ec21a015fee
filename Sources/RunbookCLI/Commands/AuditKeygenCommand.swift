import ArgumentParser
import Foundation
import RunbookEngine

extension AuditCommand {
    /// `runbook audit keygen --output FILE`: a new Ed25519 signing key for run histories.
    struct KeygenCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keygen",
            abstract: "Write a new Ed25519 signing key (mode 0600) and print its public key.",
            discussion: """
                The private key goes to --output only (PEM, created 0600 through a temporary file; an existing \
                file is kept unless --force). Standard output gets the public key (ed25519:BASE64), for \
                `runbook audit verify --public-key`. Sign runs with RUNBOOK_SIGNING_KEY=FILE or --signing-key FILE.
                """)

        @OptionGroup var global: GlobalOptions
        @Option(name: .shortAndLong, help: ArgumentHelp("The file to write the private key to.", valueName: "file")) var output: String
        @Flag(help: "Replace the --output file if it exists.") var force = false

        func run() async throws {
            let destination = try ExportFile(path: output, force: force, databasePath: global.databasePath, what: "the key")
            let key = AuditSigningKey.generate()
            try destination.write(Data(key.pem.utf8))
            Terminal.out(key.publicKey.text)
            Terminal.warning("wrote a new Ed25519 signing key to \(output) (mode 0600; fingerprint \(key.fingerprint)); sign runs with RUNBOOK_SIGNING_KEY=\(output), check them with `runbook audit verify --public-key \(key.publicKey.text)`")
        }
    }
}
