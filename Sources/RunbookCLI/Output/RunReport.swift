import Foundation
import RunbookEngine

/// The end of `run`, `resume`, `rollback`, `approve` and `cancel`: a summary (or one JSON object) and the exit code.
enum RunReport {
    /// - Parameters:
    ///   - definition: when given, the outputs of its final steps (those nothing depends on) are shown
    ///     as the run's results, e.g. a drill's measured recovery time.
    ///   - exitCode: the command's exit code when it is not the run status's (`cancel`).
    static func finish(_ outcome: RunOutcome, json: Bool, definition: RunbookDefinition? = nil, exitCode: Int32? = nil) throws {
        if json {
            Terminal.out(JSONOutput.render(runObject(outcome, exitCode: exitCode)))
        } else {
            let run = outcome.run
            let end = run.finishedAt ?? CommandProcess.clock.nowMilliseconds
            Terminal.out("")
            Terminal.out("run \(run.id) \(statusText(run.status)) after \(Timestamp.duration(from: run.createdAt, to: end))")
            let width = outcome.steps.map(\.stepID.count).max() ?? 4
            for step in outcome.steps {
                let attempts = step.attempts == 1 ? "1 attempt" : "\(step.attempts) attempts"
                var line = "  \(step.stepID.padding(toLength: width, withPad: " ", startingAt: 0))  \(step.status.rawValue.padding(toLength: 19, withPad: " ", startingAt: 0)) \(attempts)"
                if step.polls > 0 { line += ", \(step.polls) polls" }
                if let started = step.startedAt { line += ", \(Timestamp.duration(from: started, to: step.finishedAt))" }
                if let error = step.error, step.status == .failed || step.status == .compensationFailed { line += " — \(error)" }
                Terminal.out(line)
            }
            if let definition, run.status == .succeeded {
                let needed = Set(definition.steps.flatMap(\.needs))
                let hidden: Set<String> = ["stdout", "exit_code"]
                for step in outcome.steps where !needed.contains(step.stepID) {
                    let shown = step.outputs.filter { !hidden.contains($0.key) && !$0.value.isEmpty }
                    guard !shown.isEmpty else { continue }
                    Terminal.out("results of \(step.stepID):")
                    for key in shown.keys.sorted() { Terminal.out("  \(key) = \(shown[key] ?? "")") }
                }
            }
            if let definition, run.finishedAt != nil {
                for result in definition.objectiveResults(parameters: run.parameters, steps: outcome.steps) {
                    Terminal.out("objective \(result.summary)")
                }
            }
            if let message = run.message { Terminal.out(message) }
            switch run.status {
            case .awaitingApproval: break
            case .interrupted, .rollingBack, .completedWithExceptions: Terminal.out("continue with: runbook resume \(run.id)")
            default: Terminal.out("history: runbook history \(run.id)")
            }
        }
        let code = exitCode ?? outcome.run.status.exitCode
        if code != 0 { throw CLIExit(code) }
    }

    static func statusText(_ status: RunStatus) -> String {
        switch status {
        case .succeeded: return Terminal.color("succeeded", "32")
        case .failed, .rollbackFailed: return Terminal.color(status.rawValue, "31")
        case .rolledBack, .cancelled, .completedWithExceptions: return Terminal.color(status.rawValue, "33")
        default: return status.rawValue
        }
    }

    static func runObject(_ outcome: RunOutcome, exitCode: Int32? = nil) -> [String: Any] {
        let run = outcome.run
        var object: [String: Any] = [
            "id": run.id, "runbook": run.runbook, "status": run.status.rawValue,
            "definition_sha256": run.definitionHash, "started_at": Timestamp.iso(run.createdAt),
            "started_by": run.startedBy.description, "parameters": run.parameters,
            "exit_code": Int(exitCode ?? run.status.exitCode),
        ]
        object["finished_at"] = run.finishedAt.map(Timestamp.iso) ?? NSNull()
        object["message"] = run.message ?? NSNull()
        if outcome.alreadyFinished { object["already_finished"] = true }
        object["steps"] = outcome.steps.map { step -> [String: Any] in
            [
                "id": step.stepID, "status": step.status.rawValue, "attempts": step.attempts, "polls": step.polls,
                "started_at": step.startedAt.map(Timestamp.iso) ?? NSNull(),
                "finished_at": step.finishedAt.map(Timestamp.iso) ?? NSNull(),
                "outputs": step.outputs, "error": step.error ?? NSNull(),
                "approved_by": step.approvedBy ?? NSNull(),
            ]
        }
        return object
    }
}

/// The `--json` output of every command: JSONEncoder over ``JSONValue`` (JSONSerialization sorts keys through the
/// locale's collation, many times slower). Keys are in code-point order.
enum JSONOutput {
    static func render(_ object: Any, pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        guard let value = JSONValue(object), let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A JSON value built from the `[String: Any]` trees the commands assemble.
enum JSONValue: Encodable {
    case string(String), integer(Int64), number(Double), bool(Bool), null
    case array([JSONValue]), object([String: JSONValue])

    /// Nil for a value JSON cannot hold.
    init?(_ any: Any) {
        switch any {
        case let value as String: self = .string(value)
        case let value as Bool where type(of: any) == Bool.self: self = .bool(value)
        case let value as Int: self = .integer(Int64(value))
        case let value as Int64: self = .integer(value)
        case let value as Int32: self = .integer(Int64(value))
        case let value as Double: self = .number(value)
        case let value as [String: Any]:
            var object: [String: JSONValue] = [:]
            for (key, element) in value {
                guard let converted = JSONValue(element) else { return nil }
                object[key] = converted
            }
            self = .object(object)
        case let value as [Any]:
            var array: [JSONValue] = []
            for element in value {
                guard let converted = JSONValue(element) else { return nil }
                array.append(converted)
            }
            self = .array(array)
        // Last: asking whether a Swift value is an NSNull bridges it to an Objective-C object first.
        case is NSNull: self = .null
        default: return nil
        }
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .array(let values):
            var container = encoder.unkeyedContainer()
            for value in values { try container.encode(value) }
        case .object(let values):
            var container = encoder.container(keyedBy: Key.self)
            for (key, value) in values { try container.encode(value, forKey: Key(stringValue: key)) }
        default:
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .integer(let value): try container.encode(value)
            case .number(let value): try container.encode(value)
            case .bool(let value): try container.encode(value)
            default: try container.encodeNil()
            }
        }
    }
}

/// Whether the process that drives an unfinished run is still there, read from its lease without writing:
/// after a SIGKILL or a lost machine the run says `running` until someone resumes it.
struct DriverStatus {
    var lease: Lease?
    var alive: Bool

    /// Nil for runs that no process is meant to be driving (finished, interrupted, awaiting approval).
    static func of(_ run: RunRecord, store: any RunStore, now: Int64 = CommandProcess.clock.nowMilliseconds) async throws -> DriverStatus? {
        guard run.status == .running || run.status == .rollingBack else { return nil }
        guard let lease = try await store.lease(runID: run.id) else { return DriverStatus(lease: nil, alive: false) }
        let abandoned = InMemoryRunStore.leaseIsAbandoned(lease, staleAfter: EngineEnvironment.defaultLeaseStaleAfter, now: now,
                                                          localHost: ProcessInfo.processInfo.hostName)
        return DriverStatus(lease: lease, alive: !abandoned)
    }

    /// One line for people; nil while the driver is alive.
    func note(runID: String, now: Int64 = CommandProcess.clock.nowMilliseconds) -> String? {
        guard !alive else { return nil }
        let who = lease.map { "pid \($0.holder.pid) on \($0.holder.host), last heartbeat \(max(0, now - $0.heartbeatAt) / 1000)s ago" } ?? "no lease held"
        return "driver gone (\(who)): continue with `runbook resume \(runID)`"
    }

    var object: [String: Any] {
        var object: [String: Any] = ["alive": alive]
        if let lease {
            object["pid"] = Int(lease.holder.pid)
            object["host"] = lease.holder.host
            object["user"] = lease.holder.user
            object["last_heartbeat"] = Timestamp.iso(lease.heartbeatAt)
        }
        return object
    }
}
