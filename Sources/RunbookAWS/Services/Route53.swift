import Foundation

/// Amazon Route 53 (REST-XML, 2013-04-01). Global: signed for us-east-1. Ids are returned
/// normalised (`Z123`, not `/hostedzone/Z123`).
public struct Route53: Sendable {
    let client: AWSClient
    static let namespace = "https://route53.amazonaws.com/doc/2013-04-01/"
    static let prefix = "/2013-04-01"

    /// Strips `/hostedzone/`, `/change/`, `/healthcheck/` prefixes.
    public static func normalizeID(_ id: String) -> String {
        id.split(separator: "/").last.map(String.init) ?? id
    }

    func call(_ method: String, _ path: String, query: [(String, String)] = [], body: XMLWriter? = nil,
              operation: String, idempotent: Bool) async throws -> XMLNode {
        let root = try await client.restXML(service: .route53, method: method, path: Route53.prefix + path, query: query,
                                            body: body?.data, operation: "route53:\(operation)", idempotent: idempotent)
        return root ?? XMLNode(name: "Empty")
    }

    static func pathSegment(_ s: String) -> String { SigV4.uriEncode(s) }

    /// Query-string parameters in the order given; nil values are left out.
    static func query(_ pairs: (String, String?)...) -> [(String, String)] {
        pairs.compactMap { key, value in value.map { (key, $0) } }
    }

    /// The `element` an answer of `operation` must hold.
    static func required(_ element: String, in answer: XMLNode, _ operation: String) throws -> XMLNode {
        guard let node = answer.child(element) else { throw AWSDecodingError(operation: "route53:\(operation)", message: "no \(element)") }
        return node
    }

    // MARK: Hosted zones

    public struct HostedZone: Sendable, Equatable {
        public var id: String
        public var name: String
        public var callerReference: String?
        public var privateZone: Bool
        public var recordCount: Int?
        init(_ n: XMLNode) {
            id = Route53.normalizeID(n.string("Id") ?? "")
            name = n.string("Name") ?? ""
            callerReference = n.string("CallerReference")
            privateZone = n.bool("Config/PrivateZone") ?? false
            recordCount = n.int("ResourceRecordSetCount")
        }
    }

    public struct ChangeInfo: Sendable, Equatable {
        public var id: String
        public var status: String
        public var submittedAt: Date?
        init(_ n: XMLNode) {
            id = Route53.normalizeID(n.string("Id") ?? "")
            status = n.string("Status") ?? ""
            submittedAt = n.date("SubmittedAt")
        }

        /// The `ChangeInfo` of an answer (empty when it has none).
        init(in answer: XMLNode) { self.init(answer.child("ChangeInfo") ?? XMLNode(name: "")) }
    }

    public struct CreateHostedZoneResult: Sendable {
        public var hostedZone: HostedZone
        public var changeInfo: ChangeInfo
        public var nameServers: [String]
    }

    /// `CreateHostedZone`. Idempotent thanks to the caller reference (a replay with the same
    /// reference answers `HostedZoneAlreadyExists` instead of creating a second zone).
    public func createHostedZone(name: String, callerReference: String, comment: String? = nil, privateZone: Bool = false,
                                 vpcID: String? = nil, vpcRegion: String? = nil) async throws -> CreateHostedZoneResult {
        let body = XMLWriter(root: "CreateHostedZoneRequest", namespace: Route53.namespace) { w in
            w.element("Name", name)
            if let vpcID {
                w.element("VPC") { v in
                    v.element("VPCRegion", vpcRegion)
                    v.element("VPCId", vpcID)
                }
            }
            w.element("CallerReference", callerReference)
            w.element("HostedZoneConfig") { c in
                c.element("Comment", comment)
                c.element("PrivateZone", privateZone ? "true" : "false")
            }
        }
        let r = try await call("POST", "/hostedzone", body: body, operation: "CreateHostedZone", idempotent: true)
        return CreateHostedZoneResult(hostedZone: HostedZone(try Route53.required("HostedZone", in: r, "CreateHostedZone")),
                                      changeInfo: ChangeInfo(in: r), nameServers: r.list("DelegationSet/NameServers").map(\.text))
    }

    /// `GetHostedZone`.
    public func getHostedZone(id: String) async throws -> HostedZone {
        let r = try await call("GET", "/hostedzone/\(Route53.pathSegment(Route53.normalizeID(id)))", operation: "GetHostedZone", idempotent: true)
        return HostedZone(try Route53.required("HostedZone", in: r, "GetHostedZone"))
    }

    /// `ListHostedZonesByName`, one page starting at `dnsName`.
    public func listHostedZonesByName(dnsName: String? = nil, maxItems: Int? = nil) async throws -> [HostedZone] {
        let q = Route53.query(("dnsname", dnsName), ("maxitems", maxItems.map(String.init)))
        let r = try await call("GET", "/hostedzonesbyname", query: q, operation: "ListHostedZonesByName", idempotent: true)
        return r.list("HostedZones").map(HostedZone.init)
    }

    /// `DeleteHostedZone` (fails with `HostedZoneNotEmpty` while records other than SOA/NS remain).
    @discardableResult
    public func deleteHostedZone(id: String) async throws -> ChangeInfo {
        let r = try await call("DELETE", "/hostedzone/\(Route53.pathSegment(Route53.normalizeID(id)))", operation: "DeleteHostedZone", idempotent: false)
        return ChangeInfo(in: r)
    }

    // MARK: Records

    public struct ResourceRecordSet: Sendable, Equatable {
        public var name: String
        public var type: String
        public var ttl: Int?
        public var values: [String]
        public var setIdentifier: String?
        /// `PRIMARY` or `SECONDARY` for failover records.
        public var failover: String?
        public var healthCheckID: String?
        public init(name: String, type: String, ttl: Int? = nil, values: [String], setIdentifier: String? = nil,
                    failover: String? = nil, healthCheckID: String? = nil) {
            self.name = name
            self.type = type
            self.ttl = ttl
            self.values = values
            self.setIdentifier = setIdentifier
            self.failover = failover
            self.healthCheckID = healthCheckID
        }
        init(_ n: XMLNode) {
            name = n.string("Name") ?? ""
            type = n.string("Type") ?? ""
            ttl = n.int("TTL")
            values = n.list("ResourceRecords").compactMap { $0.string("Value") }
            setIdentifier = n.string("SetIdentifier")
            failover = n.string("Failover")
            healthCheckID = n.string("HealthCheckId")
        }
    }

    public enum ChangeAction: String, Sendable { case create = "CREATE", upsert = "UPSERT", delete = "DELETE" }

    public struct Change: Sendable {
        public var action: ChangeAction
        public var recordSet: ResourceRecordSet
        public init(_ action: ChangeAction, _ recordSet: ResourceRecordSet) {
            self.action = action
            self.recordSet = recordSet
        }
    }

    /// `ChangeResourceRecordSets`. Idempotent only if every change is an UPSERT.
    public func changeResourceRecordSets(zoneID: String, changes: [Change], comment: String? = nil) async throws -> ChangeInfo {
        guard !changes.isEmpty else { throw AWSValidationError(operation: "route53:ChangeResourceRecordSets", message: "at least one change is required") }
        let body = XMLWriter(root: "ChangeResourceRecordSetsRequest", namespace: Route53.namespace) { w in
            w.element("ChangeBatch") { b in
                b.element("Comment", comment)
                b.element("Changes") { cs in
                    for change in changes {
                        cs.element("Change") { c in
                            c.element("Action", change.action.rawValue)
                            c.element("ResourceRecordSet") { r in
                                let s = change.recordSet
                                r.element("Name", s.name)
                                r.element("Type", s.type)
                                r.element("SetIdentifier", s.setIdentifier)
                                r.element("Failover", s.failover)
                                r.element("TTL", s.ttl.map(String.init))
                                if !s.values.isEmpty {
                                    r.element("ResourceRecords") { rr in
                                        for v in s.values { rr.element("ResourceRecord") { $0.element("Value", v) } }
                                    }
                                }
                                r.element("HealthCheckId", s.healthCheckID)
                            }
                        }
                    }
                }
            }
        }
        let r = try await call("POST", "/hostedzone/\(Route53.pathSegment(Route53.normalizeID(zoneID)))/rrset", body: body,
                               operation: "ChangeResourceRecordSets", idempotent: changes.allSatisfy { $0.action == .upsert })
        return ChangeInfo(in: r)
    }

    /// Where the next page of records starts.
    public struct RecordSetPosition: Sendable, Equatable {
        public var name: String
        public var type: String?
        public var identifier: String?
    }

    /// `ListResourceRecordSets`, one page. `next` is the position of the next page, nil on the last.
    public func listResourceRecordSets(zoneID: String, start: RecordSetPosition? = nil, maxItems: Int? = nil) async throws -> (records: [ResourceRecordSet], next: RecordSetPosition?) {
        let q = Route53.query(("name", start?.name), ("type", start?.type), ("identifier", start?.identifier),
                              ("maxitems", maxItems.map(String.init)))
        let r = try await call("GET", "/hostedzone/\(Route53.pathSegment(Route53.normalizeID(zoneID)))/rrset", query: q,
                               operation: "ListResourceRecordSets", idempotent: true)
        let records = r.list("ResourceRecordSets").map(ResourceRecordSet.init)
        guard r.bool("IsTruncated") == true, let name = r.string("NextRecordName") else { return (records, nil) }
        return (records, RecordSetPosition(name: name, type: r.string("NextRecordType"), identifier: r.string("NextRecordIdentifier")))
    }

    /// Every record in the zone (all pages).
    public func listAllResourceRecordSets(zoneID: String, maxItems: Int? = nil) async throws -> [ResourceRecordSet] {
        var all: [ResourceRecordSet] = []
        var position: RecordSetPosition?
        for _ in 0..<10_000 {
            let page = try await listResourceRecordSets(zoneID: zoneID, start: position, maxItems: maxItems)
            all += page.records
            guard let next = page.next, next != position else { return all }
            position = next
        }
        return all
    }

    /// `GetChange`.
    public func getChange(id: String) async throws -> ChangeInfo {
        let r = try await call("GET", "/change/\(Route53.pathSegment(Route53.normalizeID(id)))", operation: "GetChange", idempotent: true)
        return ChangeInfo(in: r)
    }

    // MARK: Health checks

    public struct HealthCheckConfig: Sendable, Equatable {
        /// `HTTP`, `HTTPS`, `TCP`, `CALCULATED`, …
        public var type: String
        public var ipAddress: String?
        public var fullyQualifiedDomainName: String?
        public var port: Int?
        public var resourcePath: String?
        public var requestInterval: Int?
        public var failureThreshold: Int?
        public var childHealthChecks: [String]
        public var healthThreshold: Int?
        /// `CLOUDWATCH_METRIC` checks: the alarm's region and name, and the status while the alarm has insufficient data.
        public var alarmRegion: String?
        public var alarmName: String?
        public var insufficientDataHealthStatus: String?
        public init(type: String, fullyQualifiedDomainName: String? = nil, port: Int? = nil, resourcePath: String? = nil,
                    requestInterval: Int? = nil, failureThreshold: Int? = nil, ipAddress: String? = nil,
                    childHealthChecks: [String] = [], healthThreshold: Int? = nil,
                    alarmRegion: String? = nil, alarmName: String? = nil, insufficientDataHealthStatus: String? = nil) {
            self.alarmRegion = alarmRegion
            self.alarmName = alarmName
            self.insufficientDataHealthStatus = insufficientDataHealthStatus
            self.type = type
            self.fullyQualifiedDomainName = fullyQualifiedDomainName
            self.port = port
            self.resourcePath = resourcePath
            self.requestInterval = requestInterval
            self.failureThreshold = failureThreshold
            self.ipAddress = ipAddress
            self.childHealthChecks = childHealthChecks
            self.healthThreshold = healthThreshold
        }
        init(_ n: XMLNode) {
            type = n.string("Type") ?? ""
            ipAddress = n.string("IPAddress")
            fullyQualifiedDomainName = n.string("FullyQualifiedDomainName")
            port = n.int("Port")
            resourcePath = n.string("ResourcePath")
            requestInterval = n.int("RequestInterval")
            failureThreshold = n.int("FailureThreshold")
            childHealthChecks = n.list("ChildHealthChecks").map(\.text)
            healthThreshold = n.int("HealthThreshold")
            alarmRegion = n.string("AlarmIdentifier/Region")
            alarmName = n.string("AlarmIdentifier/Name")
            insufficientDataHealthStatus = n.string("InsufficientDataHealthStatus")
        }
    }

    public struct HealthCheck: Sendable, Equatable {
        public var id: String
        public var callerReference: String?
        public var config: HealthCheckConfig
        init(_ n: XMLNode) {
            id = n.string("Id") ?? ""
            callerReference = n.string("CallerReference")
            config = HealthCheckConfig(n.child("HealthCheckConfig") ?? XMLNode(name: ""))
        }
    }

    /// `CreateHealthCheck`. Idempotent thanks to the caller reference.
    public func createHealthCheck(callerReference: String, config: HealthCheckConfig) async throws -> HealthCheck {
        let body = XMLWriter(root: "CreateHealthCheckRequest", namespace: Route53.namespace) { w in
            w.element("CallerReference", callerReference)
            w.element("HealthCheckConfig") { c in
                c.element("IPAddress", config.ipAddress)
                c.element("Port", config.port.map(String.init))
                c.element("Type", config.type)
                c.element("ResourcePath", config.resourcePath)
                c.element("FullyQualifiedDomainName", config.fullyQualifiedDomainName)
                c.element("RequestInterval", config.requestInterval.map(String.init))
                c.element("FailureThreshold", config.failureThreshold.map(String.init))
                c.element("HealthThreshold", config.healthThreshold.map(String.init))
                if !config.childHealthChecks.isEmpty {
                    c.element("ChildHealthChecks") { ch in for id in config.childHealthChecks { ch.element("ChildHealthCheck", id) } }
                }
                if let alarmName = config.alarmName {
                    c.element("AlarmIdentifier") { a in
                        a.element("Region", config.alarmRegion)
                        a.element("Name", alarmName)
                    }
                }
                c.element("InsufficientDataHealthStatus", config.insufficientDataHealthStatus)
            }
        }
        let r = try await call("POST", "/healthcheck", body: body, operation: "CreateHealthCheck", idempotent: true)
        return HealthCheck(try Route53.required("HealthCheck", in: r, "CreateHealthCheck"))
    }

    /// `GetHealthCheck`.
    public func getHealthCheck(id: String) async throws -> HealthCheck {
        let r = try await call("GET", "/healthcheck/\(Route53.pathSegment(id))", operation: "GetHealthCheck", idempotent: true)
        return HealthCheck(try Route53.required("HealthCheck", in: r, "GetHealthCheck"))
    }

    /// `ListHealthChecks`, one page (`Marker` / `NextMarker`).
    public func listHealthChecks(marker: String? = nil, maxItems: Int? = nil) async throws -> AWSPage<HealthCheck> {
        let q = Route53.query(("marker", marker), ("maxitems", maxItems.map(String.init)))
        let r = try await call("GET", "/healthcheck", query: q, operation: "ListHealthChecks", idempotent: true)
        return AWSPage(items: r.list("HealthChecks").map(HealthCheck.init), nextToken: r.bool("IsTruncated") == true ? r.string("NextMarker") : nil)
    }

    /// `DeleteHealthCheck`.
    public func deleteHealthCheck(id: String) async throws {
        _ = try await call("DELETE", "/healthcheck/\(Route53.pathSegment(id))", operation: "DeleteHealthCheck", idempotent: false)
    }

    // MARK: Tags

    /// `resourceType` is `hostedzone` or `healthcheck`.
    public func changeTagsForResource(resourceType: String, id: String, add: [AWSTag] = [], removeKeys: [String] = []) async throws {
        let body = XMLWriter(root: "ChangeTagsForResourceRequest", namespace: Route53.namespace) { w in
            if !add.isEmpty {
                w.element("AddTags") { t in
                    for tag in add { t.element("Tag") { $0.element("Key", tag.key); $0.element("Value", tag.value) } }
                }
            }
            if !removeKeys.isEmpty {
                w.element("RemoveTagKeys") { t in for k in removeKeys { t.element("Key", k) } }
            }
        }
        _ = try await call("POST", "/tags/\(resourceType)/\(Route53.pathSegment(Route53.normalizeID(id)))", body: body,
                           operation: "ChangeTagsForResource", idempotent: true)
    }

    /// `ListTagsForResource`.
    public func listTagsForResource(resourceType: String, id: String) async throws -> [AWSTag] {
        let r = try await call("GET", "/tags/\(resourceType)/\(Route53.pathSegment(Route53.normalizeID(id)))",
                               operation: "ListTagsForResource", idempotent: true)
        return r.list("ResourceTagSet/Tags").map(AWSTag.decode)
    }
}
