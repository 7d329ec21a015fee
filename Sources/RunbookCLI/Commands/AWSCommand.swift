import ArgumentParser
import Foundation

struct AWSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aws", abstract: "Check the AWS wiring.", subcommands: [WhoAmI.self])

    struct WhoAmI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "whoami", abstract: "STS GetCallerIdentity: account, ARN, region and endpoint in use.")
        @Option(help: "Region to ask in (default: AWS_REGION, AWS_DEFAULT_REGION, the profile).") var region: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            throw CLIExit(1, "not wired yet")
        }
    }
}
