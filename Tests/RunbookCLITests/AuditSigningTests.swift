import Foundation
import RunbookTestSupport
import Testing

/// Drops the triggers, runs `sql`, then recomputes every hash of the run's chain and its recorded head with
/// the algorithm README and docs/audit-signing.md document (written here in Python, independently of
/// runbook's code), as an admin with write access and the documentation would; with a fourth argument
/// `repoint`, each signature's `signed_hash` is rewritten to its covered event's new hash too. Prints how
/// many events got new hashes.
private let recomputeChain = """
    import hashlib, json, sqlite3, sys
    sys.stderr = sys.stdout
    db, run, sql = sys.argv[1:4]
    repoint, hashes = sys.argv[4:] == ["repoint"], {}
    con = sqlite3.connect(db)
    con.executescript("DROP TRIGGER IF EXISTS events_are_append_only_update; DROP TRIGGER IF EXISTS events_are_append_only_delete;" + sql)
    prev, changed = "0" * 64, 0
    rows = con.execute("SELECT seq, step_id, attempt, kind, detail, at, actor, state, prev_hash, hash FROM events WHERE run_id = ? ORDER BY seq", (run,)).fetchall()
    for seq, step, attempt, kind, detail, at, actor, state, old_prev, old_hash in rows:
        actor, detail = json.loads(actor), json.loads(detail)
        if repoint and kind == "chain_signed":
            detail["signed_hash"] = hashes[int(detail["signed_seq"])]
            con.execute("UPDATE events SET detail = ? WHERE run_id = ? AND seq = ?", (json.dumps(detail), run, seq))
        content = {"actor": {"host": actor["host"], "pid": actor["pid"], "user": actor["user"]}, "at": at, "attempt": attempt,
                   "detail": detail, "kind": kind, "run": run, "seq": seq, "step": step}
        if state is not None:
            content["state"] = state
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((prev + "\\n" + canonical).encode()).hexdigest()
        if (prev, digest) != (old_prev, old_hash):
            changed += 1
            con.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE run_id = ? AND seq = ?", (prev, digest, run, seq))
        prev = hashes[seq] = digest
    con.execute("UPDATE runs SET head_seq = ?, head_hash = ? WHERE id = ?", (rows[-1][0] if rows else 0, prev, run))
    con.commit()
    print(changed)
    """

/// Checks every signature of an export against the public key and the signed bytes docs/audit-signing.md
/// documents, with Python's `cryptography`; prints how many verified, then the key's fingerprint.
private let checkSignatures = """
    import base64, hashlib, json, sys
    sys.stderr = sys.stdout
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    export, text = json.load(open(sys.argv[1])), sys.argv[2]
    raw = base64.b64decode(text.split(":", 1)[1])
    key, run, count = Ed25519PublicKey.from_public_bytes(raw), export["run"]["id"], 0
    for event in export["events"]:
        if event["kind"] != "chain_signed":
            continue
        d = event["detail"]
        signed = {"at": int(d["signed_at"]), "domain": "runbook-chain-signature/1", "hash": d["signed_hash"],
                  "point": d["point"], "run": run, "seq": int(d["signed_seq"]), "status": d["status"]}
        key.verify(base64.b64decode(d["signature"]), json.dumps(signed, sort_keys=True, separators=(",", ":")).encode())
        count += 1
    print(count, hashlib.sha256(raw).hexdigest()[:32])
    """

private let gated = """
    name: gated
    steps:
      - { id: check, action: shell, with: { run: 'echo checked >> log' } }
      - { id: go, needs: [check], approval: required, action: shell, with: { run: 'echo went >> log' } }
    """

private let small = "name: small\nsteps:\n  - { id: a, action: pass }\n  - { id: b, needs: [a], action: pass }\n"

/// A signing key made with `runbook audit keygen`: its file and the public key printed.
private struct Keypair {
    var path: String
    var publicKey: String
    var environment: [String: String] { ["RUNBOOK_SIGNING_KEY": path] }

    /// The 32 private bytes, read from the PKCS#8 PEM independently of runbook.
    var seed: Data {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        return Data(base64Encoded: body)?.suffix(32) ?? Data()
    }
}

private func keygen(_ ws: Workspace, _ name: String) async throws -> Keypair {
    let made = try await ws.runbook(["audit", "keygen", "--output", ws.root + "/" + name])
    #expect(made.exitCode == 0, "\(made.stderr)")
    return Keypair(path: ws.root + "/" + name, publicKey: made.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
}

private func tamper(_ ws: Workspace, run id: String, _ sql: String, repoint: Bool = false) async throws -> Int {
    let result = try await Python.run(recomputeChain, [ws.database, id, sql] + (repoint ? ["repoint"] : []))
    #expect(result.status == 0, "\(result.stdout)")
    return Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
}

/// The `chain_signed` events' details in the run's JSON export.
private func signatures(_ ws: Workspace, _ id: String) async throws -> [[String: String]] {
    let export = try await ws.runbook(["audit", "export", id, "--format", "json"])
    let object = (try? JSONSerialization.jsonObject(with: Data(export.stdout.utf8))) as? [String: Any] ?? [:]
    let events = object["events"] as? [[String: Any]] ?? []
    return events.filter { $0["kind"] as? String == "chain_signed" }.compactMap { $0["detail"] as? [String: String] }
}

@Suite struct AuditSigningTests {
    @Test func keygenWritesAPrivateKeyFileOwnerOnlyAndPrintsThePublicKey() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let key = try await keygen(ws, "signing.key")
        let mode = (try FileManager.default.attributesOfItem(atPath: key.path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(key.publicKey.range(of: #"^ed25519:[A-Za-z0-9+/]{43}=$"#, options: .regularExpression) != nil, "\(key.publicKey)")
        // OpenSSL reads the file as an Ed25519 key and derives the same public key.
        let derived = try await Python.run("""
            import base64, subprocess, sys
            der = subprocess.run(["openssl", "pkey", "-in", sys.argv[1], "-pubout", "-outform", "DER"], capture_output=True, check=True).stdout
            print("ed25519:" + base64.b64encode(der[-32:]).decode())
            """, [key.path])
        #expect(derived.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == key.publicKey)
        let before = try Data(contentsOf: URL(fileURLWithPath: key.path))
        let again = try await ws.runbook(["audit", "keygen", "--output", key.path])
        #expect(again.exitCode == 2)
        #expect(again.stderr.contains("already exists"), "\(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: key.path)) == before)
    }

    /// Defect: `audit export --output e` (a one-letter name, no directory) crashed in Foundation's
    /// `deletingLastPathComponent` (exit 132, a backtrace) instead of writing the file; keygen shares the writer.
    @Test func aKeyAndAnExportAreWrittenToOneLetterNamesInTheWorkingDirectory() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", small)
        let made = try await ws.runbook(["audit", "keygen", "--output", "k"])
        #expect(made.exitCode == 0, "\(made.stderr.prefix(300))")
        #expect(FileManager.default.fileExists(atPath: ws.file("k")))
        let id = try #require(try await ws.runbook(["run", "small", "--json"]).json?["id"] as? String)
        let export = try await ws.runbook(["audit", "export", id, "--output", "e"])
        #expect(export.exitCode == 0, "\(export.stderr.prefix(300))")
        #expect(FileManager.default.fileExists(atPath: ws.file("e")))
    }

    @Test func aKeyFileOthersCanReadIsRefusedBeforeTheRunStarts() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", small)
        let key = try await keygen(ws, "signing.key")
        chmod(key.path, 0o644)
        let run = try await ws.runbook(["run", "small"], environment: key.environment)
        #expect(run.exitCode == 2)
        #expect(run.stderr.contains("signing key \(key.path) is accessible by other users (mode 644)"), "\(run.stderr)")
        #expect(run.stdout.isEmpty, "no run is started: \(run.stdout)")
        #expect(try await ws.runbook(["runs", "--json"]).stdout.contains("\"id\"") == false)
    }

    @Test func aSignedRunVerifiesWithItsKeyAndIsNamedWithAnotherOrWhenUnsigned() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", small)
        let key = try await keygen(ws, "signing.key")
        let other = try await keygen(ws, "other.key")
        let signed = try await ws.runbook(["run", "small", "--json"], environment: key.environment)
        #expect(signed.exitCode == 0, "\(signed.stderr)")
        let id = try #require(signed.json?["id"] as? String)
        let exportFile = ws.root + "/export.json"
        #expect(try await ws.runbook(["audit", "export", id, "--output", exportFile]).exitCode == 0)
        let checked = try await Python.run(checkSignatures, [exportFile, key.publicKey])
        let (count, fingerprint) = (checked.stdout.split(separator: " ").first.map(String.init), checked.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        #expect(count == "1", "\(checked.stdout)")
        let export = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: exportFile)))) as? [String: Any]
        #expect(export?["signing_keys"] as? [String] == [fingerprint ?? "?"], "the fingerprint is SHA-256 of the public key")

        let good = try await ws.runbook(["audit", "verify", id, "--public-key", key.publicKey])
        #expect(good.exitCode == 0, "\(good.stderr)")
        #expect(good.stdout.contains("signed by key \(fingerprint ?? "?") up to its last event"), "\(good.stdout)")
        let publicFile = ws.root + "/signing.pub"
        try (key.publicKey + "\n").write(toFile: publicFile, atomically: true, encoding: .utf8)
        #expect(try await ws.runbook(["audit", "verify", "--public-key", publicFile]).exitCode == 0)

        let wrong = try await ws.runbook(["audit", "verify", id, "--public-key", other.publicKey])
        #expect(wrong.exitCode == 1)
        #expect(wrong.stderr.contains("run \(id): fails the signature check"), "\(wrong.stderr)")
        let unsigned = try #require(try await ws.runbook(["run", "small", "--json"]).json?["id"] as? String)
        let all = try await ws.runbook(["audit", "verify", "--public-key", key.publicKey])
        #expect(all.exitCode == 1)
        #expect(all.stderr.contains("run \(unsigned): fails the signature check"), "\(all.stderr)")
        #expect(all.stderr.contains("it has no signature"), "\(all.stderr)")
        #expect(!all.stderr.contains("run \(id)"), "\(all.stderr)")
        let keyless = try await ws.runbook(["audit", "verify"])
        #expect(keyless.exitCode == 0)
        #expect(keyless.stdout.contains("only self-consistent"), "\(keyless.stdout)")
        #expect(keyless.stdout.contains("1 signature was not checked (pass --public-key"), "\(keyless.stdout)")
    }

    @Test func aPausedRunIsSignedAtThePauseAtTheApprovalAndWhereItEnds() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", gated)
        let key = try await keygen(ws, "signing.key")
        let paused = try await ws.runbook(["run", "gated"], environment: key.environment)
        #expect(paused.exitCode == 3, "\(paused.stderr)")
        let id = try #require(paused.runID)
        #expect(try await signatures(ws, id).map { [$0["point"], $0["status"]] } == [["stopped", "awaiting_approval"]])
        #expect(try await ws.runbook(["audit", "verify", id, "--public-key", key.publicKey]).exitCode == 0)
        let approved = try await ws.runbook(["approve", id, "go", "--comment", "CHG-1"], environment: key.environment)
        #expect(approved.exitCode == 0, "\(approved.stderr)")
        let points = try await signatures(ws, id).map { [$0["point"], $0["status"]] }
        #expect(points == [["stopped", "awaiting_approval"], ["approval", "awaiting_approval"], ["stopped", "succeeded"]])
        #expect(try await ws.runbook(["audit", "verify", id, "--public-key", key.publicKey]).exitCode == 0)
        #expect(try await ws.runbook(["history", id]).stdout.contains("history signed up to event #"))
    }

    @Test func anApprovalByYesIsSignedAndAnInterruptedRunIsSignedWhereItStopped() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", gated.replacingOccurrences(of: "echo went >> log", with: "echo went >> log; sleep 30"))
        let key = try await keygen(ws, "signing.key")
        let driver = try ws.start(["run", "gated", "--yes"], environment: key.environment)
        #expect(try await eventually { ws.lines("log").contains("went") })
        kill(driver.process.processIdentifier, SIGINT)
        #expect(await driver.exited() == 5, "\(driver.stderr)")
        let id = try #require(CommandResult(exitCode: 0, stdout: driver.stdout, stderr: "").runID)
        let points = try await signatures(ws, id).map { [$0["point"], $0["status"]] }
        #expect(points == [["approval", "running"], ["stopped", "interrupted"]], "\(driver.stderr)")
        #expect(try await ws.runbook(["audit", "verify", id, "--public-key", key.publicKey]).exitCode == 0)
    }

    @Test func anEditWithTheChainRecomputedPassesWithoutTheKeyAndFailsWithIt() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", gated)
        let key = try await keygen(ws, "signing.key")
        let id = try #require(try await ws.runbook(["run", "gated"], environment: key.environment).runID)
        #expect(try await ws.runbook(["approve", id, "go", "--comment", "CHG-1"], environment: key.environment).exitCode == 0)
        #expect(try await tamper(ws, run: id, "") == 0, "the test's own hashing reproduces every stored hash")

        let edited = try await tamper(ws, run: id, """
            UPDATE events SET detail = json_set(detail, '$.comment', 'CHG-666') WHERE run_id = '\(id)' AND kind = 'step_approved';
            """)
        #expect(edited > 3)
        #expect(try await ws.runbook(["history", id]).stdout.contains("CHG-666"), "the edit took")
        let keyless = try await ws.runbook(["audit", "verify", id])
        #expect(keyless.exitCode == 0, "the recomputed chain is self-consistent: \(keyless.stderr)")
        #expect(keyless.stdout.contains("the chain is only self-consistent"), "\(keyless.stdout)")
        #expect(keyless.stdout.contains("3 signatures were not checked"), "\(keyless.stdout)")
        let keyed = try await ws.runbook(["audit", "verify", id, "--public-key", key.publicKey])
        #expect(keyed.exitCode == 1)
        #expect(keyed.stderr.contains("run \(id): fails the signature check"), "\(keyed.stderr)")
        #expect(keyed.stderr.contains("was changed after it was signed"), "\(keyed.stderr)")

        // The signed hashes rewritten to match the new chain: the signatures no longer verify.
        _ = try await tamper(ws, run: id, "", repoint: true)
        #expect(try await ws.runbook(["audit", "verify", id]).exitCode == 0)
        let repointed = try await ws.runbook(["audit", "verify", id, "--public-key", key.publicKey])
        #expect(repointed.exitCode == 1)
        #expect(repointed.stderr.contains("run \(id): fails the signature check"), "\(repointed.stderr)")
        #expect(repointed.stderr.contains("does not verify with key"), "\(repointed.stderr)")
    }

    @Test func deletingTheLastEventsOfASignedRunIsDetectedWithTheKey() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", small)
        let key = try await keygen(ws, "signing.key")
        let id = try #require(try await ws.runbook(["run", "small", "--json"], environment: key.environment).json?["id"] as? String)
        // Remove run_finished and the signature after it, and make the run row agree (status back to running).
        _ = try await tamper(ws, run: id, """
            DELETE FROM events WHERE run_id = '\(id)' AND seq >= (SELECT seq FROM events WHERE run_id = '\(id)' AND kind = 'run_finished');
            UPDATE runs SET status = 'running', finished_at = NULL, message = NULL WHERE id = '\(id)';
            """)
        let keyless = try await ws.runbook(["audit", "verify", id])
        #expect(keyless.exitCode == 0, "the cut history is self-consistent: \(keyless.stderr)")
        #expect(keyless.stdout.contains("only self-consistent"))
        let keyed = try await ws.runbook(["audit", "verify", "--public-key", key.publicKey])
        #expect(keyed.exitCode == 1)
        #expect(keyed.stderr.contains("run \(id): fails the signature check"), "\(keyed.stderr)")
    }

    @Test func deletingEverythingAfterAnApprovalSignatureIsDetectedWithTheKey() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", gated)
        let key = try await keygen(ws, "signing.key")
        let id = try #require(try await ws.runbook(["run", "gated"], environment: key.environment).runID)
        #expect(try await ws.runbook(["approve", id, "go"], environment: key.environment).exitCode == 0)
        // Cut back to the approval's signature; the step rows and run row are put back as they were then.
        _ = try await tamper(ws, run: id, """
            DELETE FROM events WHERE run_id = '\(id)' AND seq > (SELECT seq FROM events WHERE run_id = '\(id)' AND kind = 'chain_signed' AND detail LIKE '%"approval"%');
            UPDATE runs SET status = 'awaiting_approval', finished_at = NULL, message = NULL WHERE id = '\(id)';
            UPDATE steps SET status = 'pending', attempts = 0, started_at = NULL, finished_at = NULL, outputs = '{}', completion_order = NULL WHERE run_id = '\(id)' AND step_id = 'go';
            """)
        let keyed = try await ws.runbook(["audit", "verify", id, "--public-key", key.publicKey])
        #expect(keyed.exitCode == 1)
        #expect(keyed.stderr.contains("run \(id)"), "\(keyed.stderr)")
        #expect(keyed.stderr.contains("ends at the signature of an approval"), "\(keyed.stderr)")
    }

    @Test func thePrivateKeyIsNowhereInTheDatabaseExportsOrOutput() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", gated)
        let key = try await keygen(ws, "signing.key")
        let seed = key.seed
        #expect(seed.count == 32)
        var output = ""
        let paused = try await ws.runbook(["run", "gated", "--signing-key", key.path])
        output += paused.stdout + paused.stderr
        let id = try #require(paused.runID)
        let approved = try await ws.runbook(["approve", id, "go", "--signing-key", key.path, "--json"])
        output += approved.stdout + approved.stderr
        var files = Data()
        for suffix in ["", "-wal"] { files.append(FileManager.default.contents(atPath: ws.database + suffix) ?? Data()) }
        for format in ["json", "csv"] {
            let file = ws.root + "/export.\(format)"
            let export = try await ws.runbook(["audit", "export", id, "--format", format, "--output", file])
            output += export.stdout + export.stderr
            files.append(FileManager.default.contents(atPath: file) ?? Data())
        }
        for args in [["history", id], ["history", id, "--json"], ["runs"], ["audit", "verify", "--public-key", key.publicKey]] {
            let shown = try await ws.runbook(args)
            output += shown.stdout + shown.stderr
        }
        #expect(output.contains("signed run \(id)'s history"), "\(output)")
        let hex = seed.map { String(format: "%02x", $0) }.joined()
        let pem = try String(contentsOfFile: key.path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        for text in [seed.base64EncodedString(), hex, pem, String(pem.prefix(24))] {
            #expect(!output.contains(text))
            #expect(files.range(of: Data(text.utf8)) == nil)
        }
        #expect(files.range(of: seed) == nil, "the raw key bytes")
    }
}
