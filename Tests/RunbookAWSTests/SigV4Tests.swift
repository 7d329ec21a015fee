import Foundation
import RunbookTestSupport
import Testing
@testable import RunbookAWS

/// A vector from AWS's published SigV4 test suite (see Fixtures/sigv4-test-suite.json for the source).
struct SigV4Vector: Decodable, CustomTestStringConvertible {
    var name: String
    var method: String
    var path: String
    var query: String
    var headers: [[String]]
    var body: String
    var creq: String
    var sts: String
    var authz: String
    var testDescription: String { name }
}

struct SigV4Suite: Decodable {
    struct Config: Decodable {
        var service: String
        var region: String
        var accessKeyId: String
        var secretAccessKey: String
    }
    var config: Config
    var tests: [SigV4Vector]

    static let loaded: SigV4Suite = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/sigv4-test-suite.json")
        do {
            return try JSONDecoder().decode(SigV4Suite.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot load \(url.path): \(error)")
        }
    }()
}

@Suite struct SigV4VectorTests {
    @Test(arguments: SigV4Suite.loaded.tests)
    func publishedVector(_ v: SigV4Vector) {
        let config = SigV4Suite.loaded.config
        let headers = v.headers.map { ($0[0], $0[1]) }
        let canonical = SigV4.canonicalRequest(method: v.method, path: v.path, query: v.query, headers: headers,
                                               payloadHash: SigV4.hexSHA256(Data(v.body.utf8)))
        #expect(canonical.text == v.creq)
        let scope = SigV4.credentialScope(date: "20150830", region: config.region, service: config.service)
        let toSign = SigV4.stringToSign(timestamp: "20150830T123600Z", scope: scope, canonicalRequest: canonical.text)
        #expect(toSign == v.sts)
        let key = SigV4.signingKey(secretAccessKey: config.secretAccessKey, date: "20150830", region: config.region, service: config.service)
        let signature = SigV4.signature(signingKey: key, stringToSign: toSign)
        let authorization = SigV4.authorizationHeader(accessKeyID: config.accessKeyId, scope: scope,
                                                      signedHeaders: canonical.signedHeaders, signature: signature)
        #expect(authorization == v.authz)
    }

    @Test func signAddsSessionTokenAndContentHashWhenAsked() throws {
        let url = try #require(URL(string: "https://rds.us-west-2.amazonaws.com/"))
        let creds = AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "TOKEN")
        let headers = SigV4.sign(method: "POST", url: url, headers: [], body: Data("a=b".utf8), credentials: creds,
                                 region: "us-west-2", service: "rds", date: Date(timeIntervalSince1970: 1_440_938_160),
                                 includeContentSHA256: true)
        let auth = try #require(headers.first { $0.0 == "Authorization" }?.1)
        #expect(auth.contains("Credential=AKID/20150830/us-west-2/rds/aws4_request"))
        #expect(auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"))
        #expect(headers.contains { $0.0 == "x-amz-security-token" && $0.1 == "TOKEN" })
        #expect(!auth.contains("secret"))
    }
}

/// Compares our Authorization header with botocore's `SigV4Auth` on the same request, keys and time.
@Suite struct SigV4BotocoreTests {
    static let botocoreAvailable: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import botocore.auth"]
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    struct Case: CustomTestStringConvertible, Sendable {
        var service: AWSService
        var region: String
        var method: String
        var url: String
        var contentType: String?
        var body: String
        var token: String?
        var testDescription: String { "\(service.rawValue) \(region) \(method) \(url)\(token == nil ? "" : " +token")" }
    }

    static let cases: [Case] = {
        var rdsParams = QueryParameters()
        rdsParams.set("DBParameterGroupName", "financial-param-group")
        rdsParams.setList("Parameters.Parameter", [("log_statement", "all"), ("checkpoint_completion_target", "0.9")]) { p, q in
            q.set("ParameterName", p.0)
            q.set("ParameterValue", p.1)
            q.set("ApplyMethod", "immediate")
        }
        var cwParams = QueryParameters()
        cwParams.set("AlarmName", "db-replica-lag alarm/é")
        cwParams.setList("Dimensions.member", [("DBInstanceIdentifier", "financial-db")]) { d, q in
            q.set("Name", d.0)
            q.set("Value", d.1)
        }
        let rdsBody = rdsParams.formBody(action: "ModifyDBParameterGroup", version: "2014-10-31")
        let cwBody = cwParams.formBody(action: "PutMetricAlarm", version: "2010-08-01")
        let form = "application/x-www-form-urlencoded; charset=utf-8"
        var out: [Case] = []
        for region in ["us-east-1", "us-west-2"] {
            out.append(Case(service: .rds, region: region, method: "POST", url: "https://rds.\(region).amazonaws.com/", contentType: form, body: rdsBody, token: nil))
            out.append(Case(service: .cloudwatch, region: region, method: "POST", url: "https://monitoring.\(region).amazonaws.com/", contentType: form, body: cwBody, token: "FQoGZXIvYXdzEXAMPLETOKEN+/="))
            out.append(Case(service: .route53, region: region, method: "GET",
                            url: "https://route53.amazonaws.com/2013-04-01/hostedzone/Z123ABC/rrset?name=db.example.internal.&type=CNAME&maxitems=2",
                            contentType: nil, body: "", token: nil))
            out.append(Case(service: .route53, region: region, method: "POST", url: "https://route53.amazonaws.com/2013-04-01/hostedzone/Z123ABC/rrset",
                            contentType: "application/xml", body: "<?xml version=\"1.0\"?><ChangeResourceRecordSetsRequest/>", token: "tok"))
        }
        return out
    }()

    @Test(.enabled(if: botocoreAvailable, "python3 with botocore is not installed: SigV4 is not compared with botocore"),
          arguments: cases)
    func authorizationMatchesBotocore(_ c: Case) async throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000.25)
        let creds = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: c.token)
        let url = try #require(URL(string: c.url))
        let headers = c.contentType.map { [("content-type", $0)] } ?? []
        let signed = SigV4.sign(method: c.method, url: url, headers: headers, body: Data(c.body.utf8), credentials: creds,
                                region: c.region, service: c.service.signingName, date: date)
        let ours = try #require(signed.first { $0.0 == "Authorization" }?.1)

        let script = """
        import sys, json, datetime
        import botocore.auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        a = json.loads(sys.argv[1])
        botocore.auth.get_current_datetime = lambda *x, **k: datetime.datetime.fromtimestamp(a["epoch"], datetime.timezone.utc)
        req = AWSRequest(method=a["method"], url=a["url"], data=a["body"].encode(), headers=a["headers"])
        botocore.auth.SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", a["token"]), a["service"], a["region"]).add_auth(req)
        sys.stdout.write(req.headers["Authorization"])
        """
        let argument: [String: Any] = [
            "epoch": date.timeIntervalSince1970, "method": c.method, "url": c.url, "body": c.body,
            "headers": Dictionary(uniqueKeysWithValues: headers), "token": c.token.map { $0 as Any } ?? NSNull(), "service": c.service.signingName, "region": c.region,
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: argument), as: UTF8.self)
        let (status, reference) = try await Python.run(script, [json])
        #expect(status == 0)
        #expect(reference.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/\(c.region)/\(c.service.signingName)/aws4_request"))
        #expect(ours == reference)
    }
}
