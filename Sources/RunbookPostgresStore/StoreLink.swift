import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import RunbookPostgres

/// The store's one connection to its server: used by one call at a time, reconnected when it is lost.
///
/// Every statement has a deadline (the target's statement timeout and a little more), so a server behind a
/// dead network costs a bounded time, never a hang.
final class StoreLink: @unchecked Sendable {
    let target: DatabaseTarget
    /// The store's URL, for messages.
    let place: String
    private let gate = SerialGate()
    /// Guarded by `gate`.
    private var connection: PostgresConnection?
    private let logger = Logger(label: "runbook.store", factory: { _ in SwiftLogNoOpLogHandler() })

    init(target: DatabaseTarget, place: String) {
        self.target = target
        self.place = place
    }

    deinit {
        if let connection { Self.close(connection) }
    }

    /// Close `connection`, keeping it alive until it is closed (postgres-nio requires that).
    static func close(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in _ = connection }
    }

    private var statementLimit: Duration { target.statementTimeout + .seconds(2) }

    // MARK: - Opening (synchronous, like opening an SQLite file)

    /// Connect and run `body` with a synchronous statement runner, blocking this thread (not an event loop's).
    func openBlocking(_ body: ((PostgresQuery) throws -> [PostgresRow]) throws -> Void) throws {
        let configuration = try target.connectionConfiguration()
        let future = PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration,
                                                id: 1, logger: logger)
        let opened = try Self.wait(future, limit: target.connectTimeout + .seconds(1), what: "connecting to \(place)",
                                   late: { Self.close($0) })
        connection = opened
        try body { query in
            try Self.wait(opened.query(query, logger: logger), limit: statementLimit, what: "preparing the store in \(place)").rows
        }
    }

    /// The future's value, waiting at most `limit` on this thread.
    private static func wait<T: Sendable>(_ future: EventLoopFuture<T>, limit: Duration, what: String,
                                          late: @escaping @Sendable (T) -> Void = { _ in }) throws -> T {
        let box = LockedBox<Result<T, any Error>>()
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { result in
            if !box.set(result.mapError { $0 }), case .success(let value) = result { late(value) }
            done.signal()
        }
        let milliseconds = Int(limit.components.seconds) * 1000 + Int(limit.components.attoseconds / 1_000_000_000_000_000)
        if done.wait(timeout: .now() + .milliseconds(milliseconds)) == .timedOut {
            _ = box.set(.failure(DatabaseError.describing(DeadlineExceeded(limit: limit), doing: what)))
        }
        guard let result = box.value else { throw DatabaseError.describing(DeadlineExceeded(limit: limit), doing: what) }
        return try result.get()
    }

    // MARK: - Calls

    /// Run `body` with the connection (connecting first if it was lost), one call at a time.
    func withConnection<T: Sendable>(_ body: (Session) async throws -> T) async throws -> T {
        await gate.enter()
        defer { gate.leave() }
        let session = Session(connection: try await current(), link: self)
        do {
            return try await body(session)
        } catch {
            if StoreFailure.isConnectionLoss(error) { drop() }
            throw error
        }
    }

    /// The open connection, or a new one.
    private func current() async throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        drop()
        let configuration = try target.connectionConfiguration()
        let opened = try await DatabaseDeadline.run(target.connectTimeout + .seconds(1), what: "connecting to \(place)",
                                                     late: { try? await $0.close() }) { [logger] in
            try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration,
                                                 id: 1, logger: logger)
        }
        connection = opened
        return opened
    }

    /// Forget the connection (closing it), so the next call connects again.
    func drop() {
        if let connection { Self.close(connection) }
        connection = nil
    }

    /// One call's use of the connection.
    struct Session: Sendable {
        let connection: PostgresConnection
        let link: StoreLink
        /// The transaction's BEGIN, sent without waiting for its answer: the answer comes before the first
        /// statement's, and every statement checks it, so nothing is written outside the transaction.
        var begin: EventLoopFuture<PostgresQueryResult>?

        /// Run one statement and return its rows.
        @discardableResult
        func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
            try await answers([query], what: "a statement on \(link.place)").first?.rows ?? []
        }

        /// Run statements back to back without waiting for each answer (one round trip), then wait for all of
        /// them; the first failure is thrown (the server then refuses the rest of the transaction).
        func pipeline(_ queries: [PostgresQuery]) async throws {
            guard !queries.isEmpty else { return }
            _ = try await answers(queries, what: "statements on \(link.place)")
        }

        /// Send `queries` back to back and wait for the transaction's BEGIN and all their answers, at most the
        /// statement limit (a server behind a dead network costs that, never a hang). The deadline is the event
        /// loop's timer, so a call costs one hop back to the caller and no task of its own.
        private func answers(_ queries: [PostgresQuery], what: String) async throws -> [PostgresQueryResult] {
            let loop = connection.eventLoop
            let sent = queries.map { connection.query($0, logger: link.logger) }
            let statements = EventLoopFuture.whenAllSucceed(sent, on: loop)
            let all = begin.map { begin in begin.flatMap { _ in statements } } ?? statements
            let promise = loop.makePromise(of: [PostgresQueryResult].self)
            let settled = LoopFlag()
            let limit = link.statementLimit
            let timer = loop.scheduleTask(in: .nanoseconds(limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000)) {
                guard settled.set() else { return }
                promise.fail(DatabaseError.describing(DeadlineExceeded(limit: limit), doing: what))
            }
            all.whenComplete { result in
                timer.cancel()
                guard settled.set() else { return }
                promise.completeWith(result)
            }
            return try await promise.futureResult.get()
        }

        /// Statements `body` asked to send together with the COMMIT (see `writeAtCommit`).
        var atCommit: PendingWrites?

        /// Send `queries` with the transaction's COMMIT, in one round trip, when `body` returns. A failing
        /// statement aborts the transaction, so the server answers that COMMIT with a rollback and the failure
        /// is thrown: nothing of it is applied.
        func writeAtCommit(_ queries: [PostgresQuery]) {
            atCommit?.queries += queries
        }

        /// Run `body` outside a transaction: each statement commits on its own (one that does all of a write in one
        /// function call needs no BEGIN and COMMIT of its own, saving their messages).
        func autocommit<T: Sendable>(_ body: (Session) async throws -> T) async throws -> T {
            var alone = self
            alone.begin = nil
            let value = try await body(alone)
            if link.faults.loseCommitReply() {
                throw DatabaseError.describing(DeadlineExceeded(limit: .zero), doing: "committing on \(link.place)")
            }
            return value
        }

        /// Run `body` in a transaction: committed when it returns, rolled back when it throws.
        func transaction<T: Sendable>(_ body: (Session) async throws -> T) async throws -> T {
            var inTransaction = self
            inTransaction.begin = connection.query("BEGIN", logger: link.logger)
            let pending = PendingWrites()
            inTransaction.atCommit = pending
            let value: T
            do {
                value = try await body(inTransaction)
                try await inTransaction.pipeline(pending.queries + ["COMMIT"])
            } catch {
                if !StoreFailure.isConnectionLoss(error) { _ = try? await rows("ROLLBACK") }
                throw error
            }
            if link.faults.loseCommitReply() {
                // Tests: the COMMIT was applied but its reply "lost", as when the server dies right after it.
                throw DatabaseError.describing(DeadlineExceeded(limit: .zero), doing: "committing on \(link.place)")
            }
            return value
        }
    }

    /// Failures tests inject.
    let faults = FaultInjection()
}

/// Whether a call's answer or its deadline came first; touched on the connection's event loop only.
final class LoopFlag: @unchecked Sendable {
    private var isSet = false
    /// Set the flag; false when it already was.
    func set() -> Bool {
        if isSet { return false }
        isSet = true
        return true
    }
}

/// The statements a transaction sends with its COMMIT; used by one call at a time.
final class PendingWrites: @unchecked Sendable {
    var queries: [PostgresQuery] = []
}

/// Failures a test asks for, to see what the store does about them.
final class FaultInjection: @unchecked Sendable {
    private let lock = NSLock()
    private var commitRepliesToLose = 0

    /// Lose the reply to the next `count` COMMITs (which are applied).
    func loseCommitReplies(_ count: Int) { lock.withLock { commitRepliesToLose = count } }

    func loseCommitReply() -> Bool {
        lock.withLock {
            guard commitRepliesToLose > 0 else { return false }
            commitRepliesToLose -= 1
            return true
        }
    }
}

/// A call that did not answer within its limit.
struct DeadlineExceeded: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "no answer within \(limit)" }
}

/// Lets one caller at a time through, in arrival order, without blocking a thread.
final class SerialGate: @unchecked Sendable {
    private let lock = NSLock()
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if busy {
                waiting.append(continuation)
                lock.unlock()
            } else {
                busy = true
                lock.unlock()
                continuation.resume()
            }
        }
    }

    func leave() {
        lock.lock()
        if waiting.isEmpty {
            busy = false
            lock.unlock()
        } else {
            let next = waiting.removeFirst()
            lock.unlock()
            next.resume()
        }
    }
}

/// A value set once, from whichever thread gets there first.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?

    /// Store `value` unless one is already there; says whether it was stored.
    func set(_ value: T) -> Bool {
        lock.withLock {
            guard stored == nil else { return false }
            stored = value
            return true
        }
    }

    var value: T? { lock.withLock { stored } }
}

/// How the store tells a lost server from a refused statement.
enum StoreFailure {
    /// Whether `error` means the connection is gone or the server is not answering (worth reconnecting and
    /// retrying), as opposed to the server refusing a statement.
    static func isConnectionLoss(_ error: any Error) -> Bool {
        if let database = error as? DatabaseError {
            if let state = database.sqlState { return isConnectionState(state) }
            return database.isUnreachable
        }
        if error is DeadlineExceeded { return true }
        if let psql = error as? PSQLError {
            if let state = psql.serverInfo?[.sqlState] { return isConnectionState(state) }
            return psql.code != .server && psql.code != .queryCancelled
        }
        if error is ChannelError || error is IOError { return true }
        return false
    }

    /// SQLSTATE classes 08 (connection exception) and 57P (the server shutting down or starting up).
    static func isConnectionState(_ state: String) -> Bool {
        state.hasPrefix("08") || state.hasPrefix("57P")
    }

    /// The sentence for `error`, with the password (if it ever appeared) masked.
    static func sentence(_ error: any Error, doing what: String, target: DatabaseTarget) -> String {
        if let store = error as? PostgresStoreError { return store.message }
        if let cause = connectionCause(error) { return "\(what) failed: \(cause)" }
        return target.redacting(DatabaseError.describing(error, doing: what).message)
    }

    /// A short cause for a connection that failed or broke (postgres-nio's own text names its internals).
    static func connectionCause(_ error: any Error) -> String? {
        guard let psql = error as? PSQLError, psql.serverInfo == nil else { return nil }
        let text = String(describing: psql.underlying.map { "\($0)" } ?? "")
        if text.contains("Connection refused") || text.contains("errno: 111") { return "connection refused (is the server running?)" }
        if text.contains("timed out") || text.contains("Timeout") { return "no answer in time" }
        switch psql.code {
        case .serverClosedConnection, .uncleanShutdown: return "the server closed the connection"
        case .clientClosedConnection: return "the connection was closed"
        case .connectionError: return text.isEmpty ? "cannot connect" : "cannot connect (\(text))"
        default: return nil
        }
    }
}
