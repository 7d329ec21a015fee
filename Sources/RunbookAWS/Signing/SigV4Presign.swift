import Foundation

extension SigV4 {
    /// Presigns a request in the query-string form, as botocore's `SigV4QueryAuth` does: the request's
    /// `parameters` first, then `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
    /// `X-Amz-SignedHeaders` (only `host` is signed), `X-Amz-Security-Token` when the credentials carry
    /// one, and last `X-Amz-Signature`. The canonical request hashes the empty body.
    ///
    /// - Parameters:
    ///   - host: the `host` header value: the host, with `:port` unless the port is the scheme's default.
    ///   - path: the URI path as it goes on the wire (`/` for RDS).
    ///   - parameters: the operation's parameters, unencoded, in the order they go in the URL.
    ///   - expires: seconds the URL stays valid (`X-Amz-Expires`).
    /// - Returns: the query string (without `?`), every key and value RFC 3986-encoded.
    public static func presignedQuery(
        method: String, host: String, path: String = "/", parameters: [(String, String)],
        credentials: AWSCredentials, region: String, service: String, date: Date, expires: Int
    ) -> String {
        let (timestamp, day) = timestamps(date)
        let scope = credentialScope(date: day, region: region, service: service)
        let signedHeaders = [("host", host)]
        var auth: [(String, String)] = [
            ("X-Amz-Algorithm", algorithm),
            ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if let token = credentials.sessionToken { auth.append(("X-Amz-Security-Token", token)) }
        let query = (parameters + auth).map { "\(uriEncode($0.0))=\(uriEncode($0.1))" }.joined(separator: "&")
        let canonical = canonicalRequest(method: method, path: path, query: query, headers: signedHeaders,
                                         payloadHash: hexSHA256(Data()))
        let toSign = stringToSign(timestamp: timestamp, scope: scope, canonicalRequest: canonical.text)
        let key = signingKey(secretAccessKey: credentials.secretAccessKey, date: day, region: region, service: service)
        return query + "&X-Amz-Signature=" + signature(signingKey: key, stringToSign: toSign)
    }
}
