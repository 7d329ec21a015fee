import Foundation
import RunbookAWS
import RunbookEngine

enum CloudWatchSupport {
    static func cloudWatch(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws -> CloudWatch {
        do { return try provider.client().cloudWatch(region: invocation.string("region")) } catch { throw AWSStep.failure(error, "CloudWatch") }
    }
}

/// A CloudWatch metric alarm by name. PutMetricAlarm answers nothing, so a create reads the alarm back (nil if the
/// read does not see it yet).
struct MetricAlarmResource: ManagedResource {
    typealias Created = CloudWatch.MetricAlarm?

    let cw: CloudWatch
    let name: String
    let invocation: ActionInvocation
    let provider: AWSClientProvider

    var description: String { "alarm \(name) in \(cw.region)" }
    // DescribeAlarms answers an empty list for a missing alarm; DeleteAlarms and PutMetricAlarm are idempotent.
    static let notFoundCodes: Set<String> = []

    func fetch() async throws -> CloudWatch.MetricAlarm? { try await cw.describeAlarms(alarmNames: [name]).items.first { $0.name == name } }

    func tags(of alarm: CloudWatch.MetricAlarm) async throws -> [AWSTag] {
        guard let arn = alarm.arn else { return [] }
        return try await cw.listTagsForResource(arn: arn)
    }

    func delete(_ alarm: CloudWatch.MetricAlarm) async throws { try await cw.deleteAlarms(names: [name]) }

    func create() async throws -> CloudWatch.MetricAlarm? {
        try await cw.putMetricAlarm(try await request())
        return try await fetch()
    }

    func request() async throws -> CloudWatch.PutMetricAlarmRequest {
        guard let threshold = Double(try invocation.requiredString("threshold")) else {
            throw ActionFailure("alarm \(name): threshold must be a number", retryable: false)
        }
        return CloudWatch.PutMetricAlarmRequest(
            alarmName: name, metricName: try invocation.requiredString("metric"), namespace: invocation.string("namespace") ?? "AWS/RDS",
            statistic: invocation.string("statistic") ?? "Average", period: try invocation.int("period") ?? 300,
            evaluationPeriods: try invocation.int("evaluation_periods") ?? 2, threshold: threshold,
            comparisonOperator: invocation.string("comparison") ?? "GreaterThanThreshold",
            dimensions: try invocation.stringMap("dimensions").sorted { $0.key < $1.key }.map { CloudWatch.Dimension($0.key, $0.value) },
            alarmActions: try await alarmActions(), alarmDescription: invocation.string("description"), tags: AWSTags.ownership(invocation))
    }

    /// The ARN of `alarm_topic` (an SNS topic in the alarm's region), if given.
    func alarmActions() async throws -> [String] {
        guard let topicName = invocation.string("alarm_topic"), !topicName.isEmpty else { return [] }
        let topic = SNSTopicResource(sns: try SNSTopicResource.sns(provider, region: invocation.string("region")), name: topicName, invocation: invocation)
        guard let arn = try await ResourceLifecycle.find(topic) else {
            throw ActionFailure("alarm \(name): SNS topic \(topicName) not found in \(topic.sns.region)", retryable: false)
        }
        return [arn]
    }

    /// The outputs of a create-or-adopt.
    static func outputs(_ adoption: Adoption<MetricAlarmResource>) -> [String: String] {
        let alarm: CloudWatch.MetricAlarm?
        switch adoption {
        case let .created(created): alarm = created
        case let .found(found, _): alarm = found
        }
        return adoption.outputs(["arn": alarm?.arn ?? "", "state": alarm?.state ?? ""])
    }
}

/// `aws.cloudwatch.put-metric-alarm`: creates a metric alarm (adopts one that exists: a pre-existing alarm is left as it is).
/// `alarm_topic` names an SNS topic in the alarm's region, resolved to its ARN. Undo deletes the alarm if this run created it.
public struct PutMetricAlarmAction: ResourceCreatingAction {
    public let name = "aws.cloudwatch.put-metric-alarm"
    public let summary = "Create a CloudWatch metric alarm (adopt an existing one)"
    public let inputs = [
        ActionInputSpec("name", required: true), AWSStep.regionInput, ActionInputSpec("description"),
        ActionInputSpec("metric", required: true), ActionInputSpec("namespace"), ActionInputSpec("statistic"), ActionInputSpec("period"),
        ActionInputSpec("evaluation_periods"), ActionInputSpec("threshold", required: true), ActionInputSpec("comparison"),
        ActionInputSpec("dimensions", kind: .map), ActionInputSpec("alarm_topic", description: "SNS topic name in the same region"),
    ]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    func resource(_ invocation: ActionInvocation) throws -> MetricAlarmResource {
        MetricAlarmResource(cw: try CloudWatchSupport.cloudWatch(provider, invocation), name: try invocation.requiredString("name"), invocation: invocation, provider: provider)
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let alarm = try resource(invocation)
        let adoption = try await ResourceLifecycle.createOrAdopt(alarm, runID: invocation.runID)
        return MetricAlarmResource.outputs(adoption).merging(["name": alarm.name]) { _, new in new }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let alarm = try resource(invocation)
        return try await ResourceLifecycle.plan(alarm, create: alarm.description) { _ in "alarm \(alarm.name) exists" }
    }
}

/// `aws.cloudwatch.delete-alarms`: deletes alarms by name (absent is fine).
public struct DeleteAlarmsAction: StepAction {
    public let name = "aws.cloudwatch.delete-alarms"
    public let summary = "Delete CloudWatch alarms (absent is fine)"
    public let inputs = [ActionInputSpec("names", required: true, kind: .any), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    /// The alarms of `names` that exist.
    func present(_ invocation: ActionInvocation) async throws -> (CloudWatch, [String]) {
        let cw = try CloudWatchSupport.cloudWatch(provider, invocation)
        var present: [String] = []
        for alarm in try AWSStep.list(invocation, "names") where try await ResourceLifecycle.find(MetricAlarmResource(cw: cw, name: alarm, invocation: invocation, provider: provider)) != nil {
            present.append(alarm)
        }
        return (cw, present)
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let (cw, present) = try await present(invocation)
        if !present.isEmpty { try await AWSStep.run("alarms \(present.joined(separator: ", ")) in \(cw.region)") { try await cw.deleteAlarms(names: present) } }
        return ["deleted": present.joined(separator: ","), AWSOutput.result: (present.isEmpty ? DeleteResult.absent : .deleted).rawValue]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let present = try await present(invocation).1
        return present.isEmpty ? ActionPlan(.nothing, "no such alarms") : ActionPlan(.change, "delete \(present.joined(separator: ", "))")
    }
}

/// `aws.cloudwatch.get-replica-lag`: the highest `AWS/RDS ReplicaLag` (seconds) of `identifier` over the last `window`
/// (GetMetricStatistics, Maximum). No datapoints: `replica_lag_seconds: unknown`. With `max_lag`, the step fails when the
/// lag is above it or unknown, unless `force` is true.
public struct GetReplicaLagAction: StepAction {
    public let name = "aws.cloudwatch.get-replica-lag"
    public let summary = "Read a replica's ReplicaLag from CloudWatch (no data = unknown); optionally fail above max_lag"
    public let inputs = [ActionInputSpec("identifier", required: true), AWSStep.regionInput, ActionInputSpec("window", description: "default 10m"),
                         ActionInputSpec("max_lag", description: "fail above this (duration) or when unknown"), ActionInputSpec("force")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let cw = try CloudWatchSupport.cloudWatch(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        let window = try invocation.duration("window") ?? .seconds(600)
        let end = invocation.clock.now
        let start = end.addingTimeInterval(-Double(window.components.seconds))
        let points = try await AWSStep.run("ReplicaLag of \(id) in \(cw.region)") {
            try await cw.getMetricStatistics(namespace: "AWS/RDS", metricName: "ReplicaLag", dimensions: [CloudWatch.Dimension("DBInstanceIdentifier", id)],
                                             startTime: start, endTime: end.addingTimeInterval(60), period: 60, statistics: ["Maximum"])
        }
        let lag = points.compactMap(\.maximum).max()
        let lagText = lag.map { String(format: "%g", $0) } ?? "unknown"
        let out = ["replica_lag_seconds": lagText, "datapoints": String(points.count), "window": DurationText.format(window)]
        if let maxLag = try invocation.duration("max_lag"), try invocation.bool("force") != true {
            let limit = Double(maxLag.components.seconds)
            guard let lag else {
                throw ActionFailure("replica lag of \(id) in \(cw.region) is unknown (no ReplicaLag datapoints in the last \(DurationText.format(window))); pass force=true to proceed anyway",
                                    retryable: false, outputs: out)
            }
            if lag > limit {
                throw ActionFailure("replica lag of \(id) in \(cw.region) is \(lagText)s, above max_lag \(DurationText.format(maxLag)); pass force=true to proceed anyway",
                                    retryable: false, outputs: out)
            }
        }
        return out
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only check") }
}
