import Foundation
import RunbookAWS
import RunbookEngine

/// An SNS topic by name; found by listing the region's topics (its ARN is what the other calls take).
struct SNSTopicResource: ManagedResource {
    let sns: SNS
    let name: String
    let invocation: ActionInvocation

    static func sns(_ provider: AWSClientProvider, region: String?) throws -> SNS {
        do { return try provider.client().sns(region: region) } catch { throw AWSStep.failure(error, "SNS") }
    }

    var description: String { "SNS topic \(name) in \(sns.region)" }
    // CreateTopic and DeleteTopic are idempotent; a missing topic is an empty listing.
    static let notFoundCodes: Set<String> = []

    func fetch() async throws -> String? {
        try await collectAllPages { try await sns.listTopics(nextToken: $0) }.first { $0.hasSuffix(":\(name)") }
    }

    func tags(of arn: String) async throws -> [AWSTag] { try await sns.listTagsForResource(arn: arn) }
    func create() async throws -> String { try await sns.createTopic(name: name, tags: AWSTags.ownership(invocation)) }
    func delete(_ arn: String) async throws { try await sns.deleteTopic(arn: arn) }
}

extension SNSTopicResource {
    /// The topic named by the step's `name` in its `region`.
    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        self.init(sns: try SNSTopicResource.sns(provider, region: invocation.string("region")), name: try invocation.requiredString("name"), invocation: invocation)
    }
}

/// `aws.sns.create-topic`: creates (or adopts) a topic; undo deletes it if this run created it.
public struct CreateTopicAction: ResourceCreatingAction {
    public let name = "aws.sns.create-topic"
    public let summary = "Create an SNS topic (adopt an existing one)"
    public let inputs = AWSStep.nameInRegionInputs
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    func resource(_ invocation: ActionInvocation) throws -> SNSTopicResource { try SNSTopicResource(provider, invocation) }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let adoption = try await ResourceLifecycle.createOrAdopt(try resource(invocation), runID: invocation.runID)
        return adoption.outputs(["arn": adoption.resource])
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let topic = try resource(invocation)
        return try await ResourceLifecycle.plan(topic, create: "SNS topic \(topic.name) in \(topic.sns.region)") { _ in "SNS topic \(topic.name) exists" }
    }
}
