import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// One connection to one database, with the target's time limits on every call.
///
/// Each data-plane action opens a session, runs a few statements and closes it: a DR step must not hold
/// connections across a failover, and a dead region must cost the connect timeout, not TCP's minutes.
public final class DatabaseSession: Sendable {
    public let target: DatabaseTarget
    let connection: PostgresConnection
    let logger: Logger

    private init(target: DatabaseTarget, connection: PostgresConnection, logger: Logger) {
        self.target = target
        self.connection = connection
        self.logger = logger
    }

    /// Connects, authenticates and applies `statement_timeout`, all within `target.connectTimeout`.
    public static func connect(_ target: DatabaseTarget, logger: Logger = Logger(label: "runbook.postgres")) async throws -> DatabaseSession {
        let configuration = try makeConfiguration(target)
        let connection: PostgresConnection
        do {
            connection = try await withDeadline(target.connectTimeout, what: "connecting to \(target)", late: { try? await $0.close() }) {
                try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: 1, logger: logger)
            }
        } catch let error as DatabaseError {
            throw error
        } catch {
            throw describe(error, doing: "connecting to \(target)")
        }
        return DatabaseSession(target: target, connection: connection, logger: logger)
    }

    /// Closes the connection; errors on the way out are of no interest to the caller.
    public func close() async {
        try? await connection.close()
    }

    /// Runs `body` on a new session and closes it afterwards, whether `body` threw or not.
    public static func with<T: Sendable>(_ target: DatabaseTarget, _ body: (DatabaseSession) async throws -> T) async throws -> T {
        let session = try await connect(target)
        do {
            let result = try await body(session)
            await session.close()
            return result
        } catch {
            await session.close()
            throw error
        }
    }

    /// Runs one statement and returns its rows, decoded as text (`nil` for SQL NULL).
    @discardableResult
    public func rows(_ query: PostgresQuery, doing what: String) async throws -> [[String?]] {
        let limit = target.statementTimeout + .seconds(2)
        do {
            return try await Self.withDeadline(limit, what: "\(what) on \(target)") { [connection, logger] in
                var result: [[String?]] = []
                for try await row in try await connection.query(query, logger: logger) {
                    result.append(row.map { cell in cell.bytes.map { String(buffer: $0) } })
                }
                return result
            }
        } catch let error as DatabaseError {
            throw error
        } catch {
            throw Self.describe(error, doing: "\(what) on \(target)")
        }
    }

    /// The first column of the first row, or nil when there is none or it is NULL.
    public func value(_ query: PostgresQuery, doing what: String) async throws -> String? {
        try await rows(query, doing: what).first?.first ?? nil
    }
}

extension DatabaseSession {
    static func makeConfiguration(_ target: DatabaseTarget) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch try target.tlsMode() {
        case .plaintextLoopback:
            tls = .disable
        case let .verifyFull(caBundlePath):
            guard FileManager.default.isReadableFile(atPath: caBundlePath) else {
                throw DatabaseError("cannot read the CA bundle \(caBundlePath) to verify \(target.host)")
            }
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            tlsConfiguration.trustRoots = .file(caBundlePath)
            tlsConfiguration.certificateVerification = .fullVerification
            do {
                tls = .require(try NIOSSLContext(configuration: tlsConfiguration))
            } catch {
                throw DatabaseError("cannot use the CA bundle \(caBundlePath): \(error)")
            }
        }
        var configuration = PostgresConnection.Configuration(
            host: target.host, port: target.port, username: target.user, password: target.credential.secret,
            database: target.database, tls: tls)
        configuration.options.connectTimeout = .nanoseconds(Int64(target.connectTimeout.nanoseconds))
        configuration.options.tlsServerName = target.tlsServerName ?? (isIPAddress(target.host) ? nil : target.host)
        configuration.options.additionalStartupParameters = [
            ("application_name", "runbook"),
            ("statement_timeout", "\(target.statementTimeout.milliseconds)"),
        ]
        return configuration
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    /// Runs `body`, throwing an unreachable ``DatabaseError`` when it takes longer than `limit`.
    ///
    /// The caller is released at the deadline even if `body` ignores cancellation (a socket that never
    /// answers), so a dead region costs `limit`, never more.
    /// - Parameter late: given a value that arrived after the deadline (a connection to close).
    static func withDeadline<T: Sendable>(_ limit: Duration, what: String, late: (@Sendable (T) async -> Void)? = nil,
                                          _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = DeadlineRace<T>()
        let work = Task {
            let result = await Result(catching: body)
            if !race.finish(result), case .success(let value) = result { await late?(value) }
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            race.finish(.failure(DatabaseError("\(what) took longer than \(limit.secondsText)", isUnreachable: true)))
        }
        let result = await withTaskCancellationHandler {
            await race.result()
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
        work.cancel()
        timer.cancel()
        return try result.get()
    }

    /// One sentence for a postgres-nio or NIO error (PSQLError's own description hides everything).
    static func describe(_ error: any Error, doing what: String) -> DatabaseError {
        guard let psql = error as? PSQLError else {
            return DatabaseError("\(what) failed: \(error)", isUnreachable: true)
        }
        if let info = psql.serverInfo, let message = info[.message] {
            let state = info[.sqlState]
            return DatabaseError("\(what) failed: \(message)" + (state.map { " (SQLSTATE \($0))" } ?? ""), sqlState: state)
        }
        let cause = psql.underlying.map { "\($0)" } ?? "\(psql.code)"
        return DatabaseError("\(what) failed: \(cause)", isUnreachable: true)
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
    var milliseconds: Int64 { nanoseconds / 1_000_000 }
    var secondsText: String {
        let ms = milliseconds
        return ms % 1000 == 0 ? "\(ms / 1000) s" : String(format: "%.1f s", Double(ms) / 1000)
    }
}

/// The first of several outcomes to arrive wins; later ones are dropped.
final class DeadlineRace<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var outcome: Result<T, any Error>?
    private var waiter: CheckedContinuation<Result<T, any Error>, Never>?

    /// Records `result` if it is the first; says whether it was.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        lock.lock()
        guard outcome == nil else {
            lock.unlock()
            return false
        }
        outcome = result
        let waiting = waiter
        waiter = nil
        lock.unlock()
        waiting?.resume(returning: result)
        return true
    }

    func result() async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let outcome {
                lock.unlock()
                continuation.resume(returning: outcome)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
