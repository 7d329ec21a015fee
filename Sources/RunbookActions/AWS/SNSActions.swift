import Foundation
import RunbookAWS
import RunbookEngine

enum SNSSupport {
    static func sns(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws -> SNS {
        do { return try provider.client().sns(region: invocation.string("region")) } catch { throw AWSStep.failure(error, "SNS") }
    }

    /// The ARN of the topic named `name`, if it exists.
    static func find(_ sns: SNS, _ name: String) async throws -> String? {
        var token: String?
        repeat {
            let page = try await AWSStep.run("SNS topics in \(sns.region)") { try await sns.listTopics(nextToken: token) }
            if let arn = page.items.first(where: { $0.hasSuffix(":\(name)") }) { return arn }
            token = page.nextToken
        } while token != nil
        return nil
    }

    static func owner(_ sns: SNS, _ arn: String, _ invocation: ActionInvocation) async throws -> Ownership {
        Ownership.of(try await AWSStep.run("tags of SNS topic \(arn)") { try await sns.listTagsForResource(arn: arn) }, runID: invocation.runID)
    }
}

/// `aws.sns.create-topic`: creates (or adopts) a topic; undo deletes it if this run created it.
public struct CreateTopicAction: StepAction {
    public let name = "aws.sns.create-topic"
    public let summary = "Create an SNS topic (adopt an existing one)"
    public let inputs = [ActionInputSpec("name", required: true), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let sns = try SNSSupport.sns(provider, invocation)
        let topic = try invocation.requiredString("name")
        if let arn = try await SNSSupport.find(sns, topic) {
            let ownership = try await SNSSupport.owner(sns, arn, invocation)
            return ["arn": arn, "result": ownership.foundResult, "owned": ownership.owned]
        }
        let arn = try await AWSStep.run("SNS topic \(topic) in \(sns.region)") { try await sns.createTopic(name: topic, tags: AWSTags.ownership(invocation)) }
        return ["arn": arn, "result": "created", "owned": "true"]
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let sns = try SNSSupport.sns(provider, invocation)
        let topic = try invocation.requiredString("name")
        guard let arn = try await SNSSupport.find(sns, topic) else { return ["undo": "already gone"] }
        guard try await SNSSupport.owner(sns, arn, invocation) == .thisRun else { return ["undo": "kept \(topic): not created by this run"] }
        try await AWSStep.run("SNS topic \(topic) in \(sns.region)") { try await sns.deleteTopic(arn: arn) }
        return ["undo": "deleted \(topic)"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let sns = try SNSSupport.sns(provider, invocation)
        let topic = try invocation.requiredString("name")
        return try await SNSSupport.find(sns, topic) == nil ? ActionPlan(.create, "SNS topic \(topic) in \(sns.region)") : ActionPlan(.adopt, "SNS topic \(topic) exists")
    }
}

/// `aws.sns.delete-topic`: deletes a topic by name if runbook created it (absent is fine).
public struct DeleteTopicAction: StepAction {
    public let name = "aws.sns.delete-topic"
    public let summary = "Delete a runbook-created SNS topic (absent is fine)"
    public let inputs = [ActionInputSpec("name", required: true), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let sns = try SNSSupport.sns(provider, invocation)
        let topic = try invocation.requiredString("name")
        guard let arn = try await SNSSupport.find(sns, topic) else { return ["result": "absent"] }
        let tags = try await AWSStep.run("tags of SNS topic \(topic)") { try await sns.listTagsForResource(arn: arn) }
        guard tags.contains(where: { $0.key == AWSTags.runID }) else { return ["result": "kept", "reason": "\(topic) was not created by runbook"] }
        try await AWSStep.run("SNS topic \(topic) in \(sns.region)") { try await sns.deleteTopic(arn: arn) }
        return ["result": "deleted"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let sns = try SNSSupport.sns(provider, invocation)
        let topic = try invocation.requiredString("name")
        return try await SNSSupport.find(sns, topic) == nil ? ActionPlan(.nothing, "\(topic) is absent") : ActionPlan(.change, "delete SNS topic \(topic)")
    }
}
