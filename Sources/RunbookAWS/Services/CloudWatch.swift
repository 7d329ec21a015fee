import Foundation

/// Amazon CloudWatch (Query, 2010-08-01; signing name `monitoring`) in one region.
public struct CloudWatch: QueryService {
    static let service = AWSService.cloudwatch
    let client: AWSClient
    public let region: String
    var callRegion: String? { region }

    public struct Dimension: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    static func encode(_ dims: [Dimension], _ prefix: String, into p: inout QueryParameters) {
        p.setList(prefix, dims) { d, q in
            q.set("Name", d.name)
            q.set("Value", d.value)
        }
    }

    /// Fields of `PutMetricAlarm` (single-metric alarms).
    public struct PutMetricAlarmRequest: Sendable {
        public var alarmName: String
        public var alarmDescription: String?
        public var metricName: String
        public var namespace: String
        public var statistic: String
        public var period: Int
        public var evaluationPeriods: Int
        public var threshold: Double
        public var comparisonOperator: String
        public var dimensions: [Dimension]
        public var alarmActions: [String]
        public var okActions: [String]
        public var treatMissingData: String?
        public var tags: [AWSTag]
        public init(alarmName: String, metricName: String, namespace: String, statistic: String, period: Int, evaluationPeriods: Int,
                    threshold: Double, comparisonOperator: String, dimensions: [Dimension] = [], alarmActions: [String] = [],
                    okActions: [String] = [], alarmDescription: String? = nil, treatMissingData: String? = nil, tags: [AWSTag] = []) {
            self.alarmName = alarmName
            self.metricName = metricName
            self.namespace = namespace
            self.statistic = statistic
            self.period = period
            self.evaluationPeriods = evaluationPeriods
            self.threshold = threshold
            self.comparisonOperator = comparisonOperator
            self.dimensions = dimensions
            self.alarmActions = alarmActions
            self.okActions = okActions
            self.alarmDescription = alarmDescription
            self.treatMissingData = treatMissingData
            self.tags = tags
        }
    }

    /// `PutMetricAlarm`. Idempotent (create-or-replace by name).
    public func putMetricAlarm(_ r: PutMetricAlarmRequest) async throws {
        var p = QueryParameters()
        p.set("AlarmName", r.alarmName)
        p.set("AlarmDescription", r.alarmDescription)
        p.set("MetricName", r.metricName)
        p.set("Namespace", r.namespace)
        p.set("Statistic", r.statistic)
        p.set("Period", r.period)
        p.set("EvaluationPeriods", r.evaluationPeriods)
        p.set("Threshold", r.threshold)
        p.set("ComparisonOperator", r.comparisonOperator)
        CloudWatch.encode(r.dimensions, "Dimensions.member", into: &p)
        p.setList("AlarmActions.member", r.alarmActions)
        p.setList("OKActions.member", r.okActions)
        p.set("TreatMissingData", r.treatMissingData)
        p.setTags("Tags.member", r.tags)
        _ = try await call("PutMetricAlarm", p, idempotent: true)
    }

    public struct MetricAlarm: Sendable, Equatable {
        public var name: String
        public var arn: String?
        public var state: String
        public var stateReason: String?
        public var metricName: String?
        public var namespace: String?
        public var threshold: Double?
        public var comparisonOperator: String?
        public var dimensions: [Dimension]
        public var alarmActions: [String]
        init(_ n: XMLNode) {
            name = n.string("AlarmName") ?? ""
            arn = n.string("AlarmArn")
            state = n.string("StateValue") ?? ""
            stateReason = n.string("StateReason")
            metricName = n.string("MetricName")
            namespace = n.string("Namespace")
            threshold = n.double("Threshold")
            comparisonOperator = n.string("ComparisonOperator")
            dimensions = n.list("Dimensions").map { Dimension($0.string("Name") ?? "", $0.string("Value") ?? "") }
            alarmActions = n.list("AlarmActions").map(\.text)
        }
    }

    /// `DescribeAlarms`, one page.
    public func describeAlarms(alarmNames: [String]? = nil, alarmNamePrefix: String? = nil, stateValue: String? = nil,
                               maxRecords: Int? = nil, nextToken: String? = nil) async throws -> AWSPage<MetricAlarm> {
        var p: QueryParameters = ["AlarmNamePrefix": alarmNamePrefix, "StateValue": stateValue, "NextToken": nextToken]
        p.setList("AlarmNames.member", alarmNames)
        p.set("MaxRecords", maxRecords)
        let r = try await call("DescribeAlarms", p, idempotent: true)
        return AWSPage(items: r.list("MetricAlarms").map(MetricAlarm.init), nextToken: r.string("NextToken"))
    }

    /// `DeleteAlarms`. Idempotent.
    public func deleteAlarms(names: [String]) async throws {
        var p = QueryParameters()
        p.setList("AlarmNames.member", names)
        _ = try await call("DeleteAlarms", p, idempotent: true)
    }

    /// `SetAlarmState` (for testing alarm actions).
    public func setAlarmState(name: String, state: String, reason: String) async throws {
        _ = try await call("SetAlarmState", ["AlarmName": name, "StateValue": state, "StateReason": reason], idempotent: true)
    }

    public struct MetricDatum: Sendable {
        public var metricName: String
        public var value: Double
        public var unit: String?
        public var timestamp: Date?
        public var dimensions: [Dimension]
        public init(metricName: String, value: Double, unit: String? = nil, timestamp: Date? = nil, dimensions: [Dimension] = []) {
            self.metricName = metricName
            self.value = value
            self.unit = unit
            self.timestamp = timestamp
            self.dimensions = dimensions
        }
    }

    static func iso8601(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    /// `PutMetricData`. Not idempotent (a replay double-counts).
    public func putMetricData(namespace: String, data: [MetricDatum]) async throws {
        var p = QueryParameters()
        p.set("Namespace", namespace)
        p.setList("MetricData.member", data) { d, q in
            q.set("MetricName", d.metricName)
            q.set("Value", d.value)
            q.set("Unit", d.unit)
            q.set("Timestamp", d.timestamp.map(CloudWatch.iso8601))
            CloudWatch.encode(d.dimensions, "Dimensions.member", into: &q)
        }
        _ = try await call("PutMetricData", p, idempotent: false)
    }

    public struct Datapoint: Sendable, Equatable {
        public var timestamp: Date?
        public var average: Double?
        public var maximum: Double?
        public var minimum: Double?
        public var sum: Double?
        public var sampleCount: Double?
        public var unit: String?
    }

    /// `GetMetricStatistics`; datapoints sorted by time.
    public func getMetricStatistics(namespace: String, metricName: String, dimensions: [Dimension] = [], startTime: Date, endTime: Date,
                                    period: Int, statistics: [String]) async throws -> [Datapoint] {
        var p = QueryParameters()
        p.set("Namespace", namespace)
        p.set("MetricName", metricName)
        CloudWatch.encode(dimensions, "Dimensions.member", into: &p)
        p.set("StartTime", CloudWatch.iso8601(startTime))
        p.set("EndTime", CloudWatch.iso8601(endTime))
        p.set("Period", period)
        p.setList("Statistics.member", statistics)
        let r = try await call("GetMetricStatistics", p, idempotent: true)
        return r.list("Datapoints").map {
            Datapoint(timestamp: $0.date("Timestamp"), average: $0.double("Average"), maximum: $0.double("Maximum"),
                      minimum: $0.double("Minimum"), sum: $0.double("Sum"), sampleCount: $0.double("SampleCount"), unit: $0.string("Unit"))
        }.sorted { ($0.timestamp ?? .distantPast) < ($1.timestamp ?? .distantPast) }
    }

    /// `TagResource` (alarm ARN). Idempotent.
    public func tagResource(arn: String, tags: [AWSTag]) async throws {
        try await addTags("TagResource", ["ResourceARN": arn], prefix: "Tags.member", tags)
    }

    /// `ListTagsForResource` (alarm ARN).
    public func listTagsForResource(arn: String) async throws -> [AWSTag] {
        try await tags("ListTagsForResource", ["ResourceARN": arn], list: "Tags")
    }
}
