import Foundation
import RunbookEngine

/// `runbook report --history`: one row per DR test or failover (a run of a runbook that declares recovery
/// objectives) in a period, with its outcome and each objective met or missed.
public struct HistoryReportModel: Sendable, Codable, Equatable {
    public var since: Int64
    public var until: Int64
    public var runbook: String?
    public var rows: [Row]

    public struct Row: Sendable, Codable, Equatable {
        public var runID: String
        public var runbook: String
        public var startedAt: Int64
        public var finishedAt: Int64?
        public var status: String
        public var reason: String?
        public var startedBy: String
        public var objectives: [ObjectiveResult]

        public init(runID: String, runbook: String, startedAt: Int64, finishedAt: Int64?, status: String, reason: String?,
                    startedBy: String, objectives: [ObjectiveResult]) {
            self.runID = runID
            self.runbook = runbook
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.status = status
            self.reason = reason
            self.startedBy = startedBy
            self.objectives = objectives
        }
    }

    public init(since: Int64, until: Int64, runbook: String?, rows: [Row]) {
        self.since = since
        self.until = until
        self.runbook = runbook
        self.rows = rows
    }
}

public enum HistoryReport {
    static func objectivesText(_ objectives: [ObjectiveResult]) -> String {
        objectives.isEmpty ? "not finished" : objectives.map { "\($0.name.uppercased()) \(ReportText.verdict($0.verdict)) (\(ReportText.seconds($0.measuredSeconds)) of \(ReportText.seconds($0.targetSeconds)))" }.joined(separator: "; ")
    }

    static func title(_ model: HistoryReportModel) -> String {
        "DR test history \(ReportText.iso(model.since).prefix(10)) to \(ReportText.iso(model.until).prefix(10))" + (model.runbook.map { " (runbook \($0))" } ?? "")
    }

    static func cells(_ row: HistoryReportModel.Row) -> [String] {
        [String(ReportText.iso(row.startedAt).prefix(19)).replacingOccurrences(of: "T", with: " "), row.runbook, row.status,
         objectivesText(row.objectives), row.reason ?? "", row.startedBy, row.runID]
    }

    static let headers = ["Date (UTC)", "Runbook", "Outcome", "Objectives", "Reason", "Started by", "Run"]

    public static func markdown(_ model: HistoryReportModel) -> String {
        var lines = ["# \(title(model))", ""]
        if model.rows.isEmpty { return (lines + ["_No run of a runbook with recovery objectives in this period._", ""]).joined(separator: "\n") }
        lines.append("| " + headers.joined(separator: " | ") + " |")
        lines.append("|" + headers.map { _ in " --- |" }.joined())
        lines += model.rows.map { "| " + cells($0).map(MarkdownText.cell).joined(separator: " | ") + " |" }
        let missed = model.rows.filter { $0.objectives.contains { $0.verdict == .missed } }.count
        lines += ["", "\(model.rows.count) runs; \(missed) missed an objective; \(model.rows.filter { $0.status != RunStatus.succeeded.rawValue }.count) did not succeed.", ""]
        return lines.joined(separator: "\n")
    }

    public static func html(_ model: HistoryReportModel, generatedAt: Int64) -> String {
        let body = model.rows.map { row -> String in
            let cells = cells(row).enumerated().map { i, text -> String in
                if i == 2 { return "<span class=\"status \(ReportHTML.statusClass(text))\">\(HTMLText.escape(text))</span>" }
                if i == 3 && row.objectives.contains(where: { $0.verdict == .missed }) { return "<span class=\"verdict missed\">\(HTMLText.escape(text))</span>" }
                return HTMLText.escape(text)
            }
            return "<tr>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>"
        }.joined(separator: "\n")
        let table = model.rows.isEmpty ? "<p class=\"none\">No run of a runbook with recovery objectives in this period.</p>"
            : "<table><thead><tr>" + headers.map { "<th>\($0)</th>" }.joined() + "</tr></thead><tbody>\n\(body)\n</tbody></table>"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head><meta charset="utf-8"><title>\(HTMLText.escape(title(model)))</title><style>\(ReportHTML.style)</style></head>
            <body>
            <h1>\(HTMLText.escape(title(model)))</h1>
            <p class="sub">report generated \(ReportText.iso(generatedAt)) by runbook · \(model.rows.count) runs</p>
            \(table)
            </body>
            </html>

            """
    }
}

/// The JSON form of both reports: the model, snake_case keys, sorted.
public enum ReportJSON {
    public static func render<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
