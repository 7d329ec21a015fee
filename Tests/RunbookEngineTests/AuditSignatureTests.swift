import Foundation
import Testing
@testable import RunbookEngine

/// `AuditSignatures.verify`, the function `audit verify --public-key` and the report share, on hand-built chains.
@Suite struct AuditSignatureTests {
    static let actor = ActorIdentity(user: "sre", host: "ops-1", pid: 42)

    /// The stored chain of `new`, each event hashed and linked in order as a store appends them.
    static func chain(_ new: [NewEvent], runID: String = "r1") -> [AuditEvent] {
        var out: [AuditEvent] = []
        for event in new {
            let seq = Int64(out.count + 1)
            let previous = out.last?.hash ?? AuditChain.genesis
            var stored = AuditEvent(seq: seq, runID: runID, stepID: event.stepID, attempt: event.attempt, kind: event.kind.rawValue,
                                    detail: event.detail, at: event.at, actor: event.actor, state: event.state, previousHash: previous, hash: "")
            stored.hash = AuditChain.expectedHash(of: stored, previous: previous)
            out.append(stored)
        }
        return out
    }

    static func run(_ status: RunStatus) -> RunRecord {
        RunRecord(id: "r1", runbook: "small", definition: "", definitionHash: "", origin: "", parameters: [:], providedSecrets: [],
                  options: RunOptions(workingDirectory: "/"), status: status, createdAt: 1, startedBy: actor)
    }

    static let content = [
        NewEvent(kind: .runCreated, at: 1, actor: actor),
        NewEvent(kind: .runFinished, detail: ["status": "succeeded"], at: 2, actor: actor),
    ]

    /// `content` followed by a stop signature by `key`.
    static func signed(by key: AuditSigningKey) throws -> [NewEvent] {
        let head = chain(content)
        let last = try #require(head.last)
        return content + [try AuditSignatures.signatureEvent(runID: "r1", head: ChainHead(seq: last.seq, hash: last.hash), status: .succeeded,
                                                              point: .stopped, key: key, actor: actor, at: 3)]
    }

    @Test func aSignedChainIsValidWithItsKeyOnly() throws {
        let key = AuditSigningKey.generate()
        let events = Self.chain(try Self.signed(by: key))
        #expect(AuditSignatures.verify(run: Self.run(.succeeded), events: events, publicKey: key.publicKey)
            == .valid(keyFingerprint: key.fingerprint, coveredSeq: 2, signatures: 1))
        let other = AuditSigningKey.generate().publicKey
        guard case .incomplete(let reason) = AuditSignatures.verify(run: Self.run(.succeeded), events: events, publicKey: other) else {
            Issue.record("another key must not vouch for the run")
            return
        }
        #expect(reason.contains("signed by \(key.fingerprint)"))
        #expect(AuditSignatures.verify(run: Self.run(.succeeded), events: Self.chain(Self.content), publicKey: other) == .unsigned)
    }

    @Test func aMalformedSignatureEventAfterTheLastSignatureIsUnsigned() throws {
        let key = AuditSigningKey.generate()
        let forged = NewEvent(kind: .chainSigned, detail: ["note": "looks like a signature"], at: 4, actor: Self.actor)
        let events = Self.chain(try Self.signed(by: key) + [forged])
        let status = AuditSignatures.verify(run: Self.run(.succeeded), events: events, publicKey: key.publicKey)
        #expect(status == .incomplete(reason: "event #4 comes after its last signature by this key (event #3, covering #2): written by a process without the signing key, or the run is still being driven or its driver was killed (`runbook resume` with the key signs it when it stops)"))
    }

    @Test func keyTextsRoundTripAndAPrivateKeyIsNotAPublicOne() throws {
        let key = AuditSigningKey.generate()
        let reread = try AuditSigningKey(pem: key.pem)
        #expect(reread.fingerprint == key.fingerprint)
        #expect(AuditPublicKey(text: key.publicKey.text)?.fingerprint == key.fingerprint)
        #expect(AuditPublicKey(text: key.pem) == nil)
        #expect(throws: SigningKeyError.self) { try AuditSigningKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
    }
}
