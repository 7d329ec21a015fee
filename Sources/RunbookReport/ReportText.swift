import Foundation
import RunbookEngine

/// Formatting shared by the HTML and Markdown reports.
enum ReportText {
    static func iso(_ ms: Int64) -> String { ISOTimestamp.string(milliseconds: ms) }

    /// `4.6 s`, `2 min 5 s`, `1 h 3 min`.
    static func duration(milliseconds ms: Int64) -> String {
        let ms = max(0, ms)
        if ms < 1000 { return "\(ms) ms" }
        if ms < 60_000 { return String(format: "%.1f s", Double(ms) / 1000) }
        let s = ms / 1000
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        return "\(s / 3600) h \((s % 3600) / 60) min"
    }

    static func seconds(_ value: Double?) -> String {
        value.map { ObjectiveResult.seconds($0) } ?? "—"
    }

    static func verdict(_ verdict: ObjectiveResult.Verdict) -> String {
        switch verdict {
        case .met: return "met"
        case .missed: return "MISSED"
        case .notMeasured: return "not measured"
        }
    }

    /// `alice@host-a` plus the caller ARN when there is one.
    static func who(_ decision: RunReportModel.Decision) -> String {
        "\(decision.by)@\(decision.host)" + (decision.via.map { " (\($0))" } ?? "")
    }

    /// The parameters as `name=value`, sorted (secrets are already `***`).
    static func parameters(_ parameters: [String: String]) -> [(String, String)] {
        parameters.keys.sorted().map { ($0, parameters[$0] ?? "") }
    }
}

/// Escapes text for HTML element content and attribute values.
enum HTMLText {
    static func escape(_ text: String) -> String {
        TextEscaping.replacing(text, ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"])
    }
}

/// Escapes text for a Markdown table cell.
enum MarkdownText {
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
            .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "<", with: "&lt;")
    }
}
