import Foundation
import Testing
@testable import RunbookAWS

@Suite struct JSONErrorParsingTests {
    func parse(_ body: String, status: Int = 400, headers: [(String, String)] = []) -> AWSError {
        AWSError.parseJSON(body: Data(body.utf8), statusCode: status, headers: headers, operation: "secretsmanager:GetSecretValue")
    }

    @Test func typeAndLowerCaseMessage() {
        let e = parse(#"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#,
                      headers: [("x-amzn-RequestId", "rid-1")])
        #expect(e.code == AWSErrorCode.resourceNotFoundException)
        #expect(e.message == "Secrets Manager can't find the specified secret.")
        #expect(e.requestID == "rid-1")
        #expect(e.statusCode == 400)
        #expect(e.operation == "secretsmanager:GetSecretValue")
        #expect(!e.isRetryable)
    }

    @Test func namespacePrefixAndURISuffixAreStripped() {
        #expect(parse(#"{"__type":"com.amazonaws.secretsmanager#InvalidRequestException","Message":"bad"}"#).code == "InvalidRequestException")
        #expect(parse(#"{"__type":"ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"}"#).code == "ThrottlingException")
        #expect(parse(#"{"__type":"aws.protocoltests.restjson#FooError:http://internal.amazon.com/"}"#).code == "FooError")
        #expect(parse(#"{"__type":"x#Bad","Message":"capital M"}"#).message == "capital M")
    }

    @Test func headerIsTheFallbackForTheCode() {
        let e = parse("{}", headers: [("X-Amzn-ErrorType", "AccessDeniedException:http://internal.amazon.com/")])
        #expect(e.code == "AccessDeniedException")
    }

    @Test func nonJSONBodyGivesAGenericRetryableCode() {
        let e = parse("<html><body>Internal Server Error</body></html>", status: 500)
        #expect(e.code == "InternalFailure")
        #expect(e.message.contains("Internal Server Error"))
        #expect(e.isRetryable)
        #expect(parse("", status: 503).code == "ServiceUnavailable")
    }

    @Test func throttlingFromJSONIsRetryable() {
        #expect(parse(#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#).isThrottling)
    }
}
