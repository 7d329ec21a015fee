import Crypto
import CryptoExtras
import Foundation

/// A slow, salted fingerprint of a secret parameter's value, kept in the run's `run_created` event so that a
/// resume given a different value is refused instead of running steps with the wrong credentials.
///
/// scrypt (N = 2^14, r = 8, p = 1: about 16 MiB and tens of milliseconds a guess) with a random per-value
/// salt: the value itself is never stored, and guessing it from the database costs an attacker that much per
/// guess. A strong secret stays out of reach; a short dictionary word does not (README, Security).
public enum SecretCheck {
    static let rounds = 1 << 14
    static let blockSize = 8
    static let parallelism = 1

    /// `scrypt$N$r$p$SALT$KEY`, hex-encoded.
    public static func fingerprint(of value: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        for index in salt.indices { salt[index] = UInt8.random(in: 0...255) }
        return "scrypt$\(rounds)$\(blockSize)$\(parallelism)$\(hex(salt))$\(try derive(value, salt: salt, rounds: rounds, blockSize: blockSize, parallelism: parallelism))"
    }

    /// Whether `value` produces `fingerprint`; false for a fingerprint this version cannot read.
    public static func matches(_ value: String, fingerprint: String) -> Bool {
        let parts = fingerprint.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let n = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]),
              let salt = bytes(hex: parts[4]),
              let key = try? derive(value, salt: salt, rounds: n, blockSize: r, parallelism: p) else { return false }
        return key == parts[5]
    }

    private static func derive(_ value: String, salt: [UInt8], rounds: Int, blockSize: Int, parallelism: Int) throws -> String {
        let key = try KDF.Scrypt.deriveKey(from: Array(value.utf8), salt: salt, outputByteCount: 32,
                                           rounds: rounds, blockSize: blockSize, parallelism: parallelism)
        return key.withUnsafeBytes { hex(Array($0)) }
    }

    private static func hex(_ bytes: [UInt8]) -> String { AuditChain.hex(bytes) }

    private static func bytes(hex text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }
}
