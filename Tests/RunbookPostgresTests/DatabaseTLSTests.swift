import Foundation
import RunbookPostgres
import RunbookTestSupport
import Testing

/// verify-full against a real server whose certificate a test CA signed (made with openssl).
@Suite struct DatabaseTLSTests {
    @Test func verifyFullAcceptsTheRightCAAndHostAndRefusesAnyOther() async throws {
        let dir = try TemporaryDirectory(prefix: "runbook-tls")
        defer { dir.remove() }
        let ca = try TestCA(name: "runbook test CA", in: dir.url.appendingPathComponent("ca"))
        let otherCA = try TestCA(name: "another CA", in: dir.url.appendingPathComponent("other"))
        let files = try ca.issueServerCertificate(dnsName: "localhost", in: dir.url.appendingPathComponent("server"))
        let server = try await PostgresServer.start(tls: files)
        defer { server.stop() }

        func target(ca: String, serverName: String? = nil) -> DatabaseTarget {
            DatabaseTarget(host: "localhost", port: server.port, user: server.user, credential: .password(server.password),
                           caBundlePath: ca, tlsServerName: serverName, connectTimeout: .seconds(5))
        }
        let encrypted = try await DatabaseSession.with(target(ca: ca.certificate)) { session in
            try await session.value("SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()", doing: "reading TLS state")
        }
        #expect(encrypted == "true")
        await #expect(throws: DatabaseError.self, "a certificate from another CA") {
            try await DatabaseSession.connect(target(ca: otherCA.certificate))
        }
        await #expect(throws: DatabaseError.self, "a certificate for another host name") {
            try await DatabaseSession.connect(target(ca: ca.certificate, serverName: "db.other.example"))
        }
    }
}

/// A certificate authority made with the openssl command, for tests.
struct TestCA {
    let certificate: String
    let key: String

    init(name: String, in directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        certificate = directory.appendingPathComponent("ca.crt").path
        key = directory.appendingPathComponent("ca.key").path
        try Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=\(name)",
                          "-keyout", key, "-out", certificate])
    }

    func issueServerCertificate(dnsName: String, in directory: URL) throws -> PostgresServer.TLSFiles {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let serverKey = directory.appendingPathComponent("server.key").path
        let request = directory.appendingPathComponent("server.csr").path
        let serverCertificate = directory.appendingPathComponent("server.crt").path
        let extensions = directory.appendingPathComponent("san.cnf")
        try Data("subjectAltName=DNS:\(dnsName)\n".utf8).write(to: extensions)
        try Self.openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=\(dnsName)", "-keyout", serverKey, "-out", request])
        try Self.openssl(["x509", "-req", "-in", request, "-CA", certificate, "-CAkey", key, "-CAcreateserial", "-days", "2",
                          "-extfile", extensions.path, "-out", serverCertificate])
        return PostgresServer.TLSFiles(certificate: serverCertificate, key: serverKey)
    }

    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw DatabaseTestFailure("openssl \(arguments.first ?? "") failed") }
    }
}
