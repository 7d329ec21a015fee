import Foundation

/// Form parameters of an AWS Query request, with helpers for the list and structure encodings
/// (`Parameters.Parameter.1.ParameterName` in RDS, `Dimensions.member.2.Name` in CloudWatch, EC2's
/// `Filter.1.Value.1`): the list item name is the model's `locationName` (`member` when it has none).
public struct QueryParameters: Sendable, Equatable {
    public private(set) var items: [(String, String)] = []

    public init() {}

    public static func == (a: QueryParameters, b: QueryParameters) -> Bool {
        a.items.map { "\($0.0)=\($0.1)" } == b.items.map { "\($0.0)=\($0.1)" }
    }

    /// Sets a scalar; nil is skipped.
    public mutating func set(_ key: String, _ value: String?) {
        guard let value else { return }
        items.append((key, value))
    }

    public mutating func set(_ key: String, _ value: Int?) { set(key, value.map(String.init)) }
    public mutating func set(_ key: String, _ value: Double?) { set(key, value.map { String($0) }) }
    public mutating func set(_ key: String, _ value: Bool?) { set(key, value.map { $0 ? "true" : "false" }) }

    /// A list of scalars: `prefix.1`, `prefix.2`… (prefix includes `.member` for Query services).
    public mutating func setList(_ prefix: String, _ values: [String]?) {
        guard let values else { return }
        for (i, v) in values.enumerated() { items.append(("\(prefix).\(i + 1)", v)) }
    }

    /// A list of structures: `prefix.N.Field` for each field the closure sets.
    public mutating func setList<T>(_ prefix: String, _ values: [T]?, _ encode: (T, inout QueryParameters) -> Void) {
        guard let values else { return }
        for (i, v) in values.enumerated() {
            var nested = QueryParameters()
            encode(v, &nested)
            for (k, value) in nested.items { items.append(("\(prefix).\(i + 1).\(k)", value)) }
        }
    }

    /// Tags as `prefix.N.Key` / `prefix.N.Value`.
    public mutating func setTags(_ prefix: String, _ tags: [AWSTag]?) {
        setList(prefix, tags) { tag, p in
            p.set("Key", tag.key)
            p.set("Value", tag.value)
        }
    }

    /// The `application/x-www-form-urlencoded` body with `Action` and `Version` first.
    public func formBody(action: String, version: String) -> String {
        ([("Action", action), ("Version", version)] + items)
            .map { "\(SigV4.uriEncode($0.0))=\(SigV4.uriEncode($0.1))" }
            .joined(separator: "&")
    }

    /// The value set for a key, if any (for tests and validation).
    public subscript(key: String) -> String? { items.first { $0.0 == key }?.1 }
}

extension QueryParameters: ExpressibleByDictionaryLiteral {
    /// Scalars in the order written; nil values are skipped, as by ``set(_:_:)-(String,String?)``.
    public init(dictionaryLiteral elements: (String, String?)...) {
        for (key, value) in elements { set(key, value) }
    }
}

/// A resource tag.
public struct AWSTag: Sendable, Equatable, Hashable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }

    static func decode(_ node: XMLNode) -> AWSTag {
        AWSTag(node.string("Key") ?? "", node.string("Value") ?? "")
    }
}
