import Foundation

/// A recovery objective a runbook declares (`objectives: rto: { target: 5m, measured: report.recovery_seconds }`):
/// a target duration, possibly from a parameter, and the step output (in seconds) that measures it.
public struct RecoveryObjective: Sendable, Equatable {
    /// The objective's name as written (`rto`, `rpo`, …).
    public var name: String
    /// The target as written: a duration or a `${{ params.X }}` template of one.
    public var target: String
    /// The step whose output measures the objective.
    public var measuredStep: String
    /// The output of `measuredStep`, a number of seconds.
    public var measuredOutput: String
    /// How the measurement is taken, in words, for the report.
    public var description = ""
    /// The step whose start begins the measured interval (`from:`), where the report's timeline marks the window.
    public var fromStep: String?
    public var location: SourceLocation

    /// `STEP.OUTPUT`, as the file writes it.
    public var measuredBy: String { "\(measuredStep).\(measuredOutput)" }

    /// The target for a run with these parameters, or nil when it does not render to a duration.
    public func targetDuration(parameters: [String: String]) -> Duration? {
        guard let text = try? Template.render(target, TemplateContext(params: parameters)) else { return nil }
        return DurationText.parse(text)
    }

    /// What the run measured and whether the target was met, from the steps' outputs so far.
    public func evaluate(parameters: [String: String], outputs: [String: [String: String]]) -> ObjectiveResult {
        let target = targetDuration(parameters: parameters).map(DurationText.seconds)
        let raw = outputs[measuredStep]?[measuredOutput]
        let measured = raw.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        let verdict: ObjectiveResult.Verdict
        switch (target, measured) {
        case let (target?, measured?): verdict = measured <= target ? .met : .missed
        default: verdict = .notMeasured
        }
        return ObjectiveResult(name: name, targetSeconds: target, measuredSeconds: measured, measuredBy: measuredBy,
                               description: description, verdict: verdict)
    }
}

extension RunbookDefinition {
    /// Each objective judged from stored step records: only steps that stand (succeeded, skipped, or failed but
    /// tolerated by `on_failure: continue`) count, as when the run recorded them.
    public func objectiveResults(parameters: [String: String], steps: [StepRecord]) -> [ObjectiveResult] {
        var outputs: [String: [String: String]] = [:]
        for record in steps {
            let tolerated = record.status == .failed && step(record.stepID)?.continueOnFailure == true
            if record.status == .succeeded || record.status == .skipped || tolerated { outputs[record.stepID] = record.outputs }
        }
        return objectives.map { $0.evaluate(parameters: parameters, outputs: outputs) }
    }
}

/// One objective's outcome in a run: the target, the measurement and the verdict.
public struct ObjectiveResult: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable {
        case met, missed
        /// The measuring step did not run or gave no number (e.g. the run failed before it).
        case notMeasured = "not_measured"
    }

    public var name: String
    public var targetSeconds: Double?
    public var measuredSeconds: Double?
    /// `STEP.OUTPUT` that measured it.
    public var measuredBy: String
    public var description: String
    public var verdict: Verdict

    /// `rto met (4.6 s of 5m)`: the verdict in a few words, for `runs`, `history` and the summary.
    public var summary: String {
        let measured = measuredSeconds.map { ObjectiveResult.seconds($0) } ?? "no measurement"
        let target = targetSeconds.map { ObjectiveResult.seconds($0) } ?? "no target"
        switch verdict {
        case .met: return "\(name) met (\(measured), target \(target))"
        case .missed: return "\(name) MISSED (\(measured), target \(target))"
        case .notMeasured: return "\(name) not measured (target \(target))"
        }
    }

    /// Seconds as `4.6 s`, `0 s`, `300 s`.
    public static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int64(value)) s" : String(format: "%.3g s", value)
    }
}

extension ObjectiveResult {
    /// The results as the detail of an `objectives_evaluated` event: `NAME.target_seconds`, `NAME.measured_seconds`,
    /// `NAME.measured_by`, `NAME.result`, and `order` (the names, comma-separated, as declared).
    public static func eventDetail(_ results: [ObjectiveResult]) -> [String: String] {
        var detail = ["order": results.map(\.name).joined(separator: ",")]
        for result in results {
            detail["\(result.name).measured_by"] = result.measuredBy
            detail["\(result.name).result"] = result.verdict.rawValue
            if let target = result.targetSeconds { detail["\(result.name).target_seconds"] = number(target) }
            if let measured = result.measuredSeconds { detail["\(result.name).measured_seconds"] = number(measured) }
            if !result.description.isEmpty { detail["\(result.name).description"] = result.description }
        }
        return detail
    }

    /// The results an `objectives_evaluated` event's detail records (inverse of `eventDetail`).
    public static func fromEventDetail(_ detail: [String: String]) -> [ObjectiveResult] {
        let names = (detail["order"] ?? "").split(separator: ",").map(String.init)
        return names.map { name in
            ObjectiveResult(
                name: name, targetSeconds: detail["\(name).target_seconds"].flatMap(Double.init),
                measuredSeconds: detail["\(name).measured_seconds"].flatMap(Double.init),
                measuredBy: detail["\(name).measured_by"] ?? "", description: detail["\(name).description"] ?? "",
                verdict: detail["\(name).result"].flatMap(Verdict.init(rawValue:)) ?? .notMeasured)
        }
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
