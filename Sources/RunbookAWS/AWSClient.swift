import Foundation
import Logging

/// The native AWS client: one shared HTTP client, credentials, retries and signing, for the Query,
/// REST-XML and AWS JSON 1.1 protocols.
///
/// Typical use:
/// ```swift
/// let client = try AWSClient(configuration: .resolve(environment: ProcessInfo.processInfo.environment))
/// let page = try await client.rds(region: "us-west-2").describeDBInstances(.init(dbInstanceIdentifier: "db1"))
/// try await client.shutdown()
/// ```
/// Call ``shutdown()`` before the client is released.
public final class AWSClient: Sendable {
    public let configuration: AWSConfiguration
    let executor: RequestExecutor
    let credentialProvider: any AWSCredentialProvider

    /// - Parameters:
    ///   - retryPolicy: standard mode by default.
    ///   - transport: the HTTP stack; an ``AsyncHTTPTransport`` unless tests inject one.
    ///   - sleeper: used for retry backoff; waiters take their own.
    public init(configuration: AWSConfiguration, retryPolicy: AWSRetryPolicy = .standard,
                transport: (any AWSHTTPTransport)? = nil, sleeper: any AWSSleeper = TaskSleeper(),
                now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "runbook.aws")) {
        self.configuration = configuration
        let executor = RequestExecutor(
            configuration: configuration, transport: transport ?? AsyncHTTPTransport(), retryPolicy: retryPolicy,
            bucket: RetryTokenBucket(capacity: retryPolicy.bucketCapacity), sleeper: sleeper, now: now, logger: logger)
        self.executor = executor
        switch configuration.credentialSource {
        case let .keys(credentials, origin):
            credentialProvider = StaticCredentialProvider(credentials, source: origin)
        case let .assumeRole(roleARN, sessionName, externalID, source, origin):
            let stsRegion = configuration.defaultRegion ?? "us-east-1"
            credentialProvider = AssumeRoleCredentialProvider(
                roleARN: roleARN, sessionName: sessionName, externalID: externalID,
                source: StaticCredentialProvider(source, source: origin), now: now,
                assume: { sourceCredentials, role, session, external in
                    let sts = STS(executor: executor, credentials: StaticCredentialProvider(sourceCredentials, source: origin), region: stsRegion)
                    return try await sts.assumeRole(.init(roleARN: role, roleSessionName: session, externalID: external)).credentials
                })
        }
    }

    /// Closes the shared HTTP client's connections. Call once, when done.
    public func shutdown() async throws {
        try await executor.transport.shutdown()
    }

    /// The retry token bucket shared by all calls (exposed for diagnostics and tests).
    public var retryTokenBucket: RetryTokenBucket { executor.bucket }

    /// The resolved region: the caller's, else the configured default (throws naming what to set).
    public func region(_ requested: String?) throws -> String { try configuration.region(requested) }

    public func rds(region: String? = nil) throws -> RDS { RDS(client: self, region: try self.region(region)) }
    public func ec2(region: String? = nil) throws -> EC2 { EC2(client: self, region: try self.region(region)) }
    public func cloudWatch(region: String? = nil) throws -> CloudWatch { CloudWatch(client: self, region: try self.region(region)) }
    public func sns(region: String? = nil) throws -> SNS { SNS(client: self, region: try self.region(region)) }
    public func secretsManager(region: String? = nil) throws -> SecretsManager {
        SecretsManager(client: self, region: try self.region(region))
    }
    public func sts(region: String? = nil) throws -> STS {
        STS(executor: executor, credentials: credentialProvider, region: try self.region(region))
    }
    /// Route 53 is global (signed for us-east-1).
    public var route53: Route53 { Route53(client: self) }
    /// IAM is global (signed for us-east-1).
    public var iam: IAM { IAM(client: self) }

    /// Calls an AWS Query action and returns the `<ActionResult>` element (or, for EC2, the
    /// response root). Throws ``AWSError`` for service errors.
    ///
    /// - Parameter idempotent: whether the call may be retried when its outcome is unknown.
    public func query(service: AWSService, region: String?, action: String, parameters: QueryParameters, idempotent: Bool) async throws -> XMLNode {
        let signingRegion = service.isGlobal ? "us-east-1" : try self.region(region)
        return try await executor.query(service: service, region: signingRegion, action: action, parameters: parameters,
                                        idempotent: idempotent, credentials: credentialProvider)
    }

    /// Calls an AWS JSON 1.1 operation (`POST /`, `X-Amz-Target: <prefix>.<operation>`) and returns the
    /// answer's body. Throws ``AWSError`` (parsed from `__type` and `message`) for service errors.
    ///
    /// - Parameter idempotent: whether the call may be retried when its outcome is unknown.
    public func json(service: AWSService, region: String?, operation: String, body: Data, idempotent: Bool) async throws -> Data {
        let signingRegion = service.isGlobal ? "us-east-1" : try self.region(region)
        return try await executor.json(service: service, region: signingRegion, operation: operation, body: body,
                                       idempotent: idempotent, credentials: credentialProvider)
    }

    /// An IAM authentication token for connecting to an RDS instance as `user` (see ``RDSAuthToken``),
    /// signed with the client's current credentials (assumed-role ones included). Valid for 15 minutes.
    public func rdsAuthToken(host: String, port: Int, user: String, region: String? = nil) async throws -> String {
        RDSAuthToken.generate(host: host, port: port, user: user, region: try self.region(region),
                              credentials: try await credentialProvider.credentials(), date: executor.now())
    }

    /// Calls a REST-XML operation (Route 53) and returns the parsed response root (nil for an empty body).
    public func restXML(service: AWSService, method: String, path: String, query: [(String, String)] = [],
                        body: Data? = nil, operation: String, idempotent: Bool) async throws -> XMLNode? {
        let region = "us-east-1"
        var queryString = query.map { "\(SigV4.uriEncode($0.0))=\(SigV4.uriEncode($0.1))" }.joined(separator: "&")
        if !queryString.isEmpty { queryString = "?" + queryString }
        let base = configuration.endpoint(for: service, region: region).trimmingSuffix("/")
        guard let url = URL(string: base + path + queryString) else {
            throw AWSValidationError(operation: operation, message: "invalid URL \(base + path)")
        }
        var headers: [(String, String)] = []
        if body != nil { headers.append(("content-type", "application/xml")) }
        let response = try await executor.send(
            AWSHTTPRequest(method: method, url: url, headers: headers, body: body ?? Data()),
            service: service, region: region, operation: operation, idempotent: idempotent, credentials: credentialProvider)
        return XMLNode.parse(response.body)
    }

    /// Who the credentials belong to (STS GetCallerIdentity), with the region and endpoint in use.
    public func whoami(region: String? = nil) async throws -> AWSIdentity {
        let resolvedRegion = try self.region(region)
        let identity = try await sts(region: resolvedRegion).getCallerIdentity()
        return AWSIdentity(account: identity.account, arn: identity.arn, userID: identity.userID, region: resolvedRegion,
                           endpoint: configuration.endpoint(for: .sts, region: resolvedRegion),
                           credentialSource: credentialProvider.sourceDescription)
    }
}

/// The answer of ``AWSClient/whoami(region:)``.
public struct AWSIdentity: Sendable, Equatable, Codable {
    public var account: String
    public var arn: String
    public var userID: String
    public var region: String
    public var endpoint: String
    /// Where the credentials came from, e.g. `environment` or `profile prod` (no secrets).
    public var credentialSource: String
}

/// Signs, sends and retries requests; shared by the client and the assume-role provider.
struct RequestExecutor: Sendable {
    let configuration: AWSConfiguration
    let transport: any AWSHTTPTransport
    let retryPolicy: AWSRetryPolicy
    let bucket: RetryTokenBucket
    let sleeper: any AWSSleeper
    let now: @Sendable () -> Date
    let logger: Logger

    func query(service: AWSService, region: String, action: String, parameters: QueryParameters, idempotent: Bool,
               credentials: any AWSCredentialProvider) async throws -> XMLNode {
        let operation = "\(service.rawValue):\(action)"
        let endpoint = configuration.endpoint(for: service, region: region)
        guard let url = URL(string: endpoint.hasSuffix("/") ? endpoint : endpoint + "/") else {
            throw AWSValidationError(operation: operation, message: "invalid endpoint URL \(endpoint)")
        }
        let body = Data(parameters.formBody(action: action, version: service.apiVersion).utf8)
        let request = AWSHTTPRequest(method: "POST", url: url,
                                     headers: [("content-type", "application/x-www-form-urlencoded; charset=utf-8")], body: body)
        let response = try await send(request, service: service, region: region, operation: operation, idempotent: idempotent, credentials: credentials)
        guard let root = XMLNode.parse(response.body) else {
            throw AWSDecodingError(operation: operation, message: "HTTP \(response.statusCode) body is not XML")
        }
        return root.child("\(action)Result") ?? root
    }

    func json(service: AWSService, region: String, operation: String, body: Data, idempotent: Bool,
              credentials: any AWSCredentialProvider) async throws -> Data {
        let name = "\(service.rawValue):\(operation)"
        guard let prefix = service.jsonTargetPrefix else {
            throw AWSValidationError(operation: name, message: "\(service.rawValue) does not speak the AWS JSON protocol")
        }
        let endpoint = configuration.endpoint(for: service, region: region)
        guard let url = URL(string: endpoint.hasSuffix("/") ? endpoint : endpoint + "/") else {
            throw AWSValidationError(operation: name, message: "invalid endpoint URL \(endpoint)")
        }
        let request = AWSHTTPRequest(method: "POST", url: url, headers: [
            ("content-type", AWSJSON.contentType), ("x-amz-target", AWSJSON.target(prefix: prefix, operation: operation)),
        ], body: body)
        return try await send(request, service: service, region: region, operation: name, idempotent: idempotent,
                              credentials: credentials, errorFormat: .json).body
    }

    /// How a service shapes its error bodies.
    enum ErrorFormat: Sendable {
        /// Query, EC2 and REST-XML shapes.
        case xml
        /// AWS JSON 1.0/1.1: `__type` and `message`.
        case json
    }

    /// Sends with signing and standard-mode retries; non-2xx becomes ``AWSError``.
    func send(_ request: AWSHTTPRequest, service: AWSService, region: String, operation: String, idempotent: Bool,
              credentials: any AWSCredentialProvider, errorFormat: ErrorFormat = .xml) async throws -> AWSHTTPResponse {
        var attempt = 1
        var tokensHeld = 0
        while true {
            try Task.checkCancellation()
            let creds = try await credentials.credentials()
            var signed = request
            signed.headers = SigV4.sign(method: request.method, url: request.url, headers: request.headers + [("user-agent", "runbook-aws/1")],
                                        body: request.body, credentials: creds, region: region, service: service.signingName, date: now())
            let failure: any Error
            do {
                let response = try await transport.send(signed, operation: operation)
                if (200..<300).contains(response.statusCode) {
                    await bucket.release(tokensHeld > 0 ? tokensHeld : 1)
                    return response
                }
                switch errorFormat {
                case .xml:
                    failure = AWSError.parse(body: response.body, statusCode: response.statusCode, headers: response.headers, operation: operation)
                case .json:
                    failure = AWSError.parseJSON(body: response.body, statusCode: response.statusCode, headers: response.headers, operation: operation)
                }
            } catch let error as AWSTransportError {
                failure = error
            }
            guard attempt < retryPolicy.maxAttempts, let reason = retryPolicy.retryReason(for: failure, idempotent: idempotent) else {
                throw failure
            }
            let cost = retryPolicy.cost(of: reason)
            guard await bucket.acquire(cost) else {
                logger.debug("retry quota exhausted", metadata: ["operation": "\(operation)"])
                throw failure
            }
            tokensHeld = cost  // standard mode refunds the last retry's cost on success
            let delay = retryPolicy.backoff(retry: attempt)
            logger.debug("retrying", metadata: ["operation": "\(operation)", "attempt": "\(attempt)", "reason": "\(reason)", "error": "\(failure)"])
            try await sleeper.sleep(for: delay)
            attempt += 1
        }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
