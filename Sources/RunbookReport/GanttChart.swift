import Foundation

/// The timeline as an inline SVG Gantt chart: one row per step, a bar per attempt (coloured by outcome),
/// compensations and approval waits in their own colours, a tick per waiter poll, and each objective's window
/// (target dashed, measurement solid). Hover titles carry the exact times; nothing is loaded from outside.
struct GanttChart {
    let timeline: RunReportModel.Timeline
    let width = 1040.0
    let labelWidth = 190.0
    let rowHeight = 22.0
    let top = 34.0

    var plotWidth: Double { width - labelWidth - 16 }
    /// The span the chart covers: the run, widened to show every measured window (a target that ends later is
    /// drawn to the edge and labelled with its end).
    var range: (start: Int64, end: Int64) {
        let measuredEnds = timeline.windows.map { $0.start + Int64(($0.measuredSeconds ?? 0) * 1000) }
        let end = max(timeline.end, measuredEnds.max() ?? 0, timeline.start + 1)
        return (timeline.start, end)
    }

    func x(_ ms: Int64) -> Double {
        let (start, end) = range
        return labelWidth + Double(ms - start) / Double(end - start) * plotWidth
    }

    var svg: String {
        let height = top + Double(timeline.rows.count) * rowHeight + 40
        var parts = ["<svg class=\"gantt\" viewBox=\"0 0 \(f(width)) \(f(height))\" width=\"100%\" role=\"img\" aria-label=\"timeline of the run's steps\">"]
        parts.append(axis(height: height))
        for (i, row) in timeline.rows.enumerated() { parts.append(self.row(row, y: top + Double(i) * rowHeight)) }
        for window in timeline.windows { parts.append(self.window(window, height: height)) }
        parts.append(legend(y: height - 14))
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    private func axis(height: Double) -> String {
        let (start, end) = range
        var parts: [String] = []
        for i in 0...5 {
            let t = start + (end - start) * Int64(i) / 5
            let px = x(t)
            parts.append("<line class=\"grid\" x1=\"\(f(px))\" y1=\"\(f(top - 6))\" x2=\"\(f(px))\" y2=\"\(f(height - 30))\"/>")
            parts.append("<text class=\"tick\" x=\"\(f(px))\" y=\"\(f(top - 12))\" text-anchor=\"\(i == 5 ? "end" : "middle")\">+\(HTMLText.escape(ReportText.duration(milliseconds: t - start)))</text>")
        }
        return parts.joined(separator: "\n")
    }

    private func row(_ row: RunReportModel.Row, y: Double) -> String {
        var parts = ["<text class=\"step\" x=\"\(f(labelWidth - 8))\" y=\"\(f(y + 15))\" text-anchor=\"end\">\(HTMLText.escape(row.stepID))<title>\(HTMLText.escape(row.stepID + ": " + row.status + (row.description.isEmpty ? "" : " — " + row.description)))</title></text>"]
        for span in row.spans {
            let x0 = x(span.start), x1 = max(x(span.end), x0 + 2)
            let inset = span.kind == .attempt ? 4.0 : span.kind == .compensation ? 7.0 : 2.0
            let what = span.kind == .approvalWait ? "approval wait" : span.kind == .compensation ? "compensation" : "attempt \(span.attempt ?? 1)"
            let title = "\(row.stepID) \(what): \(span.outcome), \(ReportText.iso(span.start)) – \(ReportText.iso(span.end)) (\(ReportText.duration(milliseconds: span.end - span.start)))"
            parts.append("<rect class=\"\(cssClass(span))\" x=\"\(f(x0))\" y=\"\(f(y + inset))\" width=\"\(f(x1 - x0))\" height=\"\(f(rowHeight - 2 * inset))\" rx=\"2\"><title>\(HTMLText.escape(title))</title></rect>")
        }
        for poll in row.polls {
            let px = x(poll)
            parts.append("<line class=\"poll\" x1=\"\(f(px))\" y1=\"\(f(y + 2))\" x2=\"\(f(px))\" y2=\"\(f(y + rowHeight - 2))\"><title>poll at \(ReportText.iso(poll))</title></line>")
        }
        return parts.joined(separator: "\n")
    }

    private func window(_ window: RunReportModel.Window, height: Double) -> String {
        let x0 = x(window.start)
        var parts: [String] = []
        let name = HTMLText.escape(window.objective.uppercased())
        if let target = window.targetSeconds {
            let targetEnd = window.start + Int64(target * 1000)
            let x1 = min(x(targetEnd), labelWidth + plotWidth)
            let label = targetEnd > range.end ? "\(name) target ends at +\(HTMLText.escape(ReportText.duration(milliseconds: targetEnd - range.start))) →" : "\(name) target"
            parts.append("<rect class=\"target\" x=\"\(f(x0))\" y=\"\(f(top - 4))\" width=\"\(f(max(x1 - x0, 1)))\" height=\"\(f(height - top - 26))\"><title>\(name) target: \(HTMLText.escape(ReportText.seconds(target))) from \(HTMLText.escape(ReportText.iso(window.start)))</title></rect>")
            parts.append("<text class=\"window\" x=\"\(f(x1 - 3))\" y=\"\(f(height - 32))\" text-anchor=\"end\">\(label)</text>")
        }
        if let measured = window.measuredSeconds {
            let x1 = x(window.start + Int64(measured * 1000))
            parts.append("<line class=\"measured\" x1=\"\(f(x1))\" y1=\"\(f(top - 4))\" x2=\"\(f(x1))\" y2=\"\(f(height - 30))\"><title>\(name) measured: \(HTMLText.escape(ReportText.seconds(measured)))</title></line>")
            let nearEdge = x1 > labelWidth + plotWidth * 0.8
            parts.append("<text class=\"window\" x=\"\(f(nearEdge ? x1 - 3 : x1 + 3))\" y=\"\(f(top + 10))\" text-anchor=\"\(nearEdge ? "end" : "start")\">\(name) measured \(HTMLText.escape(ReportText.seconds(measured)))</text>")
        }
        return parts.joined(separator: "\n")
    }

    private func legend(y: Double) -> String {
        let items = [("ok", "attempt succeeded"), ("bad", "attempt failed"), ("open", "unfinished"), ("comp", "compensation"), ("wait", "approval wait")]
        var parts: [String] = []
        var px = labelWidth
        for (css, label) in items {
            parts.append("<rect class=\"\(css)\" x=\"\(f(px))\" y=\"\(f(y - 9))\" width=\"14\" height=\"10\"/><text class=\"tick\" x=\"\(f(px + 18))\" y=\"\(f(y))\">\(label)</text>")
            px += 30 + Double(label.count) * 6.2
        }
        parts.append("<line class=\"poll\" x1=\"\(f(px))\" y1=\"\(f(y - 10))\" x2=\"\(f(px))\" y2=\"\(f(y + 1))\"/><text class=\"tick\" x=\"\(f(px + 6))\" y=\"\(f(y))\">waiter poll</text>")
        return parts.joined(separator: "\n")
    }

    private func cssClass(_ span: RunReportModel.Span) -> String {
        switch span.kind {
        case .approvalWait: return "wait"
        case .compensation: return span.outcome == "failed" ? "bad" : "comp"
        case .attempt:
            switch span.outcome {
            case "succeeded": return "ok"
            case "failed": return "bad"
            default: return "open"
            }
        }
    }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }
}
