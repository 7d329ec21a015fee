import Foundation
import RunbookAWS
import RunbookEngine

enum CloudWatchSupport {
    static func cloudWatch(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws -> CloudWatch {
        do { return try provider.client().cloudWatch(region: invocation.string("region")) } catch { throw AWSStep.failure(error, "CloudWatch") }
    }

    static func find(_ cw: CloudWatch, _ name: String) async throws -> CloudWatch.MetricAlarm? {
        try await AWSStep.run("alarm \(name) in \(cw.region)") { try await cw.describeAlarms(alarmNames: [name]).items.first { $0.name == name } }
    }

    static func owner(_ cw: CloudWatch, _ alarm: CloudWatch.MetricAlarm, _ invocation: ActionInvocation) async throws -> Ownership {
        guard let arn = alarm.arn else { return .preExisting }
        return Ownership.of(try await AWSStep.run("tags of alarm \(alarm.name)") { try await cw.listTagsForResource(arn: arn) }, runID: invocation.runID)
    }
}

/// `aws.cloudwatch.put-metric-alarm`: creates a metric alarm (adopts one that exists: a pre-existing alarm is left as it is).
/// `alarm_topic` names an SNS topic in the alarm's region, resolved to its ARN. Undo deletes the alarm if this run created it.
public struct PutMetricAlarmAction: StepAction {
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
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let cw = try CloudWatchSupport.cloudWatch(provider, invocation)
        let alarmName = try invocation.requiredString("name")
        if let existing = try await CloudWatchSupport.find(cw, alarmName) {
            let ownership = try await CloudWatchSupport.owner(cw, existing, invocation)
            return ["name": alarmName, "arn": existing.arn ?? "", "result": ownership.foundResult, "owned": ownership.owned, "state": existing.state]
        }
        guard let threshold = Double(try invocation.requiredString("threshold")) else {
            throw ActionFailure("alarm \(alarmName): threshold must be a number", retryable: false)
        }
        var actions: [String] = []
        if let topic = invocation.string("alarm_topic"), !topic.isEmpty {
            let sns = try AWSStep.sync("SNS") { try provider.client().sns(region: invocation.string("region")) }
            guard let arn = try await SNSSupport.find(sns, topic) else { throw ActionFailure("alarm \(alarmName): SNS topic \(topic) not found in \(sns.region)", retryable: false) }
            actions = [arn]
        }
        let request = CloudWatch.PutMetricAlarmRequest(
            alarmName: alarmName, metricName: try invocation.requiredString("metric"), namespace: invocation.string("namespace") ?? "AWS/RDS",
            statistic: invocation.string("statistic") ?? "Average", period: try invocation.int("period") ?? 300,
            evaluationPeriods: try invocation.int("evaluation_periods") ?? 2, threshold: threshold,
            comparisonOperator: invocation.string("comparison") ?? "GreaterThanThreshold",
            dimensions: try invocation.stringMap("dimensions").sorted { $0.key < $1.key }.map { CloudWatch.Dimension($0.key, $0.value) },
            alarmActions: actions, alarmDescription: invocation.string("description"), tags: AWSTags.ownership(invocation))
        try await AWSStep.run("alarm \(alarmName) in \(cw.region)") { try await cw.putMetricAlarm(request) }
        let created = try await CloudWatchSupport.find(cw, alarmName)
        return ["name": alarmName, "arn": created?.arn ?? "", "result": "created", "owned": "true", "state": created?.state ?? ""]
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let cw = try CloudWatchSupport.cloudWatch(provider, invocation)
        let alarmName = try invocation.requiredString("name")
        guard let alarm = try await CloudWatchSupport.find(cw, alarmName) else { return ["undo": "already gone"] }
        guard try await CloudWatchSupport.owner(cw, alarm, invocation) == .thisRun else { return ["undo": "kept \(alarmName): not created by this run"] }
        try await AWSStep.run("alarm \(alarmName) in \(cw.region)") { try await cw.deleteAlarms(names: [alarmName]) }
        return ["undo": "deleted \(alarmName)"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let cw = try CloudWatchSupport.cloudWatch(provider, invocation)
        let alarmName = try invocation.requiredString("name")
        return try await CloudWatchSupport.find(cw, alarmName) == nil ? ActionPlan(.create, "alarm \(alarmName) in \(cw.region)") : ActionPlan(.adopt, "alarm \(alarmName) exists")
    }
}

/// `aws.cloudwatch.delete-alarms`: deletes alarms by name (absent is fine).
public struct DeleteAlarmsAction: StepAction {
    public let name = "aws.cloudwatch.delete-alarms"
    public let summary = "Delete CloudWatch alarms (absent is fine)"
    public let inputs = [ActionInputSpec("names", required: true, kind: .any), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let cw = try CloudWatchSupport.cloudWatch(provider, invocation)
        let names = try AWSStep.list(invocation, "names")
        var present: [String] = []
        for alarm in names where try await CloudWatchSupport.find(cw, alarm) != nil { present.append(alarm) }
        if !present.isEmpty { try await AWSStep.run("alarms \(present.joined(separator: ", ")) in \(cw.region)") { try await cw.deleteAlarms(names: present) } }
        return ["deleted": present.joined(separator: ","), "result": present.isEmpty ? "absent" : "deleted"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let cw = try CloudWatchSupport.cloudWatch(provider, invocation)
        var present: [String] = []
        for alarm in try AWSStep.list(invocation, "names") where try await CloudWatchSupport.find(cw, alarm) != nil { present.append(alarm) }
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
        let end = Date()
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
