import Foundation
import RunbookEngine

/// Writing to the terminal: plain lines when piped, colour and a live view on a TTY.
///
/// A failed write (a pipe whose reader went away, a terminal that hung up) drops the text and never stops
/// the process; SIGPIPE is ignored for the whole process. A closed standard output is reported to
/// `outputClosedHandler`, once per handler.
enum Terminal {
    static let isInteractive = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    static let lock = NSLock()
    private static let handlerLock = NSLock()
    nonisolated(unsafe) private static var onOutputClosed: (@Sendable () -> Void)?

    static func error(_ message: String) {
        write("runbook: \(message)\n", to: STDERR_FILENO)
    }

    static func warning(_ message: String) {
        write("runbook: note: \(message)\n", to: STDERR_FILENO)
    }

    static func out(_ line: String) {
        lock.withLock { write(line + "\n", to: STDOUT_FILENO) }
    }

    /// What to do when standard output turns out to be closed (set while a run is driven; nil to clear).
    static func setOutputClosedHandler(_ handler: (@Sendable () -> Void)?) {
        handlerLock.withLock { onOutputClosed = handler }
    }

    /// Write all of `text` to `fd`, retrying short and interrupted writes; give up silently on any error.
    static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written > 0 {
                bytes = bytes.dropFirst(written)
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                if written < 0 && errno == EPIPE && fd == STDOUT_FILENO { outputClosed() }
                return
            }
        }
    }

    private static func outputClosed() {
        let handler = handlerLock.withLock {
            defer { onOutputClosed = nil }
            return onOutputClosed
        }
        handler?()
    }

    static func color(_ text: String, _ code: String) -> String {
        isInteractive ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}

/// Times as ISO-8601 UTC with milliseconds.
enum Timestamp {
    static func iso(_ ms: Int64) -> String { ISOTimestamp.string(milliseconds: ms) }

    static func duration(from start: Int64, to end: Int64?) -> String {
        guard let end else { return "-" }
        let ms = max(0, end - start)
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1000) }
        let s = ms / 1000
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m"
    }
}

/// One line describing an event, for progress and history.
enum EventText {
    static func describe(kind: String, step: String?, attempt: Int?, detail: [String: String]) -> String {
        let subject = step.map { "step \($0)" } ?? "run"
        let attemptText = attempt.map { " (attempt \($0))" } ?? ""
        switch kind {
        case EventKind.runCreated.rawValue:
            return "run created: \(detail["runbook"] ?? "") by \(detail["started_by"] ?? "?") (definition sha256 \(String((detail["definition_hash"] ?? "").prefix(12))))"
        case EventKind.runResumed.rawValue: return "run taken up (\(detail["action"] ?? "resume"); was \(detail["status_before"] ?? "?"))"
        case EventKind.leaseTaken.rawValue:
            if let previous = detail["previous_holder"] { return "lease taken over from \(previous)" }
            return "lease taken"
        case EventKind.runStatus.rawValue:
            if detail["retry_forward"] != nil { return "\(subject): reset to retry forward" }
            return "run is \(detail["status"] ?? "?")"
        case EventKind.runFinished.rawValue:
            return "run finished: \(detail["status"] ?? "?")" + (detail["message"].map { ": \($0)" } ?? "")
        case EventKind.objectivesEvaluated.rawValue:
            return "objectives: " + ObjectiveResult.fromEventDetail(detail).map(\.summary).joined(separator: "; ")
        case EventKind.stepStarted.rawValue:
            return "\(subject) started (\(detail["action"] ?? ""))" + ((attempt ?? 1) > 1 ? ", attempt \(attempt ?? 0)" : "")
        case EventKind.attemptStarted.rawValue: return "\(subject) attempt \(attempt ?? 0) started" + (detail["resumed"] != nil ? " (resumed)" : "")
        case EventKind.attemptFailed.rawValue:
            return "\(subject) attempt \(attempt ?? 0) failed: \(detail["error"] ?? "")" + (detail["retry_in"].map { "; retrying in \($0)" } ?? "")
        case EventKind.attemptSucceeded.rawValue: return "\(subject) attempt \(attempt ?? 0) succeeded"
        case EventKind.waiterStarted.rawValue: return "\(subject) waiting until \(detail["until"] ?? "") (timeout \(detail["timeout"] ?? ""))"
        case EventKind.waiterPoll.rawValue: return "\(subject) poll \(attempt ?? 0): \(detail["state"] ?? "") → \(detail["result"] ?? "")"
        case EventKind.stepSucceeded.rawValue: return "\(subject) succeeded" + ((attempt ?? 1) > 1 ? " on attempt \(attempt ?? 0)" : "")
        case EventKind.stepFailed.rawValue: return "\(subject) failed: \(detail["error"] ?? "")"
        case EventKind.stepSkipped.rawValue: return "\(subject) skipped (when: \(detail["when"] ?? ""))"
        case EventKind.approvalRequested.rawValue: return "\(subject) awaits approval"
        case EventKind.stepApproved.rawValue: return "\(subject) approved by \(decider(detail))" + (detail["via"].map { " (\($0))" } ?? "") + said(detail)
        case EventKind.stepDeclined.rawValue: return "\(subject) declined by \(decider(detail))" + said(detail)
        case EventKind.rollbackStarted.rawValue: return "rollback started: \(detail["reason"] ?? "")"
        case EventKind.compensationStarted.rawValue: return "\(subject) compensation\(attemptText) started"
        case EventKind.compensationFailed.rawValue:
            return "\(subject) compensation\(attemptText) failed: \(detail["error"] ?? "")" + (detail["retry_in"].map { "; retrying in \($0)" } ?? "")
        case EventKind.compensationSucceeded.rawValue: return "\(subject) compensated"
        case EventKind.compensationNotNeeded.rawValue: return "\(subject): nothing to undo"
        case EventKind.cancelRequested.rawValue: return "cancel requested by \(detail["by"] ?? "?")"
        case EventKind.stepState.rawValue: return "\(subject) is \(detail["status"] ?? "?")"
        case EventKind.processStarted.rawValue: return "\(subject)\(attemptText) started process group \(detail["process_group"] ?? "?")"
        case EventKind.processStopped.rawValue:
            return "\(subject)\(attemptText): killed process group \(detail["process_group"] ?? "?") (pids \(detail["pids"] ?? "?")), \(detail["reason"] ?? "left running")"
        case EventKind.chainSigned.rawValue:
            return "history signed up to event #\(detail["signed_seq"] ?? "?") (\(detail["point"] == "approval" ? "approval" : detail["status"] ?? "?")) by key \(detail["key_fingerprint"] ?? "?")"
        default: return "\(subject) \(kind)"
        }
    }
}

/// Prints progress: one line per durable transition, or a live table on a terminal.
final class ProgressPrinter: @unchecked Sendable {
    private let lock = NSLock()
    private let live: Bool
    private var order: [String] = []
    private var states: [String: (status: String, note: String)] = [:]
    private var drawnLines = 0
    private var lastLine = ""
    let quiet: Bool

    init(stepIDs: [String], quiet: Bool) {
        self.quiet = quiet
        live = Terminal.isInteractive && !quiet && stepIDs.count <= 60
        order = stepIDs
        for id in stepIDs { states[id] = ("pending", "") }
    }

    /// What the engine calls after each commit; nil when quiet.
    var handler: (@Sendable (ProgressEvent) -> Void)? { quiet ? nil : handle }

    func handle(_ event: ProgressEvent) {
        // Process records are for the history and for taking a run over, not for following it live.
        guard !quiet, event.kind != .processStarted else { return }
        let text = EventText.describe(kind: event.kind.rawValue, step: event.stepID, attempt: event.attempt, detail: event.detail)
        lock.lock()
        defer { lock.unlock() }
        if !live {
            Terminal.out("\(Timestamp.iso(event.at))  \(text)")
            return
        }
        if let step = event.stepID {
            let status: String?
            switch event.kind {
            case .stepStarted, .attemptStarted: status = "running"
            case .waiterStarted, .waiterPoll: status = "waiting"
            case .stepSucceeded: status = "succeeded"
            case .stepFailed: status = "failed"
            case .stepSkipped: status = "skipped"
            case .approvalRequested: status = "awaiting approval"
            case .compensationStarted: status = "compensating"
            case .compensationSucceeded, .compensationNotNeeded: status = "compensated"
            case .compensationFailed: status = event.detail["final"] == nil ? "compensating" : "compensation_failed"
            default: status = nil
            }
            if let status { states[step] = (status, text) }
        }
        lastLine = text
        redraw()
    }

    private func symbol(_ status: String) -> String {
        switch status {
        case "succeeded": return Terminal.color("✓", "32")
        case "failed", "compensation_failed": return Terminal.color("✗", "31")
        case "running", "waiting", "compensating": return Terminal.color("…", "33")
        case "compensated": return Terminal.color("↺", "36")
        case "awaiting approval": return Terminal.color("?", "35")
        case "skipped": return Terminal.color("-", "90")
        default: return " "
        }
    }

    static var columns: Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 100
    }

    private func redraw() {
        var lines: [String] = []
        let width = order.map(\.count).max() ?? 10
        for id in order {
            let state = states[id] ?? ("pending", "")
            var line = " \(symbol(state.status)) \(id.padding(toLength: width, withPad: " ", startingAt: 0))  \(state.status.padding(toLength: 19, withPad: " ", startingAt: 0))"
            if !state.note.isEmpty, state.status != "succeeded" {
                let room = max(10, Self.columns - width - 26)
                let note = state.note.count > room ? String(state.note.prefix(room - 1)) + "…" : state.note
                line += " " + Terminal.color(note, "90")
            }
            lines.append(line)
        }
        let room = max(10, Self.columns - 4)
        lines.append(Terminal.color("   " + (lastLine.count > room ? String(lastLine.prefix(room - 1)) + "…" : lastLine), "90"))
        var out = ""
        if drawnLines > 0 { out += "\u{1B}[\(drawnLines)A" }
        for line in lines { out += "\u{1B}[2K" + line + "\n" }
        drawnLines = lines.count
        Terminal.write(out, to: STDOUT_FILENO)
    }
}

/// `user@host` and, when known, the AWS caller of an approval or decline.
private func decider(_ detail: [String: String]) -> String {
    let who = (detail["by"] ?? "?") + (detail["host"].map { "@\($0)" } ?? "")
    return who + (detail["caller_arn"].map { " (\($0))" } ?? "")
}

/// The approver's comment, quoted, if any.
private func said(_ detail: [String: String]) -> String {
    detail["comment"].map { ": \"\($0)\"" } ?? ""
}
