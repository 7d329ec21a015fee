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
        try await preferred(r53, try await zones(r53, named: name))
    }

    /// The first of `zones` carrying runbook's tags, else the first one.
    static func preferred(_ r53: Route53, _ zones: [Route53.HostedZone]) async throws -> Route53.HostedZone? {
        for zone in zones where AWSTags.isRunbookCreated(try await zoneTags(r53, zone.id)) { return zone }
        return zones.first
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
        try await AWSStep.run("health checks") { try await collectAllPages { try await r53.listHealthChecks(marker: $0) } }
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

    /// The zone named by the step's `zone`, if it exists.
    static func stepZone(_ r53: Route53, _ invocation: ActionInvocation) async throws -> Route53.HostedZone? {
        try await zone(r53, named: try invocation.requiredString("zone"))
    }

    static func requireZone(_ r53: Route53, _ invocation: ActionInvocation) async throws -> Route53.HostedZone {
        let zoneName = try invocation.requiredString("zone")
        guard let zone = try await zone(r53, named: zoneName) else { throw ActionFailure("hosted zone \(zoneName) not found", retryable: false) }
        return zone
    }

    /// The record set the step's `name`, `type` (default CNAME) and `set_identifier` name in the zone: its
    /// canonical name, and the record if it exists.
    static func stepRecord(_ r53: Route53, _ zoneID: String, _ invocation: ActionInvocation) async throws -> (name: String, record: Route53.ResourceRecordSet?) {
        let name = fqdn(try invocation.requiredString("name"))
        return (name, try await record(r53, zoneID, name: name, type: invocation.string("type") ?? "CNAME", setIdentifier: invocation.string("set_identifier")))
    }

    /// The outputs of an explicit delete of the resources of a name: `result` and the ids `deleted`.
    static func deleteOutputs(_ deleted: [String]) -> [String: String] {
        [AWSOutput.result: (deleted.isEmpty ? DeleteResult.absent : .deleted).rawValue, "deleted": deleted.joined(separator: ",")]
    }

    /// The outputs of an undo that deleted this run's resources of a name (`deleted`, their ids).
    static func undoOutputs(_ deleted: [String]) -> [String: String] {
        [AWSOutput.undo: deleted.isEmpty ? "nothing of this run's" : "deleted \(deleted.joined(separator: ","))"]
    }
}

/// A hosted zone or health check as AWS describes it: its id and the caller reference it was created with.
protocol CallerReferenced: Sendable {
    var id: String { get }
    var callerReference: String? { get }
}

extension Route53.HostedZone: CallerReferenced {}
extension Route53.HealthCheck: CallerReferenced {}

/// A Route 53 resource created with a caller reference made from the run and step ids: one carrying this step's
/// reference is this run's even before its tags are set (a crash may come between the create and the tagging).
protocol CallerReferencedResource: ManagedResource where Found: CallerReferenced {
    var r53: Route53 { get }
    var invocation: ActionInvocation { get }
    /// The resource type in Route 53's tagging paths: `hostedzone` or `healthcheck`.
    static var tagResourceType: String { get }
    /// What messages call it, e.g. `hosted zone`.
    static var noun: String { get }
    /// Every resource of the name carrying runbook's tags (any run's): what the explicit delete removes.
    func runbookCreated() async throws -> [Found]
}

extension CallerReferencedResource {
    var description: String { "\(Self.noun) \(name)" }
    var reference: String { Route53Support.callerReference(invocation) }

    func ownership(of found: Found, runID: String) async throws -> Ownership {
        found.callerReference == reference ? .thisRun : Ownership.of(try await tags(of: found), runID: runID)
    }

    /// Sets the ownership tags (again: a crash may have come between the create and the tagging).
    func tag(_ found: Found) async throws {
        try await AWSStep.run("tags of \(Self.noun) \(found.id)") {
            try await r53.changeTagsForResource(resourceType: Self.tagResourceType, id: found.id, add: AWSTags.ownership(invocation, name: name))
        }
    }

    /// Creates or adopts the resource; one found with this step's reference gets its tags again.
    func createOrAdopt(runID: String) async throws -> Adoption<Self> where Created == Found {
        let adoption = try await ResourceLifecycle.createOrAdopt(self, runID: runID)
        if case let .found(found, _) = adoption, found.callerReference == reference { try await tag(found) }
        return adoption
    }

    /// Deletes each of `found`: the ids of those deleted (not those gone by then).
    func delete(each found: [Found]) async throws -> [String] {
        var deleted: [String] = []
        for resource in found where try await ResourceLifecycle.delete(self, resource) { deleted.append(resource.id) }
        return deleted
    }
}

extension ResourceDeletion where Resource: CallerReferencedResource {
    /// Every resource of the name that runbook created: `result` and the ids `deleted`.
    static var everyRunbookCreated: Self {
        Self { resource, _ in Route53Support.deleteOutputs(try await resource.delete(each: try await resource.runbookCreated())) }
    }
}

/// A Route 53 hosted zone by name, created with this step's caller reference.
struct HostedZoneResource: CallerReferencedResource {
    let r53: Route53
    let name: String
    let invocation: ActionInvocation
    let provider: AWSClientProvider

    static let tagResourceType = "hostedzone"
    static let noun = "hosted zone"
    static let notFoundCodes: Set<String> = [AWSErrorCode.noSuchHostedZone]
    static let alreadyExistsCodes: Set<String> = ["HostedZoneAlreadyExists"]

    /// This step's zone (by caller reference), else the first runbook-tagged zone of the name, else the first one.
    func fetch() async throws -> Route53.HostedZone? {
        let zones = try await Route53Support.zones(r53, named: name)
        if let mine = zones.first(where: { $0.callerReference == reference }) { return mine }
        return try await Route53Support.preferred(r53, zones)
    }

    func tags(of zone: Route53.HostedZone) async throws -> [AWSTag] { try await Route53Support.zoneTags(r53, zone.id) }

    func create() async throws -> Route53.HostedZone {
        let isPrivate = try invocation.bool("private") ?? true
        let vpc = isPrivate ? try await privateZoneVPC() : nil
        let zone = try await r53.createHostedZone(name: name, callerReference: reference, comment: invocation.string("comment"), privateZone: isPrivate,
                                                  vpcID: vpc?.id, vpcRegion: vpc?.region).hostedZone
        try await tag(zone)
        return zone
    }

    /// The VPC (id and region) of a private zone: the one named `vpc_name` in `vpc_region`.
    func privateZoneVPC() async throws -> (id: String, region: String) {
        let vpcName = try invocation.requiredString("vpc_name")
        let network = NetworkResource(ec2: try EC2Support.ec2(provider, invocation.string("vpc_region")), name: vpcName, invocation: invocation)
        guard let vpc = try await ResourceLifecycle.find(network) else {
            throw ActionFailure("hosted zone \(name): VPC \(vpcName) not found in \(network.ec2.region)", retryable: false)
        }
        return (vpc.id, network.ec2.region)
    }

    /// Deletes the records left in the zone (not SOA and NS), then the zone.
    func delete(_ zone: Route53.HostedZone) async throws {
        let leftovers = try await Route53Support.records(r53, zone.id).filter { $0.type != "SOA" && $0.type != "NS" }
        for record in leftovers {
            do { _ = try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(.delete, record)]) } catch where AWSStep.isError(error, AWSErrorCode.invalidChangeBatch) {
                // Already gone (moto deletes every record sharing a SetIdentifier at once).
            } catch { throw AWSStep.failure(error, "record \(record.name) in hosted zone \(zone.id)") }
        }
        try await r53.deleteHostedZone(id: zone.id)
    }

    /// The zones of the name that `wanted` picks.
    func zones(where wanted: (Route53.HostedZone) async throws -> Bool) async throws -> [Route53.HostedZone] {
        var picked: [Route53.HostedZone] = []
        for zone in try await Route53Support.zones(r53, named: name) where try await wanted(zone) { picked.append(zone) }
        return picked
    }

    func runbookCreated() async throws -> [Route53.HostedZone] { try await zones { AWSTags.isRunbookCreated(try await tags(of: $0)) } }
}

extension HostedZoneResource {
    /// The zone named by the step's `name`.
    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        self.init(r53: try Route53Support.route53(provider), name: try invocation.requiredString("name"), invocation: invocation, provider: provider)
    }
}

/// `aws.route53.create-hosted-zone`: a (private) hosted zone associated with the VPC named `vpc_name` in `vpc_region`.
/// The caller reference comes from the run and step ids. An existing zone of that name is adopted. Undo deletes the zone
/// (and any records left in it) if this run created it.
public struct CreateHostedZoneAction: ResourceCreatingAction {
    public let name = "aws.route53.create-hosted-zone"
    public let summary = "Create a private Route 53 hosted zone in a VPC (adopt an existing one)"
    public let inputs = [ActionInputSpec("name", required: true), ActionInputSpec("vpc_name", description: "the VPC's Name tag (private zones)"),
                         ActionInputSpec("vpc_region"), ActionInputSpec("private", description: "default true"), ActionInputSpec("comment")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    func resource(_ invocation: ActionInvocation) throws -> HostedZoneResource { try HostedZoneResource(provider, invocation) }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let zone = try resource(invocation)
        let adoption = try await zone.createOrAdopt(runID: invocation.runID)
        return adoption.outputs(["zone_id": adoption.resource.id, "name": zone.name])
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let zone = try resource(invocation)
        let mine = try await zone.zones { try await zone.ownership(of: $0, runID: invocation.runID) == .thisRun }
        return Route53Support.undoOutputs(try await zone.delete(each: mine))
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let zone = try resource(invocation)
        return try await ResourceLifecycle.plan(zone, create: zone.description) { "hosted zone \(zone.name) exists (\($0.id))" }
    }
}

/// A Route 53 `CLOUDWATCH_METRIC` health check by its `Name` tag, created with this step's caller reference.
struct HealthCheckResource: CallerReferencedResource {
    let r53: Route53
    let name: String
    let invocation: ActionInvocation

    static let tagResourceType = "healthcheck"
    static let noun = "health check"
    static let notFoundCodes: Set<String> = [AWSErrorCode.noSuchHealthCheck]

    /// This step's check (by caller reference), else the first with this Name tag.
    func fetch() async throws -> Route53.HealthCheck? {
        if let mine = try await mine().first { return mine }
        return try await Route53Support.healthChecks(r53, named: name).first?.check
    }

    /// The checks this step created (by caller reference).
    func mine() async throws -> [Route53.HealthCheck] {
        try await Route53Support.allHealthChecks(r53).filter { $0.callerReference == reference }
    }

    func runbookCreated() async throws -> [Route53.HealthCheck] {
        try await Route53Support.healthChecks(r53, named: name).filter { AWSTags.isRunbookCreated($0.tags) }.map(\.check)
    }

    func tags(of check: Route53.HealthCheck) async throws -> [AWSTag] {
        try await r53.listTagsForResource(resourceType: "healthcheck", id: check.id)
    }

    func create() async throws -> Route53.HealthCheck {
        let config = Route53.HealthCheckConfig(type: "CLOUDWATCH_METRIC", alarmRegion: try invocation.requiredString("alarm_region"),
                                               alarmName: try invocation.requiredString("alarm_name"),
                                               insufficientDataHealthStatus: invocation.string("insufficient_data_status") ?? "LastKnownStatus")
        let check = try await r53.createHealthCheck(callerReference: reference, config: config)
        try await tag(check)
        return check
    }

    func delete(_ check: Route53.HealthCheck) async throws { try await r53.deleteHealthCheck(id: check.id) }
}

extension HealthCheckResource {
    /// The check named (tagged) by the step's `name`.
    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        self.init(r53: try Route53Support.route53(provider), name: try invocation.requiredString("name"), invocation: invocation)
    }
}

/// `aws.route53.create-health-check`: a `CLOUDWATCH_METRIC` health check on the alarm `alarm_name` in `alarm_region`, tagged
/// `Name: name`. The caller reference comes from the run and step ids; an existing check with that Name tag is adopted.
public struct CreateHealthCheckAction: ResourceCreatingAction {
    public let name = "aws.route53.create-health-check"
    public let summary = "Create a Route 53 CLOUDWATCH_METRIC health check on an alarm (adopt an existing one)"
    public let inputs = [ActionInputSpec("name", required: true, description: "the check's Name tag"), ActionInputSpec("alarm_name", required: true),
                         ActionInputSpec("alarm_region", required: true), ActionInputSpec("insufficient_data_status", description: "Healthy, Unhealthy or LastKnownStatus (default)")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    func resource(_ invocation: ActionInvocation) throws -> HealthCheckResource { try HealthCheckResource(provider, invocation) }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let adoption = try await resource(invocation).createOrAdopt(runID: invocation.runID)
        return adoption.outputs(["health_check_id": adoption.resource.id])
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let check = try resource(invocation)
        return Route53Support.undoOutputs(try await check.delete(each: try await check.mine()))
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let check = try resource(invocation)
        guard let existing = try await Route53Support.healthChecks(check.r53, named: check.name).first else { return ActionPlan(.create, check.description) }
        return ActionPlan(.adopt, "health check \(check.name) exists (\(existing.check.id))")
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
            let rds = try RDSSupport.rds(provider, region: invocation.string("target_region"))
            guard let db = try await DBInstanceTarget(rds, target).find(), let endpoint = db.endpointAddress else {
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
            out[AWSOutput.result] = "unchanged"
            return out
        }
        _ = try await AWSStep.run(what) { try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(current == nil ? .create : .upsert, wanted)]) }
        if let current {
            out[AWSOutput.result] = "changed"
            out["previous_values"] = current.values.joined(separator: ",")
            out["previous_ttl"] = current.ttl.map(String.init) ?? ""
            out["previous_health_check_id"] = current.healthCheckID ?? ""
        } else {
            out[AWSOutput.result] = "created"
        }
        return out
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let r53 = try Route53Support.route53(provider)
        guard let zone = try await Route53Support.stepZone(r53, invocation) else { return [AWSOutput.undo: "zone gone"] }
        let (name, found) = try await Route53Support.stepRecord(r53, zone.id, invocation)
        guard let current = found else { return [AWSOutput.undo: "already gone"] }
        let what = "record \(name) in \(zone.name)"
        switch invocation.stepOutputs[AWSOutput.result] {
        case "created":
            _ = try await AWSStep.run(what) { try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(.delete, current)]) }
            return [AWSOutput.undo: "deleted \(name)"]
        case "changed":
            var previous = current
            previous.values = (invocation.stepOutputs["previous_values"] ?? "").split(separator: ",").map(String.init)
            previous.ttl = Int(invocation.stepOutputs["previous_ttl"] ?? "") ?? current.ttl
            let check = invocation.stepOutputs["previous_health_check_id"] ?? ""
            previous.healthCheckID = check.isEmpty ? nil : check
            _ = try await AWSStep.run(what) { try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(.upsert, previous)]) }
            return [AWSOutput.undo: "restored \(name) to \(previous.values.joined(separator: ","))"]
        default:
            return [AWSOutput.undo: "nothing: the record was not changed by this step"]
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let r53 = try Route53Support.route53(provider)
        guard let zone = try await Route53Support.stepZone(r53, invocation) else {
            return ActionPlan(.create, "record \(invocation.string("name") ?? "") (its zone does not exist yet)")
        }
        let (name, found) = try await Route53Support.stepRecord(r53, zone.id, invocation)
        guard let current = found else { return ActionPlan(.create, "record \(name)") }
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
        let (name, record) = try await Route53Support.stepRecord(r53, zone.id, invocation)
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
        guard let zone = try await Route53Support.stepZone(r53, invocation) else { return [AWSOutput.result: "absent"] }
        let (name, found) = try await Route53Support.stepRecord(r53, zone.id, invocation)
        guard let record = found else { return [AWSOutput.result: "absent"] }
        _ = try await AWSStep.run("record \(name) in \(zone.name)") { try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(.delete, record)]) }
        return [AWSOutput.result: "deleted", "values": record.values.joined(separator: ",")]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let r53 = try Route53Support.route53(provider)
        guard let zone = try await Route53Support.stepZone(r53, invocation) else { return ActionPlan(.nothing, "zone is absent") }
        let (name, record) = try await Route53Support.stepRecord(r53, zone.id, invocation)
        return record == nil ? ActionPlan(.nothing, "\(name) is absent") : ActionPlan(.change, "delete \(name)")
    }
}
