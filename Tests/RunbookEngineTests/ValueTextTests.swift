import Foundation
import RunbookEngine
import Testing

/// Timestamps in `--json`, history, audit exports and reports; reference strings from Python's `datetime`
/// (`datetime(1970,1,1,tzinfo=utc) + timedelta(milliseconds=ms)`).
@Suite struct ISOTimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (999, "1970-01-01T00:00:00.999Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (951_868_799_999, "2000-02-29T23:59:59.999Z"),
        (1_796_000_002_122, "2026-11-30T00:53:22.122Z"),
        (1_796_000_000_001, "2026-11-30T00:53:20.001Z"),
        (4_102_444_800_000, "2100-01-01T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ])
    func millisecondsAreWrittenExactly(ms: Int64, expected: String) {
        #expect(ISOTimestamp.string(milliseconds: ms) == expected)
    }
}

/// Hashed text in the audit chain writes strings as JSON literals: it must stay byte-for-byte what it was, or
/// stored histories stop verifying. Reference: Python's `json.dumps(s, ensure_ascii=False)`.
@Suite struct AuditJSONStringTests {
    @Test func controlCharactersAreEscapedAsJSONDoes() {
        #expect(AuditChain.jsonString("\u{0}\u{1}\u{1F}\"\\\n\r\tok é") == #""\u0000\u0001\u001f\"\\\n\r\tok é""#)
    }
}

@Suite struct RunIDTests {
    /// The time part is UTC (Python: `datetime.fromtimestamp(1796000002.122, timezone.utc)` is 2026-11-30 00:53:22).
    @Test func aRunIDIsItsUTCStartSecondAndSixHexDigits() {
        let id = RunEngine.newRunID(now: Date(timeIntervalSince1970: 1_796_000_002.122))
        #expect(id.hasPrefix("20261130-005322-"))
        let random = id.dropFirst("20261130-005322-".count)
        #expect(random.count == 6 && random.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(RunEngine.newRunID(now: Date(timeIntervalSince1970: 1_796_000_002.122)) != id)
    }
}

@Suite struct TextEscapingTests {
    /// Each named character is replaced wherever it stands, everything else (multi-scalar characters too) is kept.
    @Test func namedCharactersAreReplacedAndTheRestKept() {
        let html: [Character: String] = ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"]
        // Python: html.escape('<a href="x">R&D\'s</a> é 👩‍👩‍👧', quote=True), with &#x27; written as &#39;.
        #expect(TextEscaping.replacing(#"<a href="x">R&D's</a> é 👩‍👩‍👧"#, html)
                == "&lt;a href=&quot;x&quot;&gt;R&amp;D&#39;s&lt;/a&gt; é 👩‍👩‍👧")
        #expect(TextEscaping.replacing("", html) == "")
        #expect(TextEscaping.replacing("/tmp/a%b?c#d", ["%": "%25", "?": "%3f", "#": "%23"]) == "/tmp/a%25b%3fc%23d")
    }
}
