import Foundation
import RunbookEngine

/// The report as Markdown: the same content as the HTML, the timeline as a table instead of a picture.
public enum ReportMarkdown {
    public static func render(_ report: RunReportModel, generatedAt: Int64) -> String {
        let s = report.summary
        var lines = ["# \(s.runbook): \(s.status)", "", "run `\(s.runID)` · report generated \(ReportText.iso(generatedAt)) by runbook", ""]
        lines += summary(s)
        lines += section("Recovery objectives", ["Objective", "Target", "Measured", "How it was measured", "Result"], report.objectives.map { o in
            [o.name.uppercased(), ReportText.seconds(o.targetSeconds), ReportText.seconds(o.measuredSeconds),
             o.description.isEmpty ? o.measuredBy : "\(o.description) (\(o.measuredBy))", ReportText.verdict(o.verdict)]
        }, empty: "The runbook declares no recovery objectives.")
        lines += section("Timeline", ["Step", "Span", "Start", "Duration", "Outcome", "Polls"], timelineRows(report.timeline), empty: "No step started.")
        lines += section("Approvals and declines", ["Step", "Decision", "By", "Caller ARN", "When", "Comment"], report.decisions.map { d in
            [d.stepID, d.decision, ReportText.who(d), d.callerARN ?? "no AWS identity",
             ReportText.iso(d.at) + (d.requestedAt.map { " (waited \(ReportText.duration(milliseconds: d.at - $0)))" } ?? ""), d.comment ?? "no comment"]
        }, empty: "No approval gate was decided in this run.")
        lines += section("Deviations", ["Kind", "When", "What"], report.deviations.map { d in
            [d.kind.replacingOccurrences(of: "_", with: " "), d.at.map(ReportText.iso) ?? "", d.text]
        }, empty: "None: no retry, failure, compensation, accepted risk, definition change, takeover or resume.")
        lines += section("Resources", ["Step", "Region", "Resource", "Change", "Before → after", "Undone by rollback"], report.resources.map { r in
            [r.stepID, r.region ?? "", r.resource, r.change, r.beforeAfter.joined(separator: "; "), r.undone ?? ""]
        }, empty: "The run created, adopted, changed or deleted nothing.")
        lines += audit(report.audit)
        return lines.joined(separator: "\n") + "\n"
    }

    private static func summary(_ s: RunReportModel.Summary) -> [String] {
        let ended = s.finishedAt.map { "\(ReportText.iso($0)) (\(ReportText.duration(milliseconds: $0 - s.startedAt)))" } ?? "not finished"
        var rows = [
            ["Runbook", "\(s.runbook) (\(s.origin))"], ["Definition SHA-256", "`\(s.definitionSHA256)`"], ["Started by", s.startedBy],
            ["Started", ReportText.iso(s.startedAt)], ["Ended", ended],
            ["Outcome", s.status + (s.message.map { " — \($0)" } ?? "")], ["Reason", s.reason ?? "none given (run --reason)"],
        ]
        let parameters = ReportText.parameters(s.parameters).map { "`\($0.0)=\($0.1)`" }
        rows.append(["Parameters", parameters.isEmpty ? "none" : parameters.joined(separator: " ")])
        return section("Summary", ["", ""], rows, empty: "")
    }

    private static func timelineRows(_ timeline: RunReportModel.Timeline) -> [[String]] {
        timeline.rows.flatMap { row in
            row.spans.sorted { $0.start < $1.start }.map { span in
                let kind = span.kind == .attempt ? "attempt \(span.attempt ?? 1)" : span.kind == .compensation ? "compensation" : "approval wait"
                let polls = span.kind == .attempt ? row.polls.filter { $0 >= span.start && $0 <= span.end }.count : 0
                return [row.stepID, kind, "+" + ReportText.duration(milliseconds: span.start - timeline.start),
                        ReportText.duration(milliseconds: span.end - span.start), span.outcome, polls == 0 ? "" : String(polls)]
            }
        }
    }

    private static func audit(_ audit: RunReportModel.AuditStatus) -> [String] {
        let chain = audit.chainIntact ? "intact: \(audit.events) events, every hash recomputed and matched" : "BROKEN: \(audit.problem ?? "verification failed")"
        let head = audit.headHash.map { "#\(audit.headSeq ?? 0) `\($0)`" } ?? "none"
        let signatures = audit.signatures.map { s in
            ["#\(s.seq)", "#\(s.signedSeq) `\(s.signedHash.prefix(16))…`", s.point, s.status, ReportText.iso(s.signedAt), s.keyFingerprint]
        }
        return section("Audit verification", ["", ""], [["Hash chain", chain], ["Chain head", head], ["Signature", audit.signature]], empty: "")
            + (signatures.isEmpty ? [] : section("Signatures", ["Event", "Signs event", "Where", "Run status", "Signed", "Key fingerprint"], signatures, empty: ""))
    }

    private static func section(_ title: String, _ headers: [String], _ rows: [[String]], empty: String) -> [String] {
        var lines = ["## \(title)", ""]
        if rows.isEmpty { return lines + ["_\(empty)_", ""] }
        lines.append("| " + headers.map(MarkdownText.cell).joined(separator: " | ") + " |")
        lines.append("|" + headers.map { _ in " --- |" }.joined())
        lines += rows.map { "| " + $0.map(MarkdownText.cell).joined(separator: " | ") + " |" }
        return lines + [""]
    }
}
