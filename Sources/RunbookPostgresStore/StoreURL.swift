import Foundation
import RunbookEngine
import RunbookPostgres

/// Where a PostgreSQL run store is: `postgres://USER@HOST:PORT/DB?sslmode=verify-full&sslrootcert=FILE`.
///
/// The URL never carries the password (it is printed in messages); the password comes from `PGPASSWORD` or
/// the password file (`PGPASSFILE`, else `~/.pgpass`), by libpq's rules. TLS is verify-full unless the host
/// is this machine's loopback, where plaintext is allowed (and is the default).
public struct PostgresStoreURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    /// The CA bundle that signs the server's certificate; nil for plaintext to a loopback host.
    public var caBundlePath: String?

    /// Whether `text` is meant as a PostgreSQL URL rather than an SQLite file path.
    public static func names(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// `postgres://user@host:port/database`, for messages (never a password).
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)"
    }

    /// Parse and check `text`; `home` is where `~/.postgresql/root.crt` (libpq's default CA bundle) is looked for.
    public init(_ text: String, home: String) throws {
        guard Self.names(text), let components = URLComponents(string: text) else {
            throw PostgresStoreError.usage("'\(Self.redacted(text))' is not a PostgreSQL URL; write it as postgres://USER@HOST:PORT/DATABASE")
        }
        let shown = Self.redacted(text)
        if components.password != nil {
            throw PostgresStoreError.usage("the store URL \(shown) carries a password; URLs are printed, so give the password in PGPASSWORD or ~/.pgpass instead")
        }
        guard let user = components.user?.removingPercentEncoding, !user.isEmpty else {
            throw PostgresStoreError.usage("the store URL \(shown) names no user; write it as postgres://USER@HOST:PORT/DATABASE")
        }
        guard let rawHost = components.host, !rawHost.isEmpty else {
            throw PostgresStoreError.usage("the store URL \(shown) names no host; write it as postgres://USER@HOST:PORT/DATABASE")
        }
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else {
            throw PostgresStoreError.usage("the store URL \(shown) has port \(port), which is not a TCP port (1-65535)")
        }
        let database = String(components.path.drop(while: { $0 == "/" })).removingPercentEncoding ?? ""
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresStoreError.usage("the store URL \(shown) names no database; write it as postgres://USER@HOST:PORT/DATABASE")
        }
        var sslmode: String?
        var rootCertificate: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode": sslmode = item.value
            case "sslrootcert": rootCertificate = item.value.map { Self.expandingTilde($0, home: home) }
            default:
                throw PostgresStoreError.usage("the store URL \(shown) has parameter '\(item.name)', which runbook does not read (it reads sslmode and sslrootcert)")
            }
        }
        self.user = user
        self.host = host
        self.port = port
        self.database = database
        self.caBundlePath = try Self.tlsBundle(sslmode: sslmode, rootCertificate: rootCertificate, host: host, home: home, shown: shown)
    }

    /// The CA bundle to verify the server with, or nil for plaintext (loopback only).
    private static func tlsBundle(sslmode: String?, rootCertificate: String?, host: String, home: String, shown: String) throws -> String? {
        let loopback = DatabaseTarget.isLoopback(host)
        switch sslmode {
        case "disable":
            guard loopback else {
                throw PostgresStoreError.usage("the store URL \(shown) asks for sslmode=disable, but plaintext is allowed only to this machine (localhost, 127.0.0.1, ::1); use sslmode=verify-full with sslrootcert=FILE")
            }
            return nil
        case nil, "verify-full":
            if let rootCertificate { return rootCertificate }
            let libpqDefault = home + "/.postgresql/root.crt"
            if FileManager.default.fileExists(atPath: libpqDefault) { return libpqDefault }
            if loopback && sslmode == nil { return nil }
            throw PostgresStoreError.usage("the store URL \(shown) needs sslrootcert=FILE: runbook verifies the server's certificate and name (verify-full) off this machine, and there is no \(libpqDefault)")
        case let other?:
            throw PostgresStoreError.usage("the store URL \(shown) asks for sslmode=\(other); runbook uses sslmode=verify-full (the default), or disable to this machine only")
        }
    }

    /// The connection target: this URL with the password found for it (none when there is none).
    public func target(password: String?, connectTimeout: Duration = .seconds(5), statementTimeout: Duration = .seconds(10)) -> DatabaseTarget {
        DatabaseTarget(host: host, port: port, database: database, user: user, credential: .password(password ?? ""),
                       caBundlePath: caBundlePath, connectTimeout: connectTimeout, statementTimeout: statementTimeout)
    }

    /// The URL text with anything between `://` and `@` after a `:` (a password) masked, for messages.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else { return text }
        let userInfo = text[scheme.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }

    static func expandingTilde(_ path: String, home: String) -> String {
        path.hasPrefix("~/") ? home + path.dropFirst() : path
    }
}

/// The password for a connection, found as libpq finds it: `PGPASSWORD`, else the first matching line of
/// the password file (`PGPASSFILE`, else `~/.pgpass`), which is ignored, with a warning, when group or others
/// may read it.
public enum PasswordLookup {
    /// The password (nil when none is given) and warnings to show, one sentence each.
    public static func password(for url: PostgresStoreURL, environment: [String: String], home: String) -> (password: String?, warnings: [String]) {
        if let password = environment["PGPASSWORD"], !password.isEmpty { return (password, []) }
        let file = environment["PGPASSFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.pgpass"
        var info = stat()
        guard stat(file, &info) == 0 else { return (nil, []) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            return (nil, ["the password file \(file) is not a plain file; it was ignored"])
        }
        if info.st_mode & (S_IRWXG | S_IRWXO) != 0 {
            return (nil, ["the password file \(file) may be read by group or others; it was ignored (chmod 0600 \(file))"])
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            return (nil, ["the password file \(file) cannot be read; it was ignored"])
        }
        return (PassFile.match(text, host: url.host, port: url.port, database: url.database, user: url.user), [])
    }
}

/// libpq's password file: lines `host:port:database:username:password`, `#` comments, `*` matching
/// anything in the first four fields, `\:` and `\\` escapes; the first matching line wins.
public enum PassFile {
    public static func match(_ text: String, host: String, port: Int, database: String, user: String) -> String? {
        let wanted = [host, String(port), database, user]
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            if line.hasPrefix("#") { continue }
            let fields = fields(of: Substring(line))
            guard fields.count >= 5 else { continue }
            let matches = zip(fields.prefix(4), wanted).allSatisfy { field, value in field == "*" || field == value }
            // libpq: a `localhost` entry also matches connections to the default Unix socket; runbook uses TCP only.
            if matches { return fields[4] }
        }
        return nil
    }

    /// The line's fields, unescaped (the fifth, the password, ends at the next unescaped `:` or the line's end).
    static func fields(of line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" {
                // The password ends at an unescaped separator too, as libpq reads it.
                if fields.count == 4 { break }
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}
