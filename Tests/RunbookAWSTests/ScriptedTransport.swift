import Foundation
@testable import RunbookAWS

/// A transport that answers from a script (responses or transport errors) and records requests.
final class ScriptedTransport: AWSHTTPTransport, @unchecked Sendable {
    enum Step {
        case respond(Int, String)
        case fail(AWSTransportError.Kind)
    }
    private let lock = NSLock()
    private var steps: [Step]
    private var repeatLast: Bool
    private(set) var requests: [AWSHTTPRequest] = []

    init(_ steps: [Step], repeatLast: Bool = false) {
        self.steps = steps
        self.repeatLast = repeatLast
    }

    var requestCount: Int { lock.withLock { requests.count } }

    func send(_ request: AWSHTTPRequest, operation: String) async throws -> AWSHTTPResponse {
        let step: Step = lock.withLock {
            requests.append(request)
            if steps.count == 1 && repeatLast { return steps[0] }
            return steps.isEmpty ? .respond(599, "script exhausted") : steps.removeFirst()
        }
        switch step {
        case let .respond(status, body):
            return AWSHTTPResponse(statusCode: status, headers: [("x-amzn-RequestId", "req-\(requestCount)")], body: Data(body.utf8))
        case let .fail(kind):
            throw AWSTransportError(kind: kind, operation: operation, underlying: "scripted \(kind)")
        }
    }

    func shutdown() async throws {}
}

extension AWSHTTPRequest {
    /// A header's value by case-insensitive name.
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

/// A sleeper that records requested delays and returns at once.
final class RecordingSleeper: AWSSleeper, @unchecked Sendable {
    private let lock = NSLock()
    private var _delays: [Duration] = []
    var delays: [Duration] { lock.withLock { _delays } }
    func sleep(for duration: Duration) async throws {
        lock.withLock { _delays.append(duration) }
    }
}

enum TestConfig {
    static func configuration(endpoint: String = "http://127.0.0.1:9", region: String = "us-east-1") -> AWSConfiguration {
        AWSConfiguration(credentialSource: .keys(AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "test-secret"), origin: "test"),
                         defaultRegion: region, globalEndpoint: endpoint)
    }

    static let describeOK = """
    <DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances>
    <DBInstance><DBInstanceIdentifier>db1</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus></DBInstance>
    </DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeDBInstancesResponse>
    """
    static let throttled = """
    <ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>t1</RequestId></ErrorResponse>
    """
}
