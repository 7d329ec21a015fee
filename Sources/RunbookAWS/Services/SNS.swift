import Foundation

/// Amazon SNS (Query, 2010-03-31) in one region.
public struct SNS: Sendable {
    let client: AWSClient
    public let region: String

    func call(_ action: String, _ p: QueryParameters, idempotent: Bool) async throws -> XMLNode {
        try await client.query(service: .sns, region: region, action: action, parameters: p, idempotent: idempotent)
    }

    /// `CreateTopic`; returns the topic ARN. Idempotent (same name and attributes returns the same topic).
    public func createTopic(name: String, tags: [AWSTag] = []) async throws -> String {
        var p = QueryParameters()
        p.set("Name", name)
        p.setTags("Tags.member", tags)
        guard let arn = try await call("CreateTopic", p, idempotent: true).string("TopicArn") else {
            throw AWSDecodingError(operation: "sns:CreateTopic", message: "no TopicArn")
        }
        return arn
    }

    /// `GetTopicAttributes` as a dictionary (e.g. `TopicArn`, `DisplayName`, `Policy`).
    public func getTopicAttributes(arn: String) async throws -> [String: String] {
        var p = QueryParameters()
        p.set("TopicArn", arn)
        let r = try await call("GetTopicAttributes", p, idempotent: true)
        var out: [String: String] = [:]
        for entry in r.list("Attributes") { out[entry.string("key") ?? ""] = entry.string("value") ?? "" }
        return out
    }

    /// `ListTopics`, one page of ARNs.
    public func listTopics(nextToken: String? = nil) async throws -> AWSPage<String> {
        var p = QueryParameters()
        p.set("NextToken", nextToken)
        let r = try await call("ListTopics", p, idempotent: true)
        return AWSPage(items: r.list("Topics").compactMap { $0.string("TopicArn") }, nextToken: r.string("NextToken"))
    }

    /// `DeleteTopic`. Idempotent (deleting a missing topic succeeds).
    public func deleteTopic(arn: String) async throws {
        var p = QueryParameters()
        p.set("TopicArn", arn)
        _ = try await call("DeleteTopic", p, idempotent: true)
    }

    /// `ListTagsForResource`.
    public func listTagsForResource(arn: String) async throws -> [AWSTag] {
        var p = QueryParameters()
        p.set("ResourceArn", arn)
        return try await call("ListTagsForResource", p, idempotent: true).list("Tags").map(AWSTag.decode)
    }
}
