import ArgumentParser
import Foundation
import RunbookEngine

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify and export the hash-chained audit history.",
        subcommands: [VerifyCommand.self, ExportCommand.self, KeygenCommand.self])

    struct VerifyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Recompute the hash chain; exit 1 naming the first event that does not match.",
            discussion: """
                Without --public-key the chain is only checked to be self-consistent: whoever can write the \
                database can recompute it. With --public-key, every run must also carry valid signatures by that \
                key covering its last event (see docs/audit-signing.md); a run that does not is named.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A run id (default: every run).") var runID: String?
        @Option(name: .customLong("public-key"), help: ArgumentHelp(
            "Check the runs' signatures with this Ed25519 public key (ed25519:BASE64, as `audit keygen` prints it, or a file holding it).",
            valueName: "key")) var publicKey: String?

        func run() async throws {
            let key = try publicKey.map(SigningKeyFile.publicKey)
            let store = try global.openStore(create: false)
            var ids: [String]
            if let runID {
                ids = [try await global.storedRun(runID, in: store).id]
            } else {
                ids = try await store.allRunIDs()
            }
            var broken = 0
            var total = 0
            var unchecked = 0
            for id in ids {
                let run = try await store.run(id: id)
                let events = try await store.events(runID: id)
                let steps = try await store.steps(runID: id)
                total += events.count
                if let problem = AuditChain.verify(run: run, events: events, steps: steps) {
                    broken += 1
                    Terminal.error(problem.description)
                    continue
                }
                let line = "run \(id): \(events.count) events, hash chain intact (head \(events.last?.hash.prefix(16) ?? "none"))"
                guard let key else {
                    unchecked += AuditSignatures.signatures(in: events).count
                    if runID != nil { Terminal.out(line) }
                    continue
                }
                let status = run.map { AuditSignatures.verify(run: $0, events: events, publicKey: key) } ?? .unsigned
                if !status.isValid {
                    broken += 1
                    Terminal.error("run \(id): fails the signature check with key \(key.fingerprint): \(status)")
                } else if runID != nil {
                    Terminal.out("\(line), \(status)")
                }
            }
            if broken > 0 {
                throw CLIExit(ExitCodes.failed, "audit verification failed for \(broken) of \(ids.count) run\(ids.count == 1 ? "" : "s")")
            }
            if runID == nil { Terminal.out("\(ids.count) runs, \(total) events: every hash chain intact" + (key.map { " and signed by key \($0.fingerprint)" } ?? "")) }
            if key == nil { Terminal.out(Self.selfConsistentOnly(unchecked: unchecked)) }
        }

        /// What a verify without a key proves, and what it left unchecked.
        static func selfConsistentOnly(unchecked: Int) -> String {
            let signatures = unchecked == 0 ? "no signatures to check"
                : "\(unchecked) signature\(unchecked == 1 ? " was" : "s were") not checked (pass --public-key KEY to check them)"
            return "the chain is only self-consistent: whoever can write the database can recompute it; \(signatures)"
        }
    }

    struct ExportCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export", abstract: "Write a run's full history for auditors (run, definition, steps, every event with its hashes).")
        enum Format: String, ExpressibleByArgument, CaseIterable { case json, csv }

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The run id (or a unique prefix).") var runID: String
        @Option(help: "json or csv.") var format: Format = .json
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output (never the state database).") var output: String?
        @Flag(help: "Replace the --output file if it exists.") var force = false

        func run() async throws {
            let destination = try output.map { try ExportFile(path: $0, force: force, databasePath: global.databasePath) }
            let store = try global.openStore(create: false, reading: true)
            let run = try await global.storedRun(runID, in: store)
            let id = run.id
            let events = try await store.events(runID: id)
            let steps = try await store.steps(runID: id)
            let problem = AuditChain.verify(run: run, events: events, steps: steps)
            let text: String
            switch format {
            case .json:
                text = JSONOutput.render([
                    "format": "runbook-audit-export/1",
                    "exported_at": Timestamp.iso(CommandProcess.clock.nowMilliseconds),
                    "exported_by": ActorIdentity.current().description,
                    "hash_algorithm": "SHA-256 over previous hash + \"\\n\" + canonical JSON of the event",
                    "chain_head": run.chainHead.map { ["seq": Int($0.seq), "hash": $0.hash] as [String: Any] } ?? NSNull(),
                    "signing_keys": AuditSignatures.fingerprints(in: events),
                    "signatures": AuditSignatures.signatures(in: events).map(AuditExport.signatureObject),
                    "verification": ["intact": problem == nil, "problem": problem?.description ?? NSNull()] as [String: Any],
                    "run": AuditExport.runObject(run),
                    "steps": steps.map(AuditExport.stepObject),
                    "events": events.map(AuditExport.eventObject),
                ])
            case .csv:
                text = AuditExport.csv(run: run, events: events)
            }
            if let destination {
                try destination.write(Data((text + (text.hasSuffix("\n") ? "" : "\n")).utf8))
                Terminal.warning("wrote \(events.count) events of run \(id) to \(destination.path)")
            } else {
                Terminal.out(text)
            }
            if let problem { throw CLIExit(ExitCodes.failed, "exported, but the history fails verification: \(problem)") }
        }
    }
}

/// Shapes of exported records.
enum AuditExport {
    static func runObject(_ run: RunRecord) -> [String: Any] {
        [
            "id": run.id, "runbook": run.runbook, "status": run.status.rawValue, "message": run.message ?? NSNull(),
            "definition_sha256": run.definitionHash, "definition": run.definition, "origin": run.origin,
            "parameters": run.parameters, "secret_parameters_given": run.providedSecrets,
            "reason": run.options.reason ?? NSNull(),
            "options": ["yes": run.options.autoApprove, "parallelism": run.options.parallelism,
                        "deadline": run.options.deadlineAt.map(Timestamp.iso) ?? NSNull(),
                        "working_directory": run.options.workingDirectory] as [String: Any],
            "started_at": Timestamp.iso(run.createdAt), "finished_at": run.finishedAt.map(Timestamp.iso) ?? NSNull(),
            "started_by": ["user": run.startedBy.user, "host": run.startedBy.host, "pid": Int(run.startedBy.pid)],
        ]
    }

    static func stepObject(_ step: StepRecord) -> [String: Any] {
        [
            "id": step.stepID, "status": step.status.rawValue, "attempts": step.attempts, "polls": step.polls,
            "compensation_attempts": step.compensationAttempts,
            "started_at": step.startedAt.map(Timestamp.iso) ?? NSNull(), "finished_at": step.finishedAt.map(Timestamp.iso) ?? NSNull(),
            "outputs": step.outputs, "error": step.error ?? NSNull(), "approved_by": step.approvedBy ?? NSNull(),
        ]
    }

    static func eventObject(_ event: AuditEvent) -> [String: Any] {
        [
            "seq": Int(event.seq), "at": Timestamp.iso(event.at), "at_ms": Int(event.at), "run": event.runID,
            "step": event.stepID ?? NSNull(), "attempt": event.attempt ?? NSNull(), "kind": event.kind,
            "detail": event.detail, "actor": ["user": event.actor.user, "host": event.actor.host, "pid": Int(event.actor.pid)],
            "state": event.state ?? NSNull(), "previous_hash": event.previousHash, "hash": event.hash,
        ]
    }

    /// A `chain_signed` event's signature, as exported (not checked: the export takes no public key).
    static func signatureObject(_ signature: ChainSignature) -> [String: Any] {
        [
            "seq": Int(signature.seq), "signed_seq": Int(signature.signedSeq), "signed_hash": signature.signedHash,
            "status": signature.status, "point": signature.point, "signed_at": Timestamp.iso(signature.signedAt),
            "key_fingerprint": signature.keyFingerprint, "signature": signature.signature,
        ]
    }

    /// One row per event; `signing_keys` repeats the run's key fingerprints on every row, as `runbook` does.
    static func csv(run: RunRecord, events: [AuditEvent]) -> String {
        var lines = ["seq,time,run_id,runbook,step,attempt,kind,detail,actor_user,actor_host,actor_pid,previous_hash,hash,signing_keys"]
        let keys = AuditSignatures.fingerprints(in: events).joined(separator: " ")
        for event in events {
            let fields: [String] = [
                String(event.seq), Timestamp.iso(event.at), event.runID, run.runbook, event.stepID ?? "",
                event.attempt.map(String.init) ?? "", event.kind, JSONOutput.render(event.detail, pretty: false),
                event.actor.user, event.actor.host, String(event.actor.pid), event.previousHash, event.hash, keys,
            ]
            lines.append(fields.map(quote).joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }

    /// RFC 4180 quoting.
    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
