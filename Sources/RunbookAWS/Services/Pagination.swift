/// One page of a paginated list and the token for the next page (nil on the last page).
public struct AWSPage<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextToken: String?

    public init(items: [Item], nextToken: String?) {
        self.items = items
        self.nextToken = nextToken
    }
}

/// Fetches every page: calls `fetch` with nil, then with each next token, until there is none.
/// Stops after `maxPages` to guard against a service that repeats a token.
public func collectAllPages<Item: Sendable>(maxPages: Int = 1000, _ fetch: (String?) async throws -> AWSPage<Item>) async throws -> [Item] {
    var all: [Item] = []
    var token: String?
    var seen: Set<String> = []
    for _ in 0..<maxPages {
        let page = try await fetch(token)
        all += page.items
        guard let next = page.nextToken, !next.isEmpty, seen.insert(next).inserted else { return all }
        token = next
    }
    return all
}
