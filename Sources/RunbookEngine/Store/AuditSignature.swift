import Crypto
import Foundation

/// Ed25519 signatures over a run's chain head, stored as `chain_signed` events of the run's own chain, so
/// that a history edited and re-hashed by someone without the private key no longer verifies.
///
/// A signature covers the canonical bytes of `message(...)`: a domain tag, the run id, the seq and hash of
/// the event it covers (which commits to every event before it), the run's status when signing, the point
/// (`stopped` or `approval`) and the signing time. See docs/audit-signing.md.
public enum AuditSignatures {
    /// The tag that makes the signed bytes mean nothing outside this use.
    public static let domain = "runbook-chain-signature/1"

    /// When a signature was made: the run stopped (finished, paused for approval, interrupted), or a gate was approved.
    public enum Point: String, Sendable, Equatable {
        case stopped, approval
    }

    /// The bytes a signature covers: one canonical JSON object with sorted keys.
    public static func message(runID: String, signedSeq: Int64, signedHash: String, status: String, point: String, at: Int64) -> Data {
        var text = "{\"at\":\(at),\"domain\":\(AuditChain.jsonString(domain)),\"hash\":\(AuditChain.jsonString(signedHash))"
        text += ",\"point\":\(AuditChain.jsonString(point)),\"run\":\(AuditChain.jsonString(runID))"
        text += ",\"seq\":\(signedSeq),\"status\":\(AuditChain.jsonString(status))}"
        return Data(text.utf8)
    }

    /// The `chain_signed` event signing `head` of run `runID`, whose status is `status`.
    public static func signatureEvent(runID: String, head: ChainHead, status: RunStatus, point: Point,
                                      key: AuditSigningKey, actor: ActorIdentity, at: Int64) throws -> NewEvent {
        let bytes = message(runID: runID, signedSeq: head.seq, signedHash: head.hash, status: status.rawValue, point: point.rawValue, at: at)
        let detail = [
            "signed_seq": String(head.seq), "signed_hash": head.hash, "status": status.rawValue, "point": point.rawValue,
            "signed_at": String(at), "key_fingerprint": key.fingerprint, "signature": try key.sign(bytes).base64EncodedString(),
        ]
        return NewEvent(kind: .chainSigned, detail: detail, at: at, actor: actor)
    }

    /// The signatures recorded in `events`, in order, unchecked.
    public static func signatures(in events: [AuditEvent]) -> [ChainSignature] {
        events.compactMap(ChainSignature.init(event:))
    }

    /// The fingerprints of the keys that signed `events`, in order of first use.
    public static func fingerprints(in events: [AuditEvent]) -> [String] {
        var seen: [String] = []
        for signature in signatures(in: events) where !seen.contains(signature.keyFingerprint) { seen.append(signature.keyFingerprint) }
        return seen
    }

    /// Whether `events` (already checked against their hashes) carry valid signatures by `publicKey` that
    /// cover the run's last event, ending in a signature made when the run stopped in its recorded status.
    public static func verify(run: RunRecord, events: [AuditEvent], publicKey: AuditPublicKey) -> SignatureStatus {
        let all = signatures(in: events)
        guard !all.isEmpty else { return .unsigned }
        let mine = all.filter { $0.keyFingerprint == publicKey.fingerprint }
        guard let last = mine.last else {
            let others = fingerprints(in: events).joined(separator: ", ")
            return .incomplete(reason: "none of its \(all.count) signature\(all.count == 1 ? " is" : "s are") by key \(publicKey.fingerprint) (signed by \(others))")
        }
        let bySeq = Dictionary(events.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        for signature in mine {
            if let problem = check(signature, runID: run.id, covered: bySeq[signature.signedSeq], publicKey: publicKey) { return .invalid(reason: problem) }
        }
        if let problem = coverage(run: run, events: events, last: last) { return .incomplete(reason: problem) }
        return .valid(keyFingerprint: publicKey.fingerprint, coveredSeq: last.signedSeq, signatures: mine.count)
    }

    /// Why one signature does not hold, or nil when it does.
    static func check(_ signature: ChainSignature, runID: String, covered: AuditEvent?, publicKey: AuditPublicKey) -> String? {
        guard let covered, signature.signedSeq < signature.seq else {
            return "the signature at event #\(signature.seq) covers event #\(signature.signedSeq), which is not before it in the history"
        }
        guard covered.hash == signature.signedHash else {
            return "event #\(covered.seq) (\(covered.kind)) no longer has the hash signed at event #\(signature.seq): the history up to #\(covered.seq) was changed after it was signed"
        }
        let bytes = message(runID: runID, signedSeq: signature.signedSeq, signedHash: signature.signedHash,
                            status: signature.status, point: signature.point, at: signature.signedAt)
        guard let raw = Data(base64Encoded: signature.signature), publicKey.isValid(raw, for: bytes) else {
            return "the signature at event #\(signature.seq) does not verify with key \(publicKey.fingerprint): the signature or the values it signs were changed"
        }
        return nil
    }

    /// Why the valid signatures do not vouch for the whole history as stored, or nil when they do. After the
    /// last signature by the key only well-formed signatures (by other keys) may follow; anything else,
    /// a malformed `chain_signed` event included, is unsigned.
    static func coverage(run: RunRecord, events: [AuditEvent], last: ChainSignature) -> String? {
        let unsigned = events.filter { $0.seq > last.signedSeq && ChainSignature(event: $0) == nil }
        if let first = unsigned.first, let end = unsigned.last {
            let span = first.seq == end.seq ? "event #\(first.seq) comes" : "events #\(first.seq) to #\(end.seq) come"
            return "\(span) after its last signature by this key (event #\(last.seq), covering #\(last.signedSeq)): written by a process without the signing key, or the run is still being driven or its driver was killed (`runbook resume` with the key signs it when it stops)"
        }
        if last.point == Point.approval.rawValue {
            return "its history ends at the signature of an approval (event #\(last.seq)): the events after the approval are missing, or its driver was killed right after it (`runbook resume` with the key signs it when it stops)"
        }
        if last.status != run.status.rawValue {
            return "the run is recorded as '\(run.status.rawValue)' but its last signature (event #\(last.seq)) signed it as '\(last.status)'"
        }
        return nil
    }
}

/// What signature checking found for one run.
public enum SignatureStatus: Sendable, Equatable, CustomStringConvertible {
    /// The run carries no signature at all (it ran without a signing key).
    case unsigned
    /// Every signature by the key verifies and the last one covers the run's last event.
    case valid(keyFingerprint: String, coveredSeq: Int64, signatures: Int)
    /// A signature by the key does not verify, or the history it covers was changed.
    case invalid(reason: String)
    /// The signatures verify (or none is by the key) but do not vouch for the end of the history.
    case incomplete(reason: String)

    public var isValid: Bool {
        if case .valid = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .unsigned: return "it has no signature (it ran without a signing key, or its signatures were removed)"
        case .valid(let key, let seq, let count):
            return "signed by key \(key) up to its last event #\(seq) (\(count) signature\(count == 1 ? "" : "s"))"
        case .invalid(let reason), .incomplete(let reason): return reason
        }
    }
}

/// One `chain_signed` event, decoded.
public struct ChainSignature: Sendable, Equatable, Codable {
    /// The `chain_signed` event's own sequence number.
    public var seq: Int64
    public var signedSeq: Int64
    public var signedHash: String
    public var status: String
    public var point: String
    public var signedAt: Int64
    public var keyFingerprint: String
    /// Base64 of the 64-byte Ed25519 signature.
    public var signature: String

    /// The signature `event` records, or nil when it is not a well-formed `chain_signed` event.
    public init?(event: AuditEvent) {
        let detail = event.detail
        guard event.kind == EventKind.chainSigned.rawValue,
              let signedSeq = detail["signed_seq"].flatMap({ Int64($0) }), let signedAt = detail["signed_at"].flatMap({ Int64($0) })
        else { return nil }
        self.seq = event.seq
        self.signedSeq = signedSeq
        self.signedHash = detail["signed_hash"] ?? ""
        self.status = detail["status"] ?? ""
        self.point = detail["point"] ?? ""
        self.signedAt = signedAt
        self.keyFingerprint = detail["key_fingerprint"] ?? ""
        self.signature = detail["signature"] ?? ""
    }
}

/// An Ed25519 private key for signing chain heads. Its text form is a PKCS#8 PEM (`BEGIN PRIVATE KEY`), the
/// form OpenSSL reads; the key itself is never written anywhere else.
public struct AuditSigningKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey

    /// A new random key.
    public static func generate() -> AuditSigningKey { AuditSigningKey(key: Curve25519.Signing.PrivateKey()) }

    private init(key: Curve25519.Signing.PrivateKey) { self.key = key }

    /// The key a PEM text holds; the error says what is wrong, without quoting the text.
    public init(pem: String) throws(SigningKeyError) {
        guard let der = PEMText.decode(pem, label: "PRIVATE KEY"), der.count == 48, der.prefix(16) == Self.pkcs8Prefix,
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))
        else { throw SigningKeyError(message: "is not an Ed25519 private key in PEM (-----BEGIN PRIVATE KEY-----, as `runbook audit keygen` writes)") }
        self.key = key
    }

    /// The PKCS#8 PEM text of the key.
    public var pem: String { PEMText.encode(Self.pkcs8Prefix + key.rawRepresentation, label: "PRIVATE KEY") }

    public var publicKey: AuditPublicKey { AuditPublicKey(key: key.publicKey) }
    public var fingerprint: String { publicKey.fingerprint }

    func sign(_ bytes: Data) throws -> Data { try key.signature(for: bytes) }

    /// The DER bytes before the 32-byte seed in an Ed25519 PKCS#8 key (RFC 8410).
    static let pkcs8Prefix = Data([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
}

/// An Ed25519 public key that checks chain signatures. Its text form is `ed25519:` and the base64 of the 32
/// raw bytes; a PEM `BEGIN PUBLIC KEY` (as `openssl pkey -pubout` writes) is read too.
public struct AuditPublicKey: Sendable {
    fileprivate let key: Curve25519.Signing.PublicKey

    fileprivate init(key: Curve25519.Signing.PublicKey) { self.key = key }

    /// The key `text` holds (`ed25519:BASE64` or a PEM public key), or nil when it holds none.
    public init?(text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var raw: Data?
        if trimmed.hasPrefix(Self.prefix) {
            raw = Data(base64Encoded: String(trimmed.dropFirst(Self.prefix.count)))
        } else if let der = PEMText.decode(trimmed, label: "PUBLIC KEY"), der.count == 44, der.prefix(12) == Self.spkiPrefix {
            raw = der.suffix(32)
        }
        guard let raw, raw.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return nil }
        self.key = key
    }

    /// `ed25519:BASE64`.
    public var text: String { Self.prefix + key.rawRepresentation.base64EncodedString() }

    /// SHA-256 of the 32 raw public key bytes, first 16 bytes in hex.
    public var fingerprint: String { String(AuditChain.hex(SHA256.hash(data: key.rawRepresentation)).prefix(32)) }

    func isValid(_ signature: Data, for bytes: Data) -> Bool { key.isValidSignature(signature, for: bytes) }

    static let prefix = "ed25519:"
    /// The DER bytes before the 32-byte key in an Ed25519 SubjectPublicKeyInfo (RFC 8410).
    static let spkiPrefix = Data([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
}

/// Why a key file could not be used, as the end of a sentence that starts with the file's name.
public struct SigningKeyError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// PEM armour: a label line, base64 in 64-character lines, an end line.
enum PEMText {
    static func encode(_ der: Data, label: String) -> String {
        let body = der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(body)\n-----END \(label)-----\n"
    }

    /// The DER bytes inside the first `label` block of `text`, or nil.
    static func decode(_ text: String, label: String) -> Data? {
        let begin = "-----BEGIN \(label)-----", end = "-----END \(label)-----"
        guard let start = text.range(of: begin), let stop = text.range(of: end, range: start.upperBound..<text.endIndex) else { return nil }
        let body = text[start.upperBound..<stop.lowerBound].filter { !$0.isWhitespace }
        return Data(base64Encoded: String(body))
    }
}
