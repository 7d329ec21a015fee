import Crypto
import Foundation

/// AWS Signature Version 4 (header form), as staged public functions.
///
/// Each stage is separately callable so it can be tested against AWS's published
/// test-suite vectors: ``canonicalRequest(method:path:query:headers:payloadHash:)``,
/// ``stringToSign(timestamp:scope:canonicalRequest:)``, ``signingKey(secretAccessKey:date:region:service:)``
/// and ``signature(signingKey:stringToSign:)``. ``sign(_:credentials:region:service:date:includeContentSHA256:)``
/// composes them and returns the headers to send.
public enum SigV4 {
    /// The algorithm name used in the string to sign and the Authorization header.
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// Headers never signed (they may be changed by proxies or the HTTP stack).
    static let unsignedHeaders: Set<String> = ["user-agent", "expect", "x-amzn-trace-id", "authorization", "connection", "content-length", "transfer-encoding"]

    /// The canonical request and the `;`-joined list of signed header names.
    public struct CanonicalRequest: Sendable, Equatable {
        /// The canonical request text.
        public var text: String
        /// Lower-case header names, sorted, joined by `;`.
        public var signedHeaders: String
    }

    /// Builds the canonical request.
    ///
    /// - Parameters:
    ///   - path: the URI path, already percent-encoded as it goes on the wire (each segment is encoded once more, as AWS requires for non-S3 services).
    ///   - query: the raw query string (without `?`), possibly empty.
    ///   - headers: the headers to sign, in any order; duplicates are joined with `,`.
    ///   - payloadHash: hex SHA-256 of the body.
    public static func canonicalRequest(
        method: String, path: String, query: String, headers: [(String, String)], payloadHash: String
    ) -> CanonicalRequest {
        var grouped: [String: [String]] = [:]
        for (name, value) in headers {
            let key = name.lowercased()
            if unsignedHeaders.contains(key) { continue }
            grouped[key, default: []].append(trimHeaderValue(value))
        }
        let names = grouped.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(grouped[$0, default: []].joined(separator: ","))\n" }.joined()
        let signed = names.joined(separator: ";")
        let text = [
            method.uppercased(),
            canonicalURI(path),
            canonicalQueryString(query),
            canonicalHeaders,
            signed,
            payloadHash,
        ].joined(separator: "\n")
        return CanonicalRequest(text: text, signedHeaders: signed)
    }

    /// The credential scope `DATE/REGION/SERVICE/aws4_request`.
    public static func credentialScope(date: String, region: String, service: String) -> String {
        "\(date)/\(region)/\(service)/aws4_request"
    }

    /// Builds the string to sign from the timestamp (`YYYYMMDD'T'HHMMSS'Z'`), the credential scope and the canonical request.
    public static func stringToSign(timestamp: String, scope: String, canonicalRequest: String) -> String {
        [algorithm, timestamp, scope, hexSHA256(Data(canonicalRequest.utf8))].joined(separator: "\n")
    }

    /// Derives the signing key: HMAC chain over date, region, service and `aws4_request`.
    public static func signingKey(secretAccessKey: String, date: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// The hex signature of the string to sign.
    public static func signature(signingKey: SymmetricKey, stringToSign: String) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey))
    }

    /// The `Authorization` header value.
    public static func authorizationHeader(accessKeyID: String, scope: String, signedHeaders: String, signature: String) -> String {
        "\(algorithm) Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    /// Signs a request and returns its headers with `host`, `x-amz-date`, optionally
    /// `x-amz-content-sha256`, `x-amz-security-token` (when the credentials carry a session token)
    /// and `Authorization` added.
    ///
    /// - Parameter url: the full request URL; its host (and non-default port) becomes the `host` header.
    public static func sign(
        method: String, url: URL, headers: [(String, String)], body: Data,
        credentials: AWSCredentials, region: String, service: String, date: Date,
        includeContentSHA256: Bool = false
    ) -> [(String, String)] {
        let (timestamp, day) = timestamps(date)
        let payloadHash = hexSHA256(body)
        var result = headers.filter { !["host", "x-amz-date", "authorization", "x-amz-security-token", "x-amz-content-sha256"].contains($0.0.lowercased()) }
        result.append(("host", hostHeader(url)))
        result.append(("x-amz-date", timestamp))
        if includeContentSHA256 { result.append(("x-amz-content-sha256", payloadHash)) }
        if let token = credentials.sessionToken { result.append(("x-amz-security-token", token)) }
        let components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        let path = components?.percentEncodedPath ?? "/"
        let query = components?.percentEncodedQuery ?? ""
        let canonical = canonicalRequest(method: method, path: path.isEmpty ? "/" : path, query: query, headers: result, payloadHash: payloadHash)
        let scope = credentialScope(date: day, region: region, service: service)
        let toSign = stringToSign(timestamp: timestamp, scope: scope, canonicalRequest: canonical.text)
        let key = signingKey(secretAccessKey: credentials.secretAccessKey, date: day, region: region, service: service)
        let sig = signature(signingKey: key, stringToSign: toSign)
        result.append(("Authorization", authorizationHeader(accessKeyID: credentials.accessKeyID, scope: scope, signedHeaders: canonical.signedHeaders, signature: sig)))
        return result
    }

    /// `(YYYYMMDD'T'HHMMSS'Z', YYYYMMDD)` in UTC.
    public static func timestamps(_ date: Date) -> (timestamp: String, date: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ v: Int?, _ width: Int) -> String {
            let s = String(v ?? 0)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let day = pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2)
        return (day + "T" + pad(c.hour, 2) + pad(c.minute, 2) + pad(c.second, 2) + "Z", day)
    }

    /// Hex SHA-256 of data.
    public static func hexSHA256(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

    static func hostHeader(_ url: URL) -> String {
        let host = url.host ?? ""
        if let port = url.port, !((url.scheme == "https" && port == 443) || (url.scheme == "http" && port == 80)) {
            return "\(host):\(port)"
        }
        return host
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func trimHeaderValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
    }

    /// Each path segment is percent-encoded again (non-S3 services double-encode).
    static func canonicalURI(_ path: String) -> String {
        if path.isEmpty { return "/" }
        return path.split(separator: "/", omittingEmptySubsequences: false)
            .map { uriEncode(String($0)) }
            .joined(separator: "/")
    }

    /// Sorts query parameters by encoded key, then value; re-encodes with RFC 3986 rules.
    static func canonicalQueryString(_ query: String) -> String {
        if query.isEmpty { return "" }
        let pairs: [(String, String)] = query.split(separator: "&").map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = uriEncode(percentDecode(String(parts[0])))
            let value = parts.count > 1 ? uriEncode(percentDecode(String(parts[1]))) : ""
            return (key, value)
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    static func percentDecode(_ s: String) -> String { s.removingPercentEncoding ?? s }

    /// RFC 3986 encoding: everything but `A-Z a-z 0-9 - _ . ~` becomes `%XX`.
    public static func uriEncode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                let hexDigits = Array("0123456789ABCDEF")
                out.append("%")
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return out
    }
}
