import Foundation

/// Amazon SNS (Query, 2010-03-31) in one region.
public struct SNS: QueryService {
    static let service = AWSService.sns
    let client: AWSClient
    public let region: String
    var callRegion: String? { region }

    /// `CreateTopic`; returns the topic ARN. Idempotent (same name and attributes returns the same topic).
    public func createTopic(name: String, tags: [AWSTag] = []) async throws -> String {
        var p: QueryParameters = ["Name": name]
        p.setTags("Tags.member", tags)
        guard let arn = try await call("CreateTopic", p, idempotent: true).string("TopicArn") else {
            throw AWSDecodingError(operation: "sns:CreateTopic", message: "no TopicArn")
        }
        return arn
    }

    /// `GetTopicAttributes` as a dictionary (e.g. `TopicArn`, `DisplayName`, `Policy`).
    public func getTopicAttributes(arn: String) async throws -> [String: String] {
        let r = try await call("GetTopicAttributes", ["TopicArn": arn], idempotent: true)
        var out: [String: String] = [:]
        for entry in r.list("Attributes") { out[entry.string("key") ?? ""] = entry.string("value") ?? "" }
        return out
    }

    /// `ListTopics`, one page of ARNs.
    public func listTopics(nextToken: String? = nil) async throws -> AWSPage<String> {
        let r = try await call("ListTopics", ["NextToken": nextToken], idempotent: true)
        return AWSPage(items: r.list("Topics").compactMap { $0.string("TopicArn") }, nextToken: r.string("NextToken"))
    }

    /// `DeleteTopic`. Idempotent (deleting a missing topic succeeds).
    public func deleteTopic(arn: String) async throws {
        _ = try await call("DeleteTopic", ["TopicArn": arn], idempotent: true)
    }

    /// `ListTagsForResource`.
    public func listTagsForResource(arn: String) async throws -> [AWSTag] {
        try await tags("ListTagsForResource", ["ResourceArn": arn], list: "Tags")
    }
}
