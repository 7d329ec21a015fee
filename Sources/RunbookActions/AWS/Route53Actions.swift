import Foundation
import RunbookAWS
import RunbookEngine

enum Route53Support {
    static func route53(_ provider: AWSClientProvider) throws -> Route53 {
        do { return try provider.client().route53 } catch { throw AWSStep.failure(error, "Route 53") }
    }

    /// `name` with a trailing dot, lower-cased (Route 53's canonical form).
    static func fqdn(_ name: String) -> String {
        let lower = name.lowercased()
        return lower.hasSuffix(".") ? lower : lower + "."
    }

    /// The caller reference of a create made by this step of this run: a retried create after a crash gets the same resource.
    static func callerReference(_ invocation: ActionInvocation) -> String { "runbook-\(invocation.runID)-\(invocation.stepID)" }

    /// Hosted zones named exactly `name`.
    static func zones(_ r53: Route53, named name: String) async throws -> [Route53.HostedZone] {
        try await AWSStep.run("hosted zones named \(name)") {
            try await r53.listHostedZonesByName(dnsName: fqdn(name)).filter { fqdn($0.name) == fqdn(name) }
        }
    }

    static func zoneTags(_ r53: Route53, _ id: String) async throws -> [AWSTag] {
        try await AWSStep.run("tags of hosted zone \(id)") { try await r53.listTagsForResource(resourceType: "hostedzone", id: id) }
    }

    /// The zone named `name` to work in: the first one carrying runbook's tags, else the first one.
    static func zone(_ r53: Route53, named name: String) async throws -> Route53.HostedZone? {
        let found = try await zones(r53, named: name)
        for zone in found where try await zoneTags(r53, zone.id).contains(where: { $0.key == AWSTags.runID }) { return zone }
        return found.first
    }

    static func records(_ r53: Route53, _ zoneID: String) async throws -> [Route53.ResourceRecordSet] {
        try await AWSStep.run("records of hosted zone \(zoneID)") { try await r53.listAllResourceRecordSets(zoneID: zoneID) }
    }

    static func record(_ r53: Route53, _ zoneID: String, name: String, type: String, setIdentifier: String?) async throws -> Route53.ResourceRecordSet? {
        try await records(r53, zoneID).first {
            fqdn($0.name) == fqdn(name) && $0.type == type && ($0.setIdentifier ?? "") == (setIdentifier ?? "")
        }
    }

    static func allHealthChecks(_ r53: Route53) async throws -> [Route53.HealthCheck] {
        var all: [Route53.HealthCheck] = []
        var marker: String?
        repeat {
            let page = try await AWSStep.run("health checks") { try await r53.listHealthChecks(marker: marker) }
            all += page.items
            marker = page.nextToken
        } while marker != nil
        return all
    }

    /// Health checks whose `Name` tag is `name`.
    static func healthChecks(_ r53: Route53, named name: String) async throws -> [(check: Route53.HealthCheck, tags: [AWSTag])] {
        var found: [(Route53.HealthCheck, [AWSTag])] = []
        for check in try await allHealthChecks(r53) where check.config.type == "CLOUDWATCH_METRIC" {
            let tags = try await AWSStep.run("tags of health check \(check.id)") { try await r53.listTagsForResource(resourceType: "healthcheck", id: check.id) }
            if tags.contains(AWSTag("Name", name)) { found.append((check, tags)) }
        }
        return found
    }

    static func zoneInputs(_ extra: [ActionInputSpec]) -> [ActionInputSpec] {
        [ActionInputSpec("zone", required: true, description: "the hosted zone's name")] + extra
    }

    static func requireZone(_ r53: Route53, _ invocation: ActionInvocation) async throws -> Route53.HostedZone {
        let zoneName = try invocation.requiredString("zone")
        guard let zone = try await zone(r53, named: zoneName) else { throw ActionFailure("hosted zone \(zoneName) not found", retryable: false) }
        return zone
    }
}

/// `aws.route53.create-hosted-zone`: a (private) hosted zone associated with the VPC named `vpc_name` in `vpc_region`.
/// The caller reference comes from the run and step ids. An existing zone of that name is adopted. Undo deletes the zone
/// (and any records left in it) if this run created it.
public struct CreateHostedZoneAction: StepAction {
    public let name = "aws.route53.create-hosted-zone"
    public let summary = "Create a private Route 53 hosted zone in a VPC (adopt an existing one)"
    public let inputs = [ActionInputSpec("name", required: true), ActionInputSpec("vpc_name", description: "the VPC's Name tag (private zones)"),
                         ActionInputSpec("vpc_region"), ActionInputSpec("private", description: "default true"), ActionInputSpec("comment")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        let zoneName = try invocation.requiredString("name")
        let reference = Route53Support.callerReference(invocation)
        if let found = try await find(r53, zoneName, invocation) { return found }
        let isPrivate = try invocation.bool("private") ?? true
        var vpcID: String?
        let vpcRegion = invocation.string("vpc_region")
        if isPrivate {
            let vpcName = try invocation.requiredString("vpc_name")
            let ec2 = try EC2Support.ec2(provider, vpcRegion)
            guard let vpc = try await EC2Support.vpc(ec2, named: vpcName) else { throw ActionFailure("hosted zone \(zoneName): VPC \(vpcName) not found in \(ec2.region)", retryable: false) }
            vpcID = vpc.id
        }
        let zone: Route53.HostedZone
        do {
            zone = try await r53.createHostedZone(name: zoneName, callerReference: reference, comment: invocation.string("comment"), privateZone: isPrivate,
                                                  vpcID: vpcID, vpcRegion: isPrivate ? try EC2Support.ec2(provider, vpcRegion).region : nil).hostedZone
        } catch where AWSStep.isError(error, "HostedZoneAlreadyExists") {
            guard let found = try await find(r53, zoneName, invocation) else { throw AWSStep.failure(error, "hosted zone \(zoneName)") }
            return found
        } catch {
            throw AWSStep.failure(error, "hosted zone \(zoneName)")
        }
        try await AWSStep.run("tags of hosted zone \(zone.id)") { try await r53.changeTagsForResource(resourceType: "hostedzone", id: zone.id, add: AWSTags.ownership(invocation, name: zoneName)) }
        return ["zone_id": zone.id, "name": zoneName, "result": "created", "owned": "true"]
    }

    /// The zone this step created before (by caller reference or tag), else a pre-existing zone of that name.
    func find(_ r53: Route53, _ zoneName: String, _ invocation: ActionInvocation) async throws -> [String: String]? {
        let zones = try await Route53Support.zones(r53, named: zoneName)
        for zone in zones where zone.callerReference == Route53Support.callerReference(invocation) {
            // Tag again: a crash may have come between the create and the tagging.
            try await AWSStep.run("tags of hosted zone \(zone.id)") { try await r53.changeTagsForResource(resourceType: "hostedzone", id: zone.id, add: AWSTags.ownership(invocation, name: zoneName)) }
            return ["zone_id": zone.id, "name": zoneName, "result": "recovered", "owned": "true"]
        }
        guard let zone = try await Route53Support.zone(r53, named: zoneName) else { return nil }
        let ownership = Ownership.of(try await Route53Support.zoneTags(r53, zone.id), runID: invocation.runID)
        return ["zone_id": zone.id, "name": zoneName, "result": ownership.foundResult, "owned": ownership.owned]
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        let zoneName = try invocation.requiredString("name")
        var deleted: [String] = []
        for zone in try await Route53Support.zones(r53, named: zoneName) {
            let tags = try await Route53Support.zoneTags(r53, zone.id)
            guard zone.callerReference == Route53Support.callerReference(invocation) || Ownership.of(tags, runID: invocation.runID) == .thisRun else { continue }
            try await DeleteHostedZoneAction.deleteZone(r53, zone)
            deleted.append(zone.id)
        }
        return ["undo": deleted.isEmpty ? "nothing of this run's" : "deleted \(deleted.joined(separator: ","))"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let r53 = try Route53Support.route53(provider)
        let zoneName = try invocation.requiredString("name")
        guard let zone = try await Route53Support.zone(r53, named: zoneName) else { return ActionPlan(.create, "hosted zone \(zoneName)") }
        return ActionPlan(.adopt, "hosted zone \(zoneName) exists (\(zone.id))")
    }
}

/// `aws.route53.delete-hosted-zone`: deletes the runbook-created zones of that name, their records first (absent is fine).
public struct DeleteHostedZoneAction: StepAction {
    public let name = "aws.route53.delete-hosted-zone"
    public let summary = "Delete runbook-created hosted zones of a name, records first (absent is fine)"
    public let inputs = [ActionInputSpec("name", required: true)]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    static func deleteZone(_ r53: Route53, _ zone: Route53.HostedZone) async throws {
        let leftovers = try await Route53Support.records(r53, zone.id).filter { $0.type != "SOA" && $0.type != "NS" }
        for record in leftovers {
            do { _ = try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(.delete, record)]) } catch where AWSStep.isError(error, AWSErrorCode.invalidChangeBatch) {
                // Already gone (moto deletes every record sharing a SetIdentifier at once).
            } catch { throw AWSStep.failure(error, "record \(record.name) in hosted zone \(zone.id)") }
        }
        do { try await r53.deleteHostedZone(id: zone.id) } catch where AWSStep.isError(error, AWSErrorCode.noSuchHostedZone) {} catch {
            throw AWSStep.failure(error, "hosted zone \(zone.id)")
        }
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        let zoneName = try invocation.requiredString("name")
        var deleted: [String] = []
        for zone in try await Route53Support.zones(r53, named: zoneName) where try await Route53Support.zoneTags(r53, zone.id).contains(where: { $0.key == AWSTags.runID }) {
            try await Self.deleteZone(r53, zone)
            deleted.append(zone.id)
        }
        return ["result": deleted.isEmpty ? "absent" : "deleted", "deleted": deleted.joined(separator: ",")]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let r53 = try Route53Support.route53(provider)
        let zoneName = try invocation.requiredString("name")
        return try await Route53Support.zones(r53, named: zoneName).isEmpty ? ActionPlan(.nothing, "\(zoneName) is absent") : ActionPlan(.change, "delete hosted zone \(zoneName)")
    }
}

/// `aws.route53.create-health-check`: a `CLOUDWATCH_METRIC` health check on the alarm `alarm_name` in `alarm_region`, tagged
/// `Name: name`. The caller reference comes from the run and step ids; an existing check with that Name tag is adopted.
public struct CreateHealthCheckAction: StepAction {
    public let name = "aws.route53.create-health-check"
    public let summary = "Create a Route 53 CLOUDWATCH_METRIC health check on an alarm (adopt an existing one)"
    public let inputs = [ActionInputSpec("name", required: true, description: "the check's Name tag"), ActionInputSpec("alarm_name", required: true),
                         ActionInputSpec("alarm_region", required: true), ActionInputSpec("insufficient_data_status", description: "Healthy, Unhealthy or LastKnownStatus (default)")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        let checkName = try invocation.requiredString("name")
        let reference = Route53Support.callerReference(invocation)
        let tags = AWSTags.ownership(invocation, name: checkName)
        if let mine = try await Route53Support.allHealthChecks(r53).first(where: { $0.callerReference == reference }) {
            try await AWSStep.run("tags of health check \(mine.id)") { try await r53.changeTagsForResource(resourceType: "healthcheck", id: mine.id, add: tags) }
            return ["health_check_id": mine.id, "result": "recovered", "owned": "true"]
        }
        if let existing = try await Route53Support.healthChecks(r53, named: checkName).first {
            let ownership = Ownership.of(existing.tags, runID: invocation.runID)
            return ["health_check_id": existing.check.id, "result": ownership.foundResult, "owned": ownership.owned]
        }
        let config = Route53.HealthCheckConfig(type: "CLOUDWATCH_METRIC", alarmRegion: try invocation.requiredString("alarm_region"),
                                               alarmName: try invocation.requiredString("alarm_name"),
                                               insufficientDataHealthStatus: invocation.string("insufficient_data_status") ?? "LastKnownStatus")
        let check = try await AWSStep.run("health check \(checkName)") { try await r53.createHealthCheck(callerReference: reference, config: config) }
        try await AWSStep.run("tags of health check \(check.id)") { try await r53.changeTagsForResource(resourceType: "healthcheck", id: check.id, add: tags) }
        return ["health_check_id": check.id, "result": "created", "owned": "true"]
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        let reference = Route53Support.callerReference(invocation)
        var deleted: [String] = []
        for check in try await Route53Support.allHealthChecks(r53) where check.callerReference == reference {
            do { try await r53.deleteHealthCheck(id: check.id) } catch where AWSStep.isError(error, AWSErrorCode.noSuchHealthCheck) {} catch {
                throw AWSStep.failure(error, "health check \(check.id)")
            }
            deleted.append(check.id)
        }
        return ["undo": deleted.isEmpty ? "nothing of this run's" : "deleted \(deleted.joined(separator: ","))"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let r53 = try Route53Support.route53(provider)
        let checkName = try invocation.requiredString("name")
        guard let existing = try await Route53Support.healthChecks(r53, named: checkName).first else { return ActionPlan(.create, "health check \(checkName)") }
        return ActionPlan(.adopt, "health check \(checkName) exists (\(existing.check.id))")
    }
}

/// `aws.route53.delete-health-check`: deletes runbook-created health checks with that Name tag (absent is fine).
public struct DeleteHealthCheckAction: StepAction {
    public let name = "aws.route53.delete-health-check"
    public let summary = "Delete runbook-created health checks by Name tag (absent is fine)"
    public let inputs = [ActionInputSpec("name", required: true)]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        var deleted: [String] = []
        for found in try await Route53Support.healthChecks(r53, named: try invocation.requiredString("name")) where found.tags.contains(where: { $0.key == AWSTags.runID }) {
            do { try await r53.deleteHealthCheck(id: found.check.id) } catch where AWSStep.isError(error, AWSErrorCode.noSuchHealthCheck) {} catch {
                throw AWSStep.failure(error, "health check \(found.check.id)")
            }
            deleted.append(found.check.id)
        }
        return ["result": deleted.isEmpty ? "absent" : "deleted", "deleted": deleted.joined(separator: ",")]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let r53 = try Route53Support.route53(provider)
        let checkName = try invocation.requiredString("name")
        return try await Route53Support.healthChecks(r53, named: checkName).isEmpty ? ActionPlan(.nothing, "\(checkName) is absent") : ActionPlan(.change, "delete health check \(checkName)")
    }
}

/// `aws.route53.upsert-record`: makes a record (e.g. a failover CNAME) hold `values`, or the endpoint of `target_instance`
/// in `target_region`. It looks first: absent = CREATE; equal = unchanged; different = UPSERT, with the previous TTL,
/// values and health check captured in the outputs. Undo deletes a record it created and restores a record it changed.
public struct UpsertRecordAction: StepAction {
    public let name = "aws.route53.upsert-record"
    public let summary = "Create or change a record set (previous value kept for undo)"
    public let inputs = Route53Support.zoneInputs([
        ActionInputSpec("name", required: true), ActionInputSpec("type", description: "default CNAME"), ActionInputSpec("ttl", description: "default 60"),
        ActionInputSpec("set_identifier"), ActionInputSpec("failover", description: "PRIMARY or SECONDARY"),
        ActionInputSpec("values", kind: .any), ActionInputSpec("target_instance"), ActionInputSpec("target_region"),
        ActionInputSpec("health_check", description: "a health check's Name tag"),
    ])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    func desired(_ r53: Route53, _ invocation: ActionInvocation) async throws -> Route53.ResourceRecordSet {
        var values = try AWSStep.list(invocation, "values")
        if values.isEmpty, let target = invocation.string("target_instance") {
            let rds = try AWSStep.sync("RDS") { try provider.client().rds(region: invocation.string("target_region")) }
            guard let db = try await RDSSupport.find(rds, target.lowercased()), let endpoint = db.endpointAddress else {
                throw ActionFailure("record \(invocation.string("name") ?? ""): DB instance \(target) has no endpoint in \(rds.region)", retryable: false)
            }
            values = [endpoint]
        }
        guard !values.isEmpty else { throw ActionFailure("record \(invocation.string("name") ?? ""): give values or target_instance", retryable: false) }
        var healthCheckID: String?
        if let check = invocation.string("health_check"), !check.isEmpty {
            guard let found = try await Route53Support.healthChecks(r53, named: check).first else { throw ActionFailure("health check \(check) not found", retryable: false) }
            healthCheckID = found.check.id
        }
        return Route53.ResourceRecordSet(name: Route53Support.fqdn(try invocation.requiredString("name")), type: invocation.string("type") ?? "CNAME",
                                         ttl: try invocation.int("ttl") ?? 60, values: values, setIdentifier: invocation.string("set_identifier"),
                                         failover: invocation.string("failover"), healthCheckID: healthCheckID)
    }

    static func same(_ a: Route53.ResourceRecordSet, _ b: Route53.ResourceRecordSet) -> Bool {
        a.ttl == b.ttl && a.values.map { $0.lowercased() }.sorted() == b.values.map { $0.lowercased() }.sorted()
            && (a.healthCheckID ?? "") == (b.healthCheckID ?? "") && (a.failover ?? "") == (b.failover ?? "")
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        let zone = try await Route53Support.requireZone(r53, invocation)
        let wanted = try await desired(r53, invocation)
        let what = "record \(wanted.name) \(wanted.type)\(wanted.setIdentifier.map { " (\($0))" } ?? "") in \(zone.name)"
        let current = try await Route53Support.record(r53, zone.id, name: wanted.name, type: wanted.type, setIdentifier: wanted.setIdentifier)
        var out = ["zone_id": zone.id, "values": wanted.values.joined(separator: ","), "health_check_id": wanted.healthCheckID ?? ""]
        if let current, Self.same(current, wanted) {
            out["result"] = "unchanged"
            return out
        }
        _ = try await AWSStep.run(what) { try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(current == nil ? .create : .upsert, wanted)]) }
        if let current {
            out["result"] = "changed"
            out["previous_values"] = current.values.joined(separator: ",")
            out["previous_ttl"] = current.ttl.map(String.init) ?? ""
            out["previous_health_check_id"] = current.healthCheckID ?? ""
        } else {
            out["result"] = "created"
        }
        return out
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        guard let zone = try await Route53Support.zone(r53, named: try invocation.requiredString("zone")) else { return ["undo": "zone gone"] }
        let name = Route53Support.fqdn(try invocation.requiredString("name")), type = invocation.string("type") ?? "CNAME"
        let setID = invocation.string("set_identifier")
        guard let current = try await Route53Support.record(r53, zone.id, name: name, type: type, setIdentifier: setID) else { return ["undo": "already gone"] }
        let what = "record \(name) in \(zone.name)"
        switch invocation.stepOutputs["result"] {
        case "created":
            _ = try await AWSStep.run(what) { try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(.delete, current)]) }
            return ["undo": "deleted \(name)"]
        case "changed":
            var previous = current
            previous.values = (invocation.stepOutputs["previous_values"] ?? "").split(separator: ",").map(String.init)
            previous.ttl = Int(invocation.stepOutputs["previous_ttl"] ?? "") ?? current.ttl
            let check = invocation.stepOutputs["previous_health_check_id"] ?? ""
            previous.healthCheckID = check.isEmpty ? nil : check
            _ = try await AWSStep.run(what) { try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(.upsert, previous)]) }
            return ["undo": "restored \(name) to \(previous.values.joined(separator: ","))"]
        default:
            return ["undo": "nothing: the record was not changed by this step"]
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let r53 = try Route53Support.route53(provider)
        guard let zone = try await Route53Support.zone(r53, named: try invocation.requiredString("zone")) else {
            return ActionPlan(.create, "record \(invocation.string("name") ?? "") (its zone does not exist yet)")
        }
        let name = Route53Support.fqdn(try invocation.requiredString("name"))
        guard let current = try await Route53Support.record(r53, zone.id, name: name, type: invocation.string("type") ?? "CNAME", setIdentifier: invocation.string("set_identifier")) else {
            return ActionPlan(.create, "record \(name)")
        }
        guard let wanted = try? await desired(r53, invocation) else { return ActionPlan(.unknown, "record \(name) exists; its new value depends on resources not yet created") }
        return Self.same(current, wanted) ? ActionPlan(.nothing, "record \(name) already holds \(current.values.joined(separator: ","))")
            : ActionPlan(.change, "record \(name): \(current.values.joined(separator: ",")) -> \(wanted.values.joined(separator: ","))")
    }
}

/// `aws.route53.get-record`: a record's values, TTL and health check (`exists: false` when absent).
public struct GetRecordAction: StepAction {
    public let name = "aws.route53.get-record"
    public let summary = "Read a record set's values"
    public let inputs = Route53Support.zoneInputs([ActionInputSpec("name", required: true), ActionInputSpec("type"), ActionInputSpec("set_identifier"),
                                                   ActionInputSpec("expect", description: "fail unless the record holds this value")])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        let zone = try await Route53Support.requireZone(r53, invocation)
        let name = Route53Support.fqdn(try invocation.requiredString("name"))
        let record = try await Route53Support.record(r53, zone.id, name: name, type: invocation.string("type") ?? "CNAME", setIdentifier: invocation.string("set_identifier"))
        let values = record?.values.joined(separator: ",") ?? ""
        if let expect = invocation.string("expect"), values.lowercased() != expect.lowercased() {
            throw ActionFailure("record \(name) in \(zone.name) holds '\(values)', expected '\(expect)'", retryable: false)
        }
        return ["exists": record == nil ? "false" : "true", "values": values, "ttl": record?.ttl.map(String.init) ?? "",
                "health_check_id": record?.healthCheckID ?? "", "failover": record?.failover ?? ""]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only") }
}

/// `aws.route53.delete-record`: deletes a record as it stands (absent record or zone is fine).
public struct DeleteRecordAction: StepAction {
    public let name = "aws.route53.delete-record"
    public let summary = "Delete a record set (absent is fine)"
    public let inputs = Route53Support.zoneInputs([ActionInputSpec("name", required: true), ActionInputSpec("type"), ActionInputSpec("set_identifier")])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        guard let zone = try await Route53Support.zone(r53, named: try invocation.requiredString("zone")) else { return ["result": "absent"] }
        let name = Route53Support.fqdn(try invocation.requiredString("name"))
        guard let record = try await Route53Support.record(r53, zone.id, name: name, type: invocation.string("type") ?? "CNAME", setIdentifier: invocation.string("set_identifier")) else {
            return ["result": "absent"]
        }
        _ = try await AWSStep.run("record \(name) in \(zone.name)") { try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(.delete, record)]) }
        return ["result": "deleted", "values": record.values.joined(separator: ",")]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let r53 = try Route53Support.route53(provider)
        guard let zone = try await Route53Support.zone(r53, named: try invocation.requiredString("zone")) else { return ActionPlan(.nothing, "zone is absent") }
        let name = Route53Support.fqdn(try invocation.requiredString("name"))
        return try await Route53Support.record(r53, zone.id, name: name, type: invocation.string("type") ?? "CNAME", setIdentifier: invocation.string("set_identifier")) == nil
            ? ActionPlan(.nothing, "\(name) is absent") : ActionPlan(.change, "delete \(name)")
    }
}
