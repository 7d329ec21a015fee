import Foundation
import Testing
@testable import RunbookAWS

@Suite struct RetryTests {
    func client(_ transport: ScriptedTransport, sleeper: RecordingSleeper, policy: AWSRetryPolicy = AWSRetryPolicy(random: { 0.5 })) -> AWSClient {
        AWSClient(configuration: TestConfig.configuration(), retryPolicy: policy, transport: transport, sleeper: sleeper)
    }

    @Test func throttlingIsRetriedWithCappedExponentialBackoffThenSucceeds() async throws {
        let transport = ScriptedTransport([.respond(400, TestConfig.throttled), .respond(503, "<html>busy</html>"), .respond(200, TestConfig.describeOK)])
        let sleeper = RecordingSleeper()
        let c = client(transport, sleeper: sleeper)
        let page = try await c.rds().describeDBInstances(identifier: "db1")
        #expect(page.items.map(\.status) == ["available"])
        #expect(transport.requestCount == 3)
        // random() = 0.5: 0.5 * 1 s, then 0.5 * 2 s
        #expect(sleeper.delays == [.milliseconds(500), .seconds(1)])
        // Both retries took 5 tokens; the success refunded the last retry's 5.
        #expect(await c.retryTokenBucket.available == 495)
    }

    @Test func attemptsAreBoundedAndTheLastErrorIsReturned() async throws {
        let transport = ScriptedTransport([.respond(400, TestConfig.throttled)], repeatLast: true)
        let sleeper = RecordingSleeper()
        let c = client(transport, sleeper: sleeper)
        await #expect {
            _ = try await c.rds().describeDBInstances()
        } throws: { ($0 as? AWSError)?.code == "Throttling" && ($0 as? AWSError)?.requestID == "t1" }
        #expect(transport.requestCount == 3)
        #expect(sleeper.delays.count == 2)
    }

    @Test func clientErrorsAreNotRetried() async throws {
        let body = "<ErrorResponse><Error><Code>DBInstanceNotFound</Code><Message>DBInstance nope not found.</Message></Error><RequestId>x</RequestId></ErrorResponse>"
        let transport = ScriptedTransport([.respond(404, body)])
        let c = client(transport, sleeper: RecordingSleeper())
        await #expect { _ = try await c.rds().describeDBInstances(identifier: "nope") } throws: { ($0 as? AWSError)?.code == AWSErrorCode.dbInstanceNotFound }
        #expect(transport.requestCount == 1)
    }

    @Test func timeoutOfANonIdempotentCallIsNotRetried() async throws {
        let transport = ScriptedTransport([.fail(.timedOut), .respond(200, "<CreateDBInstanceResponse><CreateDBInstanceResult><DBInstance><DBInstanceIdentifier>x</DBInstanceIdentifier></DBInstance></CreateDBInstanceResult></CreateDBInstanceResponse>")])
        let c = client(transport, sleeper: RecordingSleeper())
        await #expect {
            _ = try await c.rds().createDBInstance(.init(identifier: "x", instanceClass: "db.t3.micro", engine: "postgres"))
        } throws: { ($0 as? AWSTransportError)?.outcomeUnknown == true }
        #expect(transport.requestCount == 1)
    }

    @Test func timeoutOfAnIdempotentCallIsRetriedAndCostsTenTokens() async throws {
        let transport = ScriptedTransport([.fail(.timedOut), .fail(.connectionLost), .respond(200, TestConfig.describeOK)])
        let c = client(transport, sleeper: RecordingSleeper())
        _ = try await c.rds().describeDBInstances()
        #expect(transport.requestCount == 3)
        // 10 (timeout) + 5 (dropped connection) taken, 5 refunded.
        #expect(await c.retryTokenBucket.available == 490)
    }

    @Test func connectFailureIsRetriedEvenForNonIdempotentCalls() async throws {
        let transport = ScriptedTransport([.fail(.connectFailed), .respond(200, "<DeleteDBParameterGroupResponse/>")])
        let c = client(transport, sleeper: RecordingSleeper())
        try await c.rds().deleteDBParameterGroup(name: "pg")
        #expect(transport.requestCount == 2)
    }

    @Test func emptyTokenBucketStopsRetries() async throws {
        let transport = ScriptedTransport([.respond(500, "<html><body>Internal Server Error</body></html>")], repeatLast: true)
        let policy = AWSRetryPolicy(maxAttempts: 5, bucketCapacity: 12, random: { 0 })
        let c = client(transport, sleeper: RecordingSleeper(), policy: policy)
        await #expect { _ = try await c.rds().describeDBInstances() } throws: { ($0 as? AWSError)?.statusCode == 500 }
        // 12 tokens pay for two retries (5 each), the third cannot be paid for.
        #expect(transport.requestCount == 3)
        #expect(await c.retryTokenBucket.available == 2)
        // A later failing call gets no retry at all.
        await #expect { _ = try await c.rds().describeDBInstances() } throws: { $0 is AWSError }
        #expect(transport.requestCount == 4)
    }

    @Test func backoffIsCappedAndJittered() {
        let high = AWSRetryPolicy(maxBackoff: .seconds(20), random: { 0.999 })
        #expect(high.backoff(retry: 10) <= .seconds(20))
        #expect(high.backoff(retry: 10) > .seconds(19))
        let zero = AWSRetryPolicy(random: { 0 })
        #expect(zero.backoff(retry: 3) == .zero)
    }

    @Test func connectionRefusedOnLoopbackIsAConnectFailureAndIsRetried() async throws {
        // Port 9 (discard) is closed on loopback here: connect is refused (AsyncHTTPClient retries the
        // connection until its connect timeout, hence the short one).
        let sleeper = RecordingSleeper()
        let c = AWSClient(configuration: TestConfig.configuration(endpoint: "http://127.0.0.1:9"),
                          retryPolicy: AWSRetryPolicy(random: { 0 }),
                          transport: AsyncHTTPTransport(connectTimeout: .milliseconds(300)), sleeper: sleeper)
        await #expect { _ = try await c.rds().describeDBInstances() } throws: { ($0 as? AWSTransportError)?.kind == .connectFailed }
        #expect(sleeper.delays.count == 2)
        try await c.shutdown()
    }
}
