import Foundation

/// An access key pair, optionally with a session token and expiry.
///
/// Its `description` never shows the secret key or the session token.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working; `nil` for long-term keys.
    public var expiration: Date?

    public var description: String {
        "AWSCredentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>\(sessionToken == nil ? "" : ", sessionToken: <redacted>"))"
    }

    public var debugDescription: String { description }
}

/// Supplies credentials for each request; may refresh them.
public protocol AWSCredentialProvider: Sendable {
    /// Current, unexpired credentials.
    func credentials() async throws -> AWSCredentials
    /// A short description of where credentials come from (no secrets), e.g. `environment`.
    var sourceDescription: String { get }
}

/// Fixed credentials (environment variables or a profile's keys).
public struct StaticCredentialProvider: AWSCredentialProvider {
    let value: AWSCredentials
    public let sourceDescription: String

    public init(_ credentials: AWSCredentials, source: String) {
        self.value = credentials
        self.sourceDescription = source
    }

    public func credentials() async throws -> AWSCredentials { value }
}

/// Credentials from `sts:AssumeRole`, cached and refreshed five minutes before they expire.
public actor AssumeRoleCredentialProvider: AWSCredentialProvider {
    /// Calls STS AssumeRole with the given source credentials.
    public typealias AssumeRoleCall = @Sendable (_ source: AWSCredentials, _ roleARN: String, _ sessionName: String, _ externalID: String?) async throws -> AWSCredentials

    public nonisolated let sourceDescription: String
    let source: any AWSCredentialProvider
    let roleARN: String
    let sessionName: String
    let externalID: String?
    let refreshMargin: TimeInterval
    let now: @Sendable () -> Date
    var assume: AssumeRoleCall?
    var cached: AWSCredentials?

    public init(
        roleARN: String, sessionName: String, externalID: String? = nil, source: any AWSCredentialProvider,
        refreshMargin: TimeInterval = 300, now: @escaping @Sendable () -> Date = { Date() }, assume: AssumeRoleCall? = nil
    ) {
        self.roleARN = roleARN
        self.sessionName = sessionName
        self.externalID = externalID
        self.source = source
        self.refreshMargin = refreshMargin
        self.now = now
        self.assume = assume
        self.sourceDescription = "assume-role \(roleARN) from \(source.sourceDescription)"
    }

    /// Installs the STS call (the client does this once it exists).
    func setAssumeRoleCall(_ call: @escaping AssumeRoleCall) {
        if assume == nil { assume = call }
    }

    public func credentials() async throws -> AWSCredentials {
        if let cached, let expiry = cached.expiration, expiry.timeIntervalSince(now()) > refreshMargin {
            return cached
        }
        guard let assume else {
            throw AWSConfigurationError("role \(roleARN) cannot be assumed: no STS client is attached")
        }
        let fresh = try await assume(try await source.credentials(), roleARN, sessionName, externalID)
        cached = fresh
        return fresh
    }
}
