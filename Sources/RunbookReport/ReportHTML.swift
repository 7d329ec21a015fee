import Foundation
import RunbookEngine

/// The report as one self-contained HTML file: inline CSS and SVG, no script, nothing fetched, printable.
public enum ReportHTML {
    public static func render(_ report: RunReportModel, generatedAt: Int64) -> String {
        let s = report.summary
        let sections = [
            summary(report), objectives(report.objectives), timeline(report), decisions(report.decisions),
            deviations(report.deviations), resources(report.resources), audit(report.audit),
        ]
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(e("runbook report: \(s.runbook) \(s.runID)"))</title>
            <style>\(style)</style>
            </head>
            <body>
            <h1>\(e(s.runbook)) <span class="status \(statusClass(s.status))">\(e(s.status))</span></h1>
            <p class="sub">run \(e(s.runID)) · report generated \(e(ReportText.iso(generatedAt))) by runbook</p>
            \(sections.joined(separator: "\n"))
            </body>
            </html>

            """
    }

    private static func e(_ text: String) -> String { HTMLText.escape(text) }

    private static func table(_ headers: [String], _ rows: [[String]], empty: String) -> String {
        guard !rows.isEmpty else { return "<p class=\"none\">\(e(empty))</p>" }
        let head = headers.map { "<th>\(e($0))</th>" }.joined()
        let body = rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        return "<table><thead><tr>\(head)</tr></thead><tbody>\n\(body)\n</tbody></table>"
    }

    static func summary(_ report: RunReportModel) -> String {
        let s = report.summary
        var rows: [[String]] = [
            ["Runbook", e(s.runbook) + " <span class=\"mono\">(\(e(s.origin)))</span>"],
            ["Definition SHA-256", "<span class=\"mono\">\(e(s.definitionSHA256))</span>"],
            ["Started by", e(s.startedBy)],
            ["Started", e(ReportText.iso(s.startedAt))],
            ["Ended", s.finishedAt.map { e(ReportText.iso($0)) + " (" + e(ReportText.duration(milliseconds: $0 - s.startedAt)) + ")" } ?? "not finished"],
            ["Outcome", "<span class=\"status \(statusClass(s.status))\">\(e(s.status))</span>" + (s.message.map { " — " + e($0) } ?? "")],
            ["Reason", s.reason.map(e) ?? "<span class=\"none\">none given (run --reason)</span>"],
        ]
        let parameters = ReportText.parameters(s.parameters).map { "<span class=\"mono\">\(e($0.0))=\(e($0.1))</span>" }
        rows.append(["Parameters", parameters.isEmpty ? "none" : parameters.joined(separator: "<br>")])
        return "<h2>Summary</h2>\n" + "<table class=\"kv\"><tbody>" + rows.map { "<tr><th>\($0[0])</th><td>\($0[1])</td></tr>" }.joined(separator: "\n") + "</tbody></table>"
    }

    static func objectives(_ objectives: [ObjectiveResult]) -> String {
        let rows = objectives.map { o in
            [e(o.name.uppercased()), e(ReportText.seconds(o.targetSeconds)), e(ReportText.seconds(o.measuredSeconds)),
             e(o.description.isEmpty ? o.measuredBy : "\(o.description) (\(o.measuredBy))"),
             "<span class=\"verdict \(o.verdict.rawValue)\">\(e(ReportText.verdict(o.verdict)))</span>"]
        }
        return "<h2>Recovery objectives</h2>\n" + table(["Objective", "Target", "Measured", "How it was measured", "Result"], rows, empty: "The runbook declares no recovery objectives.")
    }

    static func timeline(_ report: RunReportModel) -> String {
        "<h2>Timeline</h2>\n<div class=\"chart\">\(GanttChart(timeline: report.timeline).svg)</div>"
    }

    static func decisions(_ decisions: [RunReportModel.Decision]) -> String {
        let rows = decisions.map { d in
            [e(d.stepID), "<span class=\"verdict \(d.decision == "approved" ? "met" : "missed")\">\(e(d.decision))</span>", e(ReportText.who(d)),
             d.callerARN.map { "<span class=\"mono\">\(e($0))</span>" } ?? "<span class=\"none\">no AWS identity</span>",
             e(ReportText.iso(d.at)) + (d.requestedAt.map { " (waited " + e(ReportText.duration(milliseconds: d.at - $0)) + ")" } ?? ""),
             d.comment.map(e) ?? "<span class=\"none\">no comment</span>"]
        }
        return "<h2>Approvals and declines</h2>\n" + table(["Step", "Decision", "By", "Caller ARN", "When", "Comment"], rows, empty: "No approval gate was decided in this run.")
    }

    static func deviations(_ deviations: [RunReportModel.Deviation]) -> String {
        let rows = deviations.map { d in [e(d.kind.replacingOccurrences(of: "_", with: " ")), d.at.map { e(ReportText.iso($0)) } ?? "", e(d.text)] }
        return "<h2>Deviations</h2>\n" + table(["Kind", "When", "What"], rows, empty: "None: no retry, failure, compensation, accepted risk, definition change, takeover or resume.")
    }

    static func resources(_ resources: [RunReportModel.ResourceChange]) -> String {
        let rows = resources.map { r in
            [e(r.stepID), e(r.region ?? ""), "<span class=\"mono\">\(e(r.resource))</span>", e(r.change),
             r.beforeAfter.map(e).joined(separator: "<br>"), r.undone.map(e) ?? ""]
        }
        return "<h2>Resources</h2>\n" + table(["Step", "Region", "Resource", "Change", "Before → after", "Undone by rollback"], rows, empty: "The run created, adopted, changed or deleted nothing.")
    }

    static func audit(_ audit: RunReportModel.AuditStatus) -> String {
        let chain = audit.chainIntact
            ? "<span class=\"verdict met\">intact</span>: \(audit.events) events, every hash recomputed and matched"
            : "<span class=\"verdict missed\">BROKEN</span>: \(e(audit.problem ?? "verification failed"))"
        let head = audit.headHash.map { "#\(audit.headSeq ?? 0) <span class=\"mono\">\(e($0))</span>" } ?? "none"
        let rows = [["Hash chain", chain], ["Chain head", head], ["Signature", e(audit.signature)]]
        let signatures = audit.signatures.map { s in
            ["#\(s.seq)", "#\(s.signedSeq) <span class=\"mono\">\(e(String(s.signedHash.prefix(16))))…</span>", e(s.point), e(s.status),
             e(ReportText.iso(s.signedAt)), "<span class=\"mono\">\(e(s.keyFingerprint))</span>"]
        }
        return "<h2>Audit verification</h2>\n<table class=\"kv\"><tbody>" + rows.map { "<tr><th>\($0[0])</th><td>\($0[1])</td></tr>" }.joined(separator: "\n") + "</tbody></table>"
            + (signatures.isEmpty ? "" : "\n<h3>Signatures</h3>\n" + table(["Event", "Signs event", "Where", "Run status", "Signed", "Key fingerprint"], signatures, empty: ""))
    }

    static func statusClass(_ status: String) -> String {
        switch status {
        case RunStatus.succeeded.rawValue: return "good"
        case RunStatus.failed.rawValue, RunStatus.rollbackFailed.rawValue: return "bad"
        default: return "warn"
        }
    }

    static let style = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1b1f24;max-width:1100px;margin:24px auto;padding:0 16px}
        h1{font-size:22px;margin:0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
        .sub{color:#57606a;margin:4px 0 0}.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
        table{border-collapse:collapse;width:100%}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
        thead th{background:#f6f8fa}table.kv th{width:180px;background:#f6f8fa}.none{color:#6e7781;font-style:italic}
        .status,.verdict{font-weight:600;padding:0 6px;border-radius:3px}.good,.met{background:#dafbe1;color:#116329}
        .bad,.missed{background:#ffebe9;color:#a40e26}.warn,.not_measured{background:#fff8c5;color:#7d4e00}
        .chart{border:1px solid #d0d7de;padding:6px}svg.gantt text{font:11px system-ui,Helvetica,Arial,sans-serif;fill:#1b1f24}
        svg .grid{stroke:#eaeef2}svg .tick{fill:#57606a}svg .ok{fill:#2da44e}svg .bad{fill:#cf222e}svg .open{fill:#8c959f}
        svg .comp{fill:#fb8f44}svg .wait{fill:#a5d6ff;stroke:#0969da;stroke-dasharray:3 2}svg .poll{stroke:#24292f;stroke-width:1}
        svg .target{fill:#0969da;fill-opacity:.06;stroke:#0969da;stroke-dasharray:6 3}svg .measured{stroke:#8250df;stroke-width:2}
        svg .window{fill:#0969da;font-weight:600}
        @media print{body{margin:0;max-width:none}h2{break-after:avoid}table,.chart{break-inside:avoid}}
        """
}
