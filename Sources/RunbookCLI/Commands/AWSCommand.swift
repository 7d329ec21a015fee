import ArgumentParser
import Foundation
import RunbookActions
import RunbookAWS
import RunbookEngine

struct AWSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aws", abstract: "Check the AWS wiring.", subcommands: [WhoAmI.self])

    struct WhoAmI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "whoami", abstract: "STS GetCallerIdentity: account, ARN, region and endpoint in use.")
        @Option(help: "Region to ask in (default: AWS_REGION, AWS_DEFAULT_REGION, the profile).") var region: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let configuration: AWSConfiguration
            do {
                configuration = try AWSConfiguration.resolve(environment: ProcessInfo.processInfo.environment)
            } catch {
                throw CLIExit.usage("\(error)")
            }
            let client = AWSClient(configuration: configuration, clock: CommandProcess.clock)
            let result: Result<AWSIdentity, any Error>
            do {
                result = .success(try await client.whoami(region: region))
            } catch {
                result = .failure(error)
            }
            try? await client.shutdown()
            let identity: AWSIdentity
            switch result {
            case .success(let value): identity = value
            case .failure(let error as AWSConfigurationError): throw CLIExit.usage("\(error)")
            case .failure(let error): throw CLIExit(ExitCodes.failed, "sts:GetCallerIdentity failed: \(error)")
            }
            if json {
                Terminal.out(JSONOutput.render([
                    "account": identity.account, "arn": identity.arn, "user_id": identity.userID,
                    "region": identity.region, "endpoint": identity.endpoint, "credentials": identity.credentialSource,
                ]))
                return
            }
            Terminal.out("account      \(identity.account)")
            Terminal.out("arn          \(identity.arn)")
            Terminal.out("user id      \(identity.userID)")
            Terminal.out("region       \(identity.region)")
            Terminal.out("endpoint     \(identity.endpoint)")
            Terminal.out("credentials  \(identity.credentialSource)")
        }
    }
}
