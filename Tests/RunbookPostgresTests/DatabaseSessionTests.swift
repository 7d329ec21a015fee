import Foundation
import RunbookPostgres
import RunbookTestSupport
import Testing

/// The data-plane client against real PostgreSQL servers started by each test.
@Suite struct DatabaseSessionTests {
    func target(_ server: PostgresServer, statementTimeout: Duration = .seconds(10)) -> DatabaseTarget {
        DatabaseTarget(host: server.host, port: server.port, user: server.user, credential: .password(server.password),
                       statementTimeout: statementTimeout)
    }

    @Test func walPositionsReadAndSubtractAsPostgreSQLDoes() async throws {
        let server = try await PostgresServer.start()
        defer { server.stop() }
        let texts = ["0/0", "0/1", "1/0", "16/B374D848", "16/b374d849", "FFFFFFFF/FFFFFFFF", "7/FFFFFFFF", "8/0"]
        // One psql call for all of them: each call blocks a thread of the test process's small pool.
        let values = texts.map { "('\($0)'::pg_lsn)" }.joined(separator: ",")
        let normalized = try server.admin("SELECT l::text FROM (VALUES \(values)) v(l)").split(separator: "\n").map(String.init)
        #expect(normalized.count == texts.count)
        for (text, expected) in zip(texts, normalized) {
            #expect(WALPosition(text)?.description == expected, "\(text)")
        }
        let diffs = try server.admin("SELECT a::text || ' ' || b::text || ' ' || greatest(pg_wal_lsn_diff(a, b), 0)::text "
                                     + "FROM (VALUES \(values)) x(a), (VALUES \(values)) y(b)").split(separator: "\n")
        #expect(diffs.count == texts.count * texts.count)
        for line in diffs {
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count == 3 else { Issue.record("unexpected line \(line)"); continue }
            let ours = try #require(WALPosition(parts[0])).bytesAhead(of: try #require(WALPosition(parts[1])))
            #expect("\(ours)" == parts[2], "\(parts[0]) - \(parts[1])")
        }
        let bad = ["", "16", "16/", "/1", "G/0", "123456789/0", "1/2/3"]
        for text in bad { #expect(WALPosition(text) == nil, "\(text)") }
        let refused = try server.admin("DO $$ DECLARE t text; n int := 0; BEGIN FOREACH t IN ARRAY ARRAY["
            + bad.map { "'\($0)'" }.joined(separator: ",")
            + "] LOOP BEGIN PERFORM t::pg_lsn; EXCEPTION WHEN others THEN n := n + 1; END; END LOOP; RAISE NOTICE 'refused %', n; END $$")
        #expect(refused.contains("refused \(bad.count)"), "PostgreSQL refuses every one of them too: \(refused)")
    }

    @Test func aWriterReportsItsPositionAndACanaryIsReadBack() async throws {
        let server = try await PostgresServer.start()
        defer { server.stop() }
        try await DatabaseSession.with(target(server)) { session in
            let before = try await session.replicationStatus()
            #expect(!before.isStandby)
            #expect(before.replayedPosition == nil)
            let start = try #require(before.writerPosition)
            let row = try await session.writeCanary(runID: "run-1", step: "fence", sequence: 1)
            _ = try await session.writeCanary(runID: "run-1", step: "fence", sequence: 2)
            _ = try await session.writeCanary(runID: "run-2", step: "fence", sequence: 1)
            let after = try #require(try await session.replicationStatus().writerPosition)
            #expect(after > start)
            let found = try await session.canaries(runID: "run-1")
            #expect(found.map(\.sequence) == [1, 2])
            #expect(found.first?.writtenAt == row.writtenAt)
            let stored = try server.admin("SELECT count(*) FROM runbook_canary WHERE run_id = 'run-1'")
            #expect(stored.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        }
    }

    @Test func aReadOnlyWriterRefusesTheCanaryWithSQLState25006() async throws {
        let server = try await PostgresServer.start()
        defer { server.stop() }
        _ = try await DatabaseSession.with(target(server)) { try await $0.writeCanary(runID: "r", step: "s", sequence: 1) }
        try server.admin("ALTER SYSTEM SET default_transaction_read_only = on")
        try server.admin("SELECT pg_reload_conf()")
        try await DatabaseSession.with(target(server)) { session in
            let status = try await session.replicationStatus()
            #expect(status.defaultReadOnly)
            let error = await #expect(throws: DatabaseError.self) {
                try await session.writeCanary(runID: "r", step: "s", sequence: 2)
            }
            #expect(error?.isReadOnlyRefusal == true)
            #expect(error?.description.contains("127.0.0.1:\(server.port)") == true)
        }
    }

    @Test func aStatementPastItsTimeoutIsCancelledByTheServer() async throws {
        let server = try await PostgresServer.start()
        defer { server.stop() }
        try await DatabaseSession.with(target(server, statementTimeout: .milliseconds(300))) { session in
            let started = ContinuousClock.now
            let error = await #expect(throws: DatabaseError.self) {
                try await session.rows("SELECT pg_sleep(60)", doing: "sleeping")
            }
            #expect(error?.sqlState == "57014", "the server cancelled it (statement_timeout)")
            #expect(ContinuousClock.now - started < .seconds(30), "long before the 60 s sleep ends, however loaded the machine")
        }
    }

    @Test func aServerThatNeverAnswersCostsTheConnectTimeoutNotMinutes() async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        let target = DatabaseTarget(host: "127.0.0.1", port: silent.port, user: "u", credential: .password("not-used-here"),
                                    connectTimeout: .seconds(1))
        let started = ContinuousClock.now
        let error = await #expect(throws: DatabaseError.self) { try await DatabaseSession.connect(target) }
        #expect(error?.isUnreachable == true)
        #expect(error?.description.contains("connecting to u@127.0.0.1:\(silent.port)/postgres") == true)
        #expect(ContinuousClock.now - started < .seconds(30), "the socket never answers: without the limit this never returns")
    }

    @Test func plaintextIsRefusedToAHostOffLoopback() throws {
        let remote = DatabaseTarget(host: "db1.abc.us-east-1.rds.amazonaws.com", user: "admin", credential: .password("secret-value"))
        let error = #expect(throws: DatabaseError.self) { try remote.tlsMode() }
        #expect(error?.description.contains("verify-full") == true)
        #expect(error?.description.contains("secret-value") == false)
        #expect(try DatabaseTarget(host: "127.0.1.7", user: "a", credential: .password("p")).tlsMode() == .plaintextLoopback)
        #expect(try remote.with(caBundle: "/ca.pem").tlsMode() == .verifyFull(caBundlePath: "/ca.pem"))
        #expect(!DatabaseTarget.isLoopback("127.example.com"))
        #expect(!DatabaseTarget.isLoopback("128.0.0.1"))
    }

    @Test func otherSessionsAreEndedButNotOurs() async throws {
        let server = try await PostgresServer.start()
        defer { server.stop() }
        let other = try await DatabaseSession.connect(target(server, statementTimeout: .milliseconds(500)))
        defer { Task { await other.close() } }
        _ = try await other.value("SELECT 1", doing: "checking")
        let ended = try await DatabaseSession.with(target(server)) { session in
            let count = try await session.terminateOtherSessions()
            _ = try await session.value("SELECT 1", doing: "checking ours")
            return count
        }
        #expect(ended == 1)
        await #expect(throws: DatabaseError.self) { try await other.value("SELECT 1", doing: "checking") }
    }
}

extension DatabaseTarget {
    func with(caBundle: String) -> DatabaseTarget {
        var copy = self
        copy.caBundlePath = caBundle
        return copy
    }
}

/// A TCP socket that listens but never accepts or answers: a host that takes the connection and then says nothing.
final class SilentListener: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw DatabaseTestFailure("could not listen on loopback") }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}

struct DatabaseTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
