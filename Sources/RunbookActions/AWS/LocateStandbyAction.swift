import Foundation
import RunbookAWS
import RunbookEngine

/// `aws.rds.locate-standby`: the deployment's standby (the slot that is a read replica) and the writer it
/// replicates from, in whichever regions they are, for a regional failover.
///
/// Each slot is looked up in its own region, and a region that does not answer is noted rather than fatal:
/// the writer's region is the one likely to be down, and the replica's source ARN names the writer without
/// asking that region.
public struct LocateStandbyAction: StepAction, ReadOnlyAction {
    public let name = "aws.rds.locate-standby"
    public let summary = "Find the deployment's standby (its read replica) and the writer it replicates from; a region that does not answer is noted"
    public let inputs = LocateDeploymentAction.deploymentInputs
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    /// One slot of the deployment as its region answered (or did not).
    struct Slot: Sendable {
        var identifier: String
        var region: String
        var db: RDS.DBInstance?
        /// Why the region gave no answer; nil when it answered (with the instance or with "not found").
        var unreachable: String?
        var replicaSource: String? { db?.readReplicaSourceDBInstanceIdentifier.flatMap { $0.isEmpty ? nil : $0 } }
        var state: String {
            if let unreachable { return "unreachable (\(unreachable))" }
            guard let db else { return "absent" }
            return "\(db.status), \(replicaSource.map { "replica of \($0)" } ?? "standalone")"
        }
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let name = try invocation.requiredString("name")
        let slots = [
            await slot(name, try invocation.requiredString("primary_region")),
            await slot(name + "-replica", try invocation.requiredString("secondary_region")),
        ]
        return try Self.outputs(slots, deployment: name)
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let found = try await perform(invocation)
        return ActionPlan(.nothing, "the standby is \(found["standby_identifier"] ?? "?") in \(found["standby_region"] ?? "?"), replicating from "
                          + "\(found["writer_identifier"] ?? "?") in \(found["writer_region"] ?? "?") (\(found["writer_state"] ?? "?"))")
    }

    private func slot(_ identifier: String, _ region: String) async -> Slot {
        do {
            let target = DBInstanceTarget(try RDSSupport.rds(provider, region: region), identifier)
            return Slot(identifier: target.identifier, region: region, db: try await target.find())
        } catch {
            return Slot(identifier: identifier.lowercased(), region: region, unreachable: "\(error)")
        }
    }

    /// The standby and its writer; a failure naming every slot's state when there is not exactly one standby,
    /// or when it replicates from something other than the deployment's other slot.
    static func outputs(_ slots: [Slot], deployment: String) throws -> [String: String] {
        let seen = slots.map { "\($0.identifier) in \($0.region): \($0.state)" }.joined(separator: "; ")
        let standbys = slots.filter { $0.replicaSource != nil }
        guard standbys.count == 1, let standby = standbys.first, let source = standby.replicaSource,
              let other = slots.first(where: { $0.identifier != standby.identifier }) else {
            let retryable = standbys.isEmpty && slots.contains { $0.unreachable != nil }
            throw ActionFailure("deployment \(deployment) has \(standbys.isEmpty ? "no" : "more than one") standby to promote (\(seen))"
                                + (standbys.isEmpty ? "; after a promotion, reprotect gives it a new one" : ""), retryable: retryable)
        }
        let writer = Self.instance(named: source, defaultRegion: standby.region)
        guard writer.identifier == other.identifier, writer.region == other.region else {
            throw ActionFailure("\(standby.identifier) in \(standby.region) replicates from \(source), not from the deployment's other slot "
                                + "\(other.identifier) in \(other.region); fix the deployment before failing over", retryable: false)
        }
        return [
            "standby_identifier": standby.identifier, "standby_region": standby.region, "standby_arn": standby.db?.arn ?? "",
            "writer_identifier": writer.identifier, "writer_region": writer.region,
            "writer_answered": String(other.unreachable == nil), "writer_state": other.state,
        ]
    }

    /// An instance named by a replica's source: an ARN (`arn:PARTITION:rds:REGION:ACCOUNT:db:ID`, cross-region)
    /// or a bare identifier (same region as the replica).
    static func instance(named source: String, defaultRegion: String) -> (identifier: String, region: String) {
        let parts = source.split(separator: ":", omittingEmptySubsequences: false)
        guard source.hasPrefix("arn:"), parts.count >= 7, parts[2] == "rds", parts[5] == "db" else {
            return (source.lowercased(), defaultRegion)
        }
        return (parts[6...].joined(separator: ":").lowercased(), String(parts[3]))
    }
}
