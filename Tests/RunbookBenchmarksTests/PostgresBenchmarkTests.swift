import Foundation
import RunbookTestSupport
import Testing
@testable import RunbookBenchmarks

/// `runbook-bench --db postgres://…` runs its cases on a real server, in a database of its own that it drops
/// at the end (a team's server must not keep benchmark runs). No timing assertions.
@Suite struct PostgresBenchmarkTests {
    @Test func everyCaseRunsOnTheServerAndLeavesNothingThere() async throws {
        let server = try await PostgresServer.start()
        defer { server.stop() }
        var options = BenchmarkOptions()
        options.quick = true
        options.repetitions = 1
        options.jsonOnly = true
        options.database = "postgres://\(server.user)@127.0.0.1:\(server.port)/postgres"
        options.environment = ProcessInfo.processInfo.environment.merging(["PGPASSWORD": server.password]) { $1 }
        options.only = ["chain", "process", "fanout", "polls", "resume"]
        options.runbookExecutable = try RunbookBinary.path()
        let lines = Lines()
        // Each case throws unless every step of its run succeeded (and, for polls, every poll was recorded).
        let reports = try await BenchmarkRunner.run(options) { lines.append($0) }

        #expect(reports.map(\.name) == ["floor", "chain", "process", "fanout", "polls", "resume"])
        let sizes = BenchmarkSizes.quick
        let chain = try #require(reports.first { $0.name == "chain" })
        #expect((chain.extra["durable_writes"] ?? 0) >= Double(sizes.chainSteps), "the chain's checkpoints went to the server")
        for line in lines.all {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["store"] as? String == "postgres", "\(line)")
        }
        let left = try server.admin("SELECT count(*) FROM pg_database WHERE datname LIKE 'runbook_bench_%'")
        #expect(left.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the benchmark's database was dropped")
    }

    @Test func aServerThatRefusesSaysSoInOneSentence() async throws {
        let server = try await PostgresServer.start()
        defer { server.stop() }
        var options = BenchmarkOptions()
        options.quick = true
        options.jsonOnly = true
        options.database = "postgres://\(server.user)@127.0.0.1:\(server.port)/postgres"
        options.environment = ["PGPASSWORD": "wrong-password"]
        await #expect {
            try await BenchmarkRunner.run(options) { _ in }
        } throws: { error in
            "\(error)".contains("\(server.user)@127.0.0.1:\(server.port)/postgres") && !"\(error)".contains("wrong-password")
        }
    }
}
