import Foundation

/// A service spoken to with the AWS Query protocol: each operation is a form-encoded action answered in XML.
protocol QueryService: Sendable {
    static var service: AWSService { get }
    var client: AWSClient { get }
    /// The region calls go to (nil: the client's default; global services are signed for us-east-1 whatever it is).
    var callRegion: String? { get }
}

/// A structure of a Query service's model that several operations answer, each as one element named `element`.
protocol QueryAnswer: Sendable {
    /// The element of an answer that holds it, e.g. `DBInstance`.
    static var element: String { get }
    init(_ node: XMLNode)
}

extension QueryService {
    /// Calls `action`; `idempotent` says whether a call whose outcome is unknown may be sent again.
    func call(_ action: String, _ parameters: QueryParameters, idempotent: Bool) async throws -> XMLNode {
        try await client.query(service: Self.service, region: callRegion, action: action, parameters: parameters, idempotent: idempotent)
    }

    /// Calls `action` and decodes the answer's `element` (the answer itself when it has none).
    func call<Output>(_ action: String, _ parameters: QueryParameters, idempotent: Bool, element: String,
                      _ decode: (XMLNode) -> Output) async throws -> Output {
        let answer = try await call(action, parameters, idempotent: idempotent)
        return decode(answer.child(element) ?? answer)
    }

    /// Calls `action` and decodes the one `Answer` it answers.
    func answer<Answer: QueryAnswer>(_ action: String, _ parameters: QueryParameters, idempotent: Bool) async throws -> Answer {
        try await call(action, parameters, idempotent: idempotent, element: Answer.element, Answer.init)
    }

    /// Adds `tags` (encoded under `prefix`) to the resource that `parameters` name, with an idempotent `action`.
    func addTags(_ action: String, _ parameters: QueryParameters, prefix: String, _ tags: [AWSTag]) async throws {
        var p = parameters
        p.setTags(prefix, tags)
        _ = try await call(action, p, idempotent: true)
    }

    /// The tags of the resource that `parameters` name, from a read-only `action` answering them in `list`.
    func tags(_ action: String, _ parameters: QueryParameters, list: String) async throws -> [AWSTag] {
        try await call(action, parameters, idempotent: true).list(list).map(AWSTag.decode)
    }
}
