import Foundation

/// The AWS JSON 1.1 protocol's wire details: request bodies, response decoding and error shapes.
///
/// A request is `POST /` with `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target:
/// <targetPrefix>.<Operation>` and the input as a JSON object; absent optional members are left out.
public enum AWSJSON {
    /// The `Content-Type` of requests (and of the answers).
    public static let contentType = "application/x-amz-json-1.1"

    /// The `X-Amz-Target` header value, e.g. `secretsmanager.GetSecretValue`.
    public static func target(prefix: String, operation: String) -> String { "\(prefix).\(operation)" }

    /// The request body: compact JSON with sorted keys and unescaped `/` (secret names are paths),
    /// so the same input always gives the same bytes (and the same signature).
    public static func encode(_ input: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dataEncodingStrategy = .base64
        return try encoder.encode(input)
    }

    /// Decodes an answer; an empty body decodes as `{}`. Timestamps are epoch seconds, as the protocol sends them.
    static func decode<Output: Decodable>(_ type: Output.Type, from body: Data, operation: String) throws -> Output {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        decoder.dataDecodingStrategy = .base64
        do {
            return try decoder.decode(type, from: body.isEmpty ? Data("{}".utf8) : body)
        } catch let error as DecodingError {
            // Name the path, never a value: answers may carry secrets.
            throw AWSDecodingError(operation: operation, message: "unexpected JSON at \(describe(error))")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        let path: [any CodingKey]
        switch error {
        case let .typeMismatch(_, c), let .valueNotFound(_, c), let .dataCorrupted(c): path = c.codingPath
        case let .keyNotFound(key, c): path = c.codingPath + [key]
        @unknown default: path = []
        }
        let text = path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return text.isEmpty ? "the top level" : text
    }

    /// The error code from a JSON `__type` (or header) value, as botocore reads it: anything after the
    /// first `:` is dropped, then anything up to the last `#` (`aws.protocoltests#Bad:http://…` → `Bad`).
    public static func errorCode(_ raw: String) -> String {
        var code = raw
        if let colon = code.firstIndex(of: ":") { code = String(code[..<colon]) }
        if let hash = code.lastIndex(of: "#") { code = String(code[code.index(after: hash)...]) }
        return code.trimmingCharacters(in: .whitespaces)
    }
}

extension AWSError {
    /// Parses a JSON-protocol error: `{"__type": "ResourceNotFoundException", "message": "…"}`
    /// (code also from `code` or the `X-Amzn-ErrorType` header; message from `message` or `Message`).
    /// A body that is not a JSON object (e.g. an HTML 500 page) yields a generic code naming the status.
    static func parseJSON(body: Data, statusCode: Int, headers: [(String, String)], operation: String) -> AWSError {
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
        let requestID = header("x-amzn-requestid") ?? header("x-amz-request-id")
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        let rawCode = (object?["__type"] as? String) ?? (object?["code"] as? String) ?? header("x-amzn-errortype")
        let code = rawCode.map(AWSJSON.errorCode).flatMap { $0.isEmpty ? nil : $0 } ?? genericCode(statusCode)
        let message: String
        if let object {
            message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
        } else {
            message = body.isEmpty ? "" : "HTTP \(statusCode) with a non-JSON body: \(snippet(body))"
        }
        return AWSError(code: code, message: message, statusCode: statusCode, requestID: requestID, operation: operation)
    }
}
