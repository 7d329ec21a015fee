import Foundation

/// Where and how to connect: host, port, database, user, TLS and the time limits of every call.
public struct DatabaseTarget: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: String
    public var user: String
    public var credential: DatabaseCredential
    /// PEM file of the CA certificates that sign the server's certificate (RDS's global bundle in production).
    public var caBundlePath: String?
    /// Verify the certificate against this name instead of `host` (for a test CA's certificate).
    public var tlsServerName: String?
    /// TCP connect, TLS and authentication together must finish within this.
    public var connectTimeout: Duration
    /// The server cancels any statement that runs longer (`statement_timeout`); the client gives up a little later.
    public var statementTimeout: Duration

    public init(host: String, port: Int = 5432, database: String = "postgres", user: String, credential: DatabaseCredential,
                caBundlePath: String? = nil, tlsServerName: String? = nil,
                connectTimeout: Duration = .seconds(5), statementTimeout: Duration = .seconds(10)) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.credential = credential
        self.caBundlePath = caBundlePath
        self.tlsServerName = tlsServerName
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
    }

    /// `user@host:port/database`, for messages (never the credential).
    public var description: String { "\(user)@\(host):\(port)/\(database)" }

    /// TLS with full verification whenever a CA bundle is given; plaintext only to a loopback host.
    public enum TLSMode: Sendable, Equatable {
        case verifyFull(caBundlePath: String)
        case plaintextLoopback
    }

    /// The TLS mode this target must use; throws when the host is not loopback and no CA bundle is given.
    public func tlsMode() throws -> TLSMode {
        if let caBundlePath { return .verifyFull(caBundlePath: caBundlePath) }
        guard Self.isLoopback(host) else {
            throw DatabaseError("cannot connect to \(self) without TLS: give a CA bundle (RDS's global bundle, "
                + "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) so the server's certificate is verified (verify-full)")
        }
        return .plaintextLoopback
    }

    /// Whether `host` names this machine: `localhost`, 127.0.0.0/8 or ::1.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { UInt8($0) != nil }
    }
}
