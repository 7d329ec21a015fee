import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request on the wire.
public struct AWSHTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(String, String)]
    public var body: Data
}

/// A response on the wire.
public struct AWSHTTPResponse: Sendable {
    public var statusCode: Int
    public var headers: [(String, String)]
    public var body: Data

    public init(statusCode: Int, headers: [(String, String)] = [], body: Data) {
        self.statusCode = statusCode
        self.headers = headers
        self.body = body
    }
}

/// Sends one HTTP request. The client uses ``AsyncHTTPTransport``; tests inject scripted ones.
/// Implementations throw ``AWSTransportError`` for connection failures and timeouts, and
/// `CancellationError` when the calling task is cancelled.
public protocol AWSHTTPTransport: Sendable {
    func send(_ request: AWSHTTPRequest, operation: String) async throws -> AWSHTTPResponse
    func shutdown() async throws
}

/// Transport on one shared AsyncHTTPClient `HTTPClient`: pooled connections, a connect timeout,
/// a whole-request deadline and task cancellation.
public final class AsyncHTTPTransport: AWSHTTPTransport {
    let client: HTTPClient
    let requestTimeout: TimeAmount
    let maxResponseBytes: Int

    /// - Parameters:
    ///   - connectTimeout: how long to wait for a TCP (and TLS) connection.
    ///   - requestTimeout: the deadline for the whole request, including reading the body.
    public init(connectTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(60), maxResponseBytes: Int = 64 << 20) {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .nanoseconds(Int64(connectTimeout.nanoseconds)), read: .nanoseconds(Int64(requestTimeout.nanoseconds)))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 8)
        configuration.decompression = .disabled
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.requestTimeout = .nanoseconds(Int64(requestTimeout.nanoseconds))
        self.maxResponseBytes = maxResponseBytes
    }

    public func send(_ request: AWSHTTPRequest, operation: String) async throws -> AWSHTTPResponse {
        var http = HTTPClientRequest(url: request.url.absoluteString)
        http.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers where name.lowercased() != "host" {
            http.headers.add(name: name, value: value)
        }
        if let host = request.headers.first(where: { $0.0.lowercased() == "host" })?.1 {
            http.headers.replaceOrAdd(name: "Host", value: host)
        }
        http.body = .bytes(ByteBuffer(bytes: request.body))
        do {
            let response = try await client.execute(http, timeout: requestTimeout)
            let body = try await response.body.collect(upTo: maxResponseBytes)
            return AWSHTTPResponse(
                statusCode: Int(response.status.code),
                headers: response.headers.map { ($0.name, $0.value) },
                body: Data(body.readableBytesView)
            )
        } catch {
            throw AsyncHTTPTransport.classify(error, operation: operation)
        }
    }

    public func shutdown() async throws {
        try await client.shutdown()
    }

    /// Maps AsyncHTTPClient/NIO errors to ``AWSTransportError`` (or `CancellationError`).
    static func classify(_ error: any Error, operation: String) -> any Error {
        if error is CancellationError { return error }
        if let e = error as? HTTPClientError {
            switch e {
            case .cancelled: return CancellationError()
            case .connectTimeout, .socksHandshakeTimeout, .tlsHandshakeTimeout:
                return AWSTransportError(kind: .connectFailed, operation: operation, underlying: String(describing: e))
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                return AWSTransportError(kind: .timedOut, operation: operation, underlying: String(describing: e))
            default:
                return AWSTransportError(kind: .connectionLost, operation: operation, underlying: String(describing: e))
            }
        }
        if error is NIOConnectionError {
            return AWSTransportError(kind: .connectFailed, operation: operation, underlying: String(describing: error))
        }
        if let io = error as? IOError, [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL].contains(io.errnoCode) {
            return AWSTransportError(kind: .connectFailed, operation: operation, underlying: String(describing: error))
        }
        if let channel = error as? ChannelError, case .connectTimeout = channel {
            return AWSTransportError(kind: .connectFailed, operation: operation, underlying: String(describing: error))
        }
        return AWSTransportError(kind: .connectionLost, operation: operation, underlying: String(describing: error))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
    var seconds: Double { Double(nanoseconds) / 1e9 }
}
