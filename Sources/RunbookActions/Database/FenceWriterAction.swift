import Foundation
import RunbookAWS
import RunbookEngine
import RunbookPostgres

/// `db.fence`: stops a writer from taking writes, and its undo lets it take them again.
///
/// `method: parameter-group` (default) sets `default_transaction_read_only = 1` in the instance's own DB
/// parameter group, applied immediately, waits until new sessions see it, ends the other client sessions
/// and proves the fence with a canary write that must fail with SQLSTATE 25006. It fences well-behaved
/// clients: a session can still `SET default_transaction_read_only = off` for itself. A group shared with
/// another instance, or a `default.` group, is never modified: the step fails, naming them.
/// `method: network` replaces the instance's VPC security groups with `security_group` (one without
/// ingress), applied immediately; undo restores the previous groups.
public struct FenceWriterAction: StepAction {
    let connector: DatabaseConnector
    public init(provider: AWSClientProvider) { connector = DatabaseConnector(provider: provider) }
    public let name = "db.fence"
    public let summary = "fence a writer: read-only through its own parameter group (or no ingress), other sessions ended"
    public var inputs: [ActionInputSpec] {
        DatabaseConnector.inputs + [
            ActionInputSpec("method", description: "parameter-group (default) or network"),
            ActionInputSpec("security_group", description: "with method: network, the security group without ingress"),
            ActionInputSpec("apply_timeout", description: "how long new sessions may take to see the fence (default 60s)"),
        ]
    }
    public var hasUndo: Bool { true }

    static let setting = "default_transaction_read_only"

    /// A failure carries `fenced` (`unreachable` when the database did not answer, else `failed`) and `fence_error`, so that a runbook that goes on without the fence reports why.
    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        do {
            switch invocation.string("method") ?? "parameter-group" {
            case "parameter-group": return try await fenceWithParameterGroup(invocation)
            case "network": return try await fenceWithSecurityGroup(invocation)
            case let other: throw ActionFailure("input 'method' must be parameter-group or network, got '\(other)'", retryable: false)
            }
        } catch let failure as ActionFailure {
            let unreachable = failure.outputs[DatabaseOutput.unreachable] == "true"
            throw ActionFailure(failure.message, retryable: failure.retryable, outputs: [
                "fenced": unreachable ? "unreachable" : "failed", "fence_error": failure.message, "final_lsn": "", "fenced_at": "",
            ])
        }
    }

    /// Restores what the fence replaced. A fence that failed half-way (e.g. the group was changed, then the
    /// database stopped answering) is undone too, from the record it left on the instance.
    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let outputs = invocation.stepOutputs
        let instance = try DBInstanceTarget(connector.provider, invocation)
        let completed = outputs["fenced"] == "true"
        guard let db = try await instance.find(),
              let record = completed ? FenceRecord.Entry(previous: nil) : try await FenceRecord.read(db, instance, runID: invocation.runID) else {
            return ["result": "nothing to undo"]
        }
        if (outputs["method"] ?? invocation.string("method")) == "network" {
            let previous = record.previous.map { $0.split(separator: " ").map(String.init) }
                ?? (outputs["previous_security_groups"] ?? "").split(separator: ",").map(String.init)
            guard !previous.isEmpty else { throw ActionFailure("no previous security groups recorded to restore", retryable: false) }
            try await AWSStep.run("restoring the security groups of \(instance.description)") {
                try await Self.replaceSecurityGroups(of: instance, with: previous)
            }
            try await FenceRecord.clear(instance)
            return ["result": "unfenced", "security_groups": previous.joined(separator: ",")]
        }
        guard let group = outputs["parameter_group"].flatMap({ $0.isEmpty ? nil : $0 }) ?? db.parameterGroups.first?.name else {
            throw ActionFailure("\(instance.description) has no parameter group to unfence", retryable: false)
        }
        let previous = (record.previous ?? outputs["previous_value"]).flatMap { $0.isEmpty ? nil : $0 } ?? "0"
        try await setReadOnly(previous, group: group, instance)
        if completed { try await waitUntilSessionsSee(readOnly: BooleanText.parse(previous) ?? false, invocation) }
        try await FenceRecord.clear(instance)
        return ["result": "unfenced", "value": previous]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        ActionPlan(.change, "makes \(try invocation.requiredString("identifier")) refuse writes")
    }

    // MARK: parameter group

    private func fenceWithParameterGroup(_ invocation: ActionInvocation) async throws -> [String: String] {
        let instance = try DBInstanceTarget(connector.provider, invocation)
        let db = try await instance.require()
        let group = try await ownParameterGroup(of: db, instance)
        let previous = try await FenceRecord.previous(of: db, instance, invocation) {
            try await instance.rds.describeAllDBParameters(name: group, source: "user").first { $0.name == Self.setting }?.value ?? ""
        }
        try await setReadOnly("1", group: group, instance)
        try await waitUntilSessionsSee(readOnly: true, invocation)
        let (ended, position) = try await connector.withSession(invocation) { db, session in
            let ended = try await session.terminateOtherSessions()
            try await Self.proveRefusal(session, db.identifier, invocation)
            return (ended, try await session.replicationStatus().writerPosition)
        }
        return [
            "fenced": "true", "method": "parameter-group", "parameter_group": group, "previous_value": previous, "value": "1",
            "sessions_ended": String(ended), "final_lsn": position?.description ?? "", "fence_error": "",
            "fenced_at": DatabaseOutput.milliseconds(Date()),
        ]
    }

    /// The instance's parameter group, if no other instance in the region uses it and it is not a default group.
    private func ownParameterGroup(of db: RDS.DBInstance, _ instance: DBInstanceTarget) async throws -> String {
        guard let group = db.parameterGroups.first?.name else {
            throw ActionFailure("\(instance.description) has no DB parameter group", retryable: false)
        }
        guard !group.hasPrefix("default.") else {
            throw ActionFailure("\(instance.description) uses the default parameter group \(group), which cannot be changed: "
                                + "give it a parameter group of its own (provision does) before fencing", retryable: false)
        }
        let others = try await AWSStep.run("listing the DB instances in \(instance.rds.region)") {
            try await collectAllPages { try await instance.rds.describeDBInstances(marker: $0) }
        }.filter { $0.identifier != db.identifier && $0.parameterGroups.contains { $0.name == group } }
        guard others.isEmpty else {
            throw ActionFailure("parameter group \(group) of \(instance.description) is shared with "
                                + others.map(\.identifier).sorted().joined(separator: ", ")
                                + "; fencing it would fence them too: give \(db.identifier) a parameter group of its own", retryable: false)
        }
        return group
    }

    private func setReadOnly(_ value: String, group: String, _ instance: DBInstanceTarget) async throws {
        try await AWSStep.run("setting \(Self.setting)=\(value) in parameter group \(group)") {
            try await instance.rds.modifyDBParameterGroup(name: group, parameters: [RDS.Parameter(name: Self.setting, value: value)])
        }
    }

    /// Polls new sessions until they start with the wanted `default_transaction_read_only`.
    private func waitUntilSessionsSee(readOnly: Bool, _ invocation: ActionInvocation) async throws {
        let limit = try invocation.duration("apply_timeout") ?? .seconds(60)
        let deadline = ContinuousClock.now + limit
        while true {
            let seen = try await connector.withSession(invocation) { _, session in try await session.replicationStatus().defaultReadOnly }
            if seen == readOnly { return }
            guard ContinuousClock.now < deadline else {
                throw ActionFailure("new sessions did not see \(Self.setting)=\(readOnly ? "on" : "off") within \(DurationText.format(limit))",
                                    retryable: true)
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// A canary write must fail with 25006, or the fence did not take.
    private static func proveRefusal(_ session: DatabaseSession, _ identifier: String, _ invocation: ActionInvocation) async throws {
        do {
            _ = try await session.writeCanary(runID: invocation.runID, step: invocation.stepID, sequence: 0)
        } catch let error as DatabaseError where error.isReadOnlyRefusal {
            return
        }
        throw ActionFailure("\(identifier) still accepted a write after the fence", retryable: true)
    }

    // MARK: network

    private static func replaceSecurityGroups(of instance: DBInstanceTarget, with ids: [String]) async throws {
        try await instance.modifyNow { $0.vpcSecurityGroupIDs = ids }
    }

    private func fenceWithSecurityGroup(_ invocation: ActionInvocation) async throws -> [String: String] {
        let instance = try DBInstanceTarget(connector.provider, invocation)
        let fence = try invocation.requiredString("security_group")
        let db = try await instance.require()
        let current = try await FenceRecord.previous(of: db, instance, invocation) {
            db.vpcSecurityGroups.map(\.id).joined(separator: " ")
        }.split(separator: " ").map(String.init)
        try await AWSStep.run("replacing the security groups of \(instance.description)") {
            try await Self.replaceSecurityGroups(of: instance, with: [fence])
        }
        return [
            "fenced": "true", "method": "network", "security_group": fence, "previous_security_groups": current.joined(separator: ","),
            "fence_error": "", "final_lsn": "",
            "fenced_at": DatabaseOutput.milliseconds(Date()),
        ]
    }
}

/// What a fence replaced, kept in tags on the instance before the fence is applied, so that a step re-run
/// after a crash (which finds the fence already in place) still knows what its undo must restore.
enum FenceRecord {
    static let previousKey = "runbook:fence-previous"
    static let runKey = "runbook:fenced-by"

    /// The recorded previous value, or `read()`'s answer, recorded first.
    static func previous(of db: RDS.DBInstance, _ instance: DBInstanceTarget, _ invocation: ActionInvocation,
                         read: @Sendable () async throws -> String) async throws -> String {
        guard let arn = db.arn else { throw ActionFailure("\(instance.description) has no ARN to record the fence on", retryable: true) }
        let tags = try await AWSStep.run("reading the tags of \(instance.description)") { try await instance.rds.listTagsForResource(arn: arn) }
        if let recorded = tags.first(where: { $0.key == previousKey }) { return recorded.value == "none" ? "" : recorded.value }
        let value = try await AWSStep.run("reading what the fence of \(instance.description) replaces") { try await read() }
        try await AWSStep.run("recording the fence on \(instance.description)") {
            try await instance.rds.addTagsToResource(arn: arn, tags: [AWSTag(previousKey, value.isEmpty ? "none" : value),
                                                                       AWSTag(runKey, invocation.runID)])
        }
        return value
    }

    struct Entry {
        /// The recorded previous value; nil when the caller already knows it from the step's outputs.
        var previous: String?
    }

    /// The record `runID` left on the instance, if any.
    static func read(_ db: RDS.DBInstance, _ instance: DBInstanceTarget, runID: String) async throws -> Entry? {
        guard let arn = db.arn else { return nil }
        let tags = try await AWSStep.run("reading the tags of \(instance.description)") { try await instance.rds.listTagsForResource(arn: arn) }
        guard tags.contains(where: { $0.key == runKey && $0.value == runID }),
              let previous = tags.first(where: { $0.key == previousKey }) else { return nil }
        return Entry(previous: previous.value == "none" ? "" : previous.value)
    }

    static func clear(_ instance: DBInstanceTarget) async throws {
        guard let arn = try await instance.find()?.arn else { return }
        try await AWSStep.run("removing the fence record of \(instance.description)") {
            try await instance.rds.removeTagsFromResource(arn: arn, tagKeys: [previousKey, runKey])
        }
    }
}
