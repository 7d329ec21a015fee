import Crypto
import Foundation

/// The hash chain over a run's audit events.
///
/// Each event's hash is `SHA-256(previousHash + "\n" + canonical content)`, where the canonical content is
/// a JSON object with sorted keys holding the sequence number, run, step, attempt, kind, detail, time and
/// actor. The first event of a run chains to 64 zeros. Editing, reordering or removing any event breaks
/// every hash after it.
public enum AuditChain {
    /// The `previousHash` of a run's first event.
    public static let genesis = String(repeating: "0", count: 64)

    /// The canonical text an event's hash covers.
    public static func canonicalContent(
        seq: Int64, runID: String, stepID: String?, attempt: Int?, kind: String, detail: [String: String],
        at: Int64, actor: ActorIdentity, state: String? = nil
    ) -> String {
        var out = "{"
        out += "\"actor\":{\"host\":\(jsonString(actor.host)),\"pid\":\(actor.pid),\"user\":\(jsonString(actor.user))}"
        out += ",\"at\":\(at)"
        out += ",\"attempt\":" + (attempt.map(String.init) ?? "null")
        out += ",\"detail\":{"
        out += detail.keys.sorted().map { "\(jsonString($0)):\(jsonString(detail[$0] ?? ""))" }.joined(separator: ",")
        out += "}"
        out += ",\"kind\":\(jsonString(kind))"
        out += ",\"run\":\(jsonString(runID))"
        out += ",\"seq\":\(seq)"
        // Absent rather than null when unset, so events written before it existed keep their hashes.
        if let state { out += ",\"state\":\(jsonString(state))" }
        out += ",\"step\":" + (stepID.map(jsonString) ?? "null")
        out += "}"
        return out
    }

    /// The hash of an event given its predecessor's hash.
    public static func hash(previous: String, canonical: String) -> String {
        var hasher = SHA256()
        var previous = previous
        var canonical = canonical
        previous.append("\n")
        previous.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        canonical.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return hex(hasher.finalize())
    }

    /// The hash `event` should carry, recomputed from its content and `previous`.
    public static func expectedHash(of event: AuditEvent, previous: String) -> String {
        hash(previous: previous, canonical: canonicalContent(
            seq: event.seq, runID: event.runID, stepID: event.stepID, attempt: event.attempt,
            kind: event.kind, detail: event.detail, at: event.at, actor: event.actor, state: event.state))
    }

    /// Lower-case hex SHA-256 of `text`.
    public static func sha256Hex(_ text: String) -> String { hex(SHA256.hash(data: Data(text.utf8))) }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for byte in digest {
            bytes.append(hexDigits[Int(byte >> 4)])
            bytes.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A JSON string literal for `s`.
    public static func jsonString(_ s: String) -> String {
        // Fast path: nothing to escape (the common case for ids, kinds and most values).
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c }) { return "\"" + s + "\"" }
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let low = Int(scalar.value)
                    out += "\\u00" + String(decoding: [hexDigits[low >> 4], hexDigits[low & 0x0f]], as: UTF8.self)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Check a run's events (in sequence order), its stored record and, when given, its step rows against
    /// the chain. Returns the first problem found, or nil when everything agrees. The chain's hashes and the
    /// stored records are checked at the same time, on two cores; a problem of the chain is the one reported.
    public static func verify(run: RunRecord?, events: [AuditEvent], steps: [StepRecord]? = nil) -> AuditProblem? {
        let found = ProblemPair()
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            if part == 0 {
                found.chain = verifyChain(events)
            } else if let run {
                found.records = verifyRecords(run: run, events: events, steps: steps)
            }
        }
        return found.chain ?? found.records
    }

    /// Each half of ``verify(run:events:steps:)`` writes only its own field.
    private final class ProblemPair: @unchecked Sendable {
        var chain: AuditProblem?
        var records: AuditProblem?
    }

    /// The stored run and step rows against the history they claim (the chain itself aside).
    static func verifyRecords(run: RunRecord, events: [AuditEvent], steps: [StepRecord]?) -> AuditProblem? {
        guard let first = events.first, first.kind == EventKind.runCreated.rawValue else {
            return AuditProblem(runID: run.id, seq: events.first?.seq ?? 0, kind: events.first?.kind ?? "none",
                                reason: "the run has no run_created event at the start of its history")
        }
        let recorded = first.detail
        let checks: [(String, String, String)] = [
            ("runbook", run.runbook, recorded["runbook"] ?? ""),
            ("definition hash", run.definitionHash, recorded["definition_hash"] ?? ""),
            ("definition", sha256Hex(run.definition), recorded["definition_hash"] ?? ""),
            ("parameters", canonicalParameters(run.parameters), recorded["parameters"] ?? ""),
            ("started by", run.startedBy.description, recorded["started_by"] ?? ""),
        ]
        for (field, stored, chained) in checks where stored != chained {
            return AuditProblem(runID: run.id, seq: first.seq, kind: first.kind,
                                reason: "the run's stored \(field) no longer matches what its run_created event recorded")
        }
        return RunStateAudit.check(run: run, created: first, steps: steps, events: events)
    }

    /// The first event whose links or content do not match its hashes.
    static func verifyChain(_ events: [AuditEvent]) -> AuditProblem? {
        var previous = genesis
        for event in events {
            if event.previousHash != previous {
                return AuditProblem(runID: event.runID, seq: event.seq, kind: event.kind,
                                    reason: "its previous-hash does not match the event before it (an event was removed, reordered or inserted)")
            }
            if expectedHash(of: event, previous: previous) != event.hash {
                return AuditProblem(runID: event.runID, seq: event.seq, kind: event.kind,
                                    reason: "its content does not match its hash (the event was modified after it was written)")
            }
            previous = event.hash
        }
        return nil
    }

    /// The map `canonicalParameters` wrote; empty for text that is not such a map.
    public static func decodeCanonicalParameters(_ text: String) -> [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] else { return [:] }
        return object
    }

    /// Parameters as one canonical JSON object (sorted keys).
    public static func canonicalParameters(_ parameters: [String: String]) -> String {
        "{" + parameters.keys.sorted().map { "\(jsonString($0)):\(jsonString(parameters[$0] ?? ""))" }.joined(separator: ",") + "}"
    }
}

/// The first event whose stored hash does not match its recomputed one.
public struct AuditProblem: Sendable, Equatable, CustomStringConvertible {
    public var runID: String
    public var seq: Int64
    public var kind: String
    public var reason: String

    public var description: String { "run \(runID): event #\(seq) (\(kind)) fails verification: \(reason)" }
}
