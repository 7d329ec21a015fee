import Foundation

/// An error answered by an AWS service: its error code (e.g. `DBInstanceNotFound`), message,
/// HTTP status and request id. Match on ``code``, e.g. `error.code == AWSErrorCode.dbInstanceNotFound`.
public struct AWSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The service's error code string (`Code` element, or the root element name for shapes without one).
    public let code: String
    /// The service's message (may be empty).
    public let message: String
    /// The HTTP status code.
    public let statusCode: Int
    /// The request id, if the service sent one.
    public let requestID: String?
    /// The service and action that failed, e.g. `rds:DescribeDBInstances`.
    public let operation: String

    public init(code: String, message: String, statusCode: Int, requestID: String?, operation: String = "") {
        self.code = code
        self.message = message
        self.statusCode = statusCode
        self.requestID = requestID
        self.operation = operation
    }

    /// Throttling codes, transient codes and 5xx are retryable in the SDKs' standard mode.
    public var isRetryable: Bool { isThrottling || AWSError.transientCodes.contains(code) || (500...599).contains(statusCode) }

    /// Whether the service is asking us to slow down.
    public var isThrottling: Bool { AWSError.throttlingCodes.contains(code) || statusCode == 429 }

    public var description: String {
        "\(operation.isEmpty ? "" : operation + ": ")\(code) (HTTP \(statusCode)): \(message)\(requestID.map { " [request \($0)]" } ?? "")"
    }

    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
        "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
    ]
    static let transientCodes: Set<String> = ["RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable"]

    /// Parses an error response body from any of the XML shapes: Query
    /// (`ErrorResponse/Error/Code`), REST-XML (`ErrorResponse/Error` or a bare `Error`), EC2
    /// (`Response/Errors/Error`) and Route 53's `InvalidChangeBatch/Messages`. A body that is not
    /// XML (e.g. an HTML 500 page) yields a generic code naming the status.
    static func parse(body: Data, statusCode: Int, headers: [(String, String)], operation: String) -> AWSError {
        let headerRequestID = headers.first { ["x-amzn-requestid", "x-amz-request-id"].contains($0.0.lowercased()) }?.1
        let head = String(decoding: body.prefix(64), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let looksLikeHTML = head.hasPrefix("<!doctype html") || head.hasPrefix("<html")
        guard !looksLikeHTML, let root = XMLNode.parse(body), root.name.lowercased() != "html" else {
            return AWSError(code: genericCode(statusCode), message: "HTTP \(statusCode) with a non-XML body: \(snippet(body))",
                            statusCode: statusCode, requestID: headerRequestID, operation: operation)
        }
        let requestID = root.first(named: "RequestId")?.text ?? root.first(named: "RequestID")?.text ?? headerRequestID
        if let error = root.first(named: "Error"), let code = error.string("Code"), !code.isEmpty {
            let message = error.string("Message") ?? error.string("message") ?? ""
            return AWSError(code: code, message: message, statusCode: statusCode, requestID: requestID, operation: operation)
        }
        // Route 53 InvalidChangeBatch: <InvalidChangeBatch><Messages><Message>…</Message></Messages>
        let messages = root.children("Messages").flatMap { $0.children("Message") }.map(\.text)
        let message = messages.isEmpty ? (root.string("Message") ?? root.string("message") ?? "") : messages.joined(separator: "; ")
        let code = ["ErrorResponse", "Response", "Error"].contains(root.name) ? genericCode(statusCode) : root.name
        return AWSError(code: code, message: message, statusCode: statusCode, requestID: requestID, operation: operation)
    }

    static func genericCode(_ status: Int) -> String {
        switch status {
        case 500: return "InternalFailure"
        case 503: return "ServiceUnavailable"
        case 500...599: return "HTTP\(status)"
        default: return "HTTP\(status)"
        }
    }

    static func snippet(_ body: Data) -> String {
        let text = String(decoding: body.prefix(400), as: UTF8.self)
        let stripped = text.replacingOccurrences(of: "<[^>]*>", with: " ", options: .regularExpression)
        return stripped.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(160).description
    }
}

/// Well-known error codes, for matching.
public enum AWSErrorCode {
    public static let dbInstanceNotFound = "DBInstanceNotFound"
    public static let dbInstanceAlreadyExists = "DBInstanceAlreadyExists"
    public static let dbSnapshotNotFound = "DBSnapshotNotFound"
    public static let dbSnapshotAlreadyExists = "DBSnapshotAlreadyExists"
    public static let dbParameterGroupNotFound = "DBParameterGroupNotFound"
    public static let dbParameterGroupAlreadyExists = "DBParameterGroupAlreadyExists"
    public static let dbSubnetGroupNotFound = "DBSubnetGroupNotFoundFault"
    public static let dbSubnetGroupAlreadyExists = "DBSubnetGroupAlreadyExists"
    public static let invalidParameterCombination = "InvalidParameterCombination"
    public static let noSuchHostedZone = "NoSuchHostedZone"
    public static let noSuchHealthCheck = "NoSuchHealthCheck"
    public static let hostedZoneNotEmpty = "HostedZoneNotEmpty"
    public static let invalidChangeBatch = "InvalidChangeBatch"
    public static let noSuchEntity = "NoSuchEntity"
    public static let entityAlreadyExists = "EntityAlreadyExists"
    public static let deleteConflict = "DeleteConflict"
    public static let resourceNotFound = "ResourceNotFound"
    /// Secrets Manager: no such secret (or no version with the asked stage).
    public static let resourceNotFoundException = "ResourceNotFoundException"
    public static let resourceExistsException = "ResourceExistsException"
    public static let notFound = "NotFound"
}

/// A failure below the service: connecting, sending or receiving. ``outcomeUnknown`` says whether the
/// request may have reached the service (then a non-idempotent call must not be blindly retried).
public struct AWSTransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The connection could not be made; the request was never sent.
        case connectFailed
        /// The request timed out after it may have been sent.
        case timedOut
        /// The connection dropped after the request may have been sent.
        case connectionLost
    }
    public let kind: Kind
    public let operation: String
    public let underlying: String

    /// True when the service may have acted on the request.
    public var outcomeUnknown: Bool { kind != .connectFailed }

    public var description: String { "\(operation): \(kind.rawValue): \(underlying)" }
}

/// The response could not be decoded into the expected shape.
public struct AWSDecodingError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let message: String
    public var description: String { "\(operation): cannot decode response: \(message)" }
}

/// A request the client refused to send (e.g. a required parameter is missing).
public struct AWSValidationError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let message: String
    public var description: String { "\(operation): \(message)" }
}
