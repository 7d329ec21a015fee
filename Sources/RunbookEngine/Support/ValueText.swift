import Foundation

/// Parses durations written as `500ms`, `10s`, `5m`, `1h` (also combined: `1h30m`).
public enum DurationText {
    /// The duration `text` denotes, or nil when it is not a duration.
    public static func parse(_ text: String) -> Duration? {
        let s = text.trimmingCharacters(in: .whitespaces)
        guard !s.isEmpty else { return nil }
        var total: Duration = .zero
        var index = s.startIndex
        var sawPart = false
        while index < s.endIndex {
            let numberStart = index
            while index < s.endIndex, s[index].isASCII, s[index].isNumber { index = s.index(after: index) }
            guard numberStart < index, let value = Int64(s[numberStart..<index]) else { return nil }
            let unitStart = index
            while index < s.endIndex, s[index].isLetter { index = s.index(after: index) }
            switch s[unitStart..<index] {
            case "ms": total += .milliseconds(value)
            case "s": total += .seconds(value)
            case "m": total += .seconds(value * 60)
            case "h": total += .seconds(value * 3600)
            default: return nil
            }
            sawPart = true
        }
        return sawPart ? total : nil
    }

    /// `Duration` as the shortest text `parse` reads back (`1500ms`, `10s`, `5m`).
    public static func format(_ duration: Duration) -> String {
        let ms = milliseconds(duration)
        if ms % 3_600_000 == 0, ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }

    /// Whole milliseconds in `duration`.
    public static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// `duration` in seconds, to the millisecond.
    public static func seconds(_ duration: Duration) -> Double {
        Double(milliseconds(duration)) / 1000
    }
}

/// Parses booleans the way YAML users write them.
public enum BooleanText {
    public static func parse(_ text: String) -> Bool? {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0", "": return false
        default: return nil
        }
    }
}

/// Epoch milliseconds as ISO-8601 UTC with milliseconds, `2026-12-01T20:39:35.988Z`.
public enum ISOTimestamp {
    /// Whole seconds only: the millisecond digits come from the integer, so binary floating point cannot turn
    /// `.122` into `.121`.
    private static let seconds = Date.ISO8601FormatStyle(timeZone: .gmt)

    public static func string(milliseconds ms: Int64) -> String {
        let (whole, fraction) = ms.quotientAndRemainder(dividingBy: 1000)
        let (second, millisecond) = fraction < 0 ? (whole - 1, fraction + 1000) : (whole, fraction)
        let text = seconds.format(Date(timeIntervalSince1970: Double(second)))
        let digits = String(millisecond)
        return text.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}

/// Writes text with some characters replaced: the one loop behind HTML, Graphviz and `file:` URI escaping.
public enum TextEscaping {
    /// `text` with each character that `replacements` names written as its replacement.
    public static func replacing(_ text: String, _ replacements: [Character: String]) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            if let replacement = replacements[character] { out += replacement } else { out.append(character) }
        }
        return out
    }
}
