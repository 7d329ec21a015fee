import Foundation
import RunbookEngine

/// Everything `runbook report` says about one run, built from the stored run, steps and events alone; the JSON
/// format is this value encoded, and the HTML and Markdown renderings show exactly its content.
public struct RunReportModel: Sendable, Codable, Equatable {
    public var summary: Summary
    public var objectives: [ObjectiveResult]
    public var timeline: Timeline
    public var decisions: [Decision]
    public var deviations: [Deviation]
    public var resources: [ResourceChange]
    public var audit: AuditStatus

    public struct Summary: Sendable, Codable, Equatable {
        public var runID: String
        public var runbook: String
        public var definitionSHA256: String
        public var origin: String
        /// As stored: secret values are `***`.
        public var parameters: [String: String]
        public var reason: String?
        public var startedBy: String
        public var startedAt: Int64
        public var finishedAt: Int64?
        public var status: String
        public var message: String?
    }

    /// The steps over time, for the Gantt chart: times are wall-clock milliseconds since 1970.
    public struct Timeline: Sendable, Codable, Equatable {
        public var start: Int64
        public var end: Int64
        public var rows: [Row]
        /// The objective windows to mark (e.g. the RTO from the step that starts the measured interval).
        public var windows: [Window]
    }

    public struct Row: Sendable, Codable, Equatable {
        public var stepID: String
        public var description: String
        public var status: String
        public var spans: [Span]
        /// Waiter polls: when each was recorded.
        public var polls: [Int64]
    }

    public struct Span: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable { case attempt, compensation, approvalWait = "approval_wait" }
        public var kind: Kind
        public var start: Int64
        public var end: Int64
        public var attempt: Int?
        /// `succeeded`, `failed`, `running`…
        public var outcome: String
    }

    public struct Window: Sendable, Codable, Equatable {
        public var objective: String
        public var start: Int64
        public var targetSeconds: Double?
        public var measuredSeconds: Double?
    }

    /// An approval or decline of a gate.
    public struct Decision: Sendable, Codable, Equatable {
        public var stepID: String
        /// `approved` or `declined`.
        public var decision: String
        public var by: String
        public var host: String
        public var callerARN: String?
        /// `--yes` when the run was started with it.
        public var via: String?
        public var comment: String?
        public var requestedAt: Int64?
        public var at: Int64
    }

    /// Something that did not go as the runbook's happy path: a retry, a failure, a compensation, a risk accepted.
    public struct Deviation: Sendable, Codable, Equatable {
        public var kind: String
        public var stepID: String?
        public var at: Int64?
        public var text: String
    }

    /// A resource a step created, adopted, changed or deleted.
    public struct ResourceChange: Sendable, Codable, Equatable {
        public var stepID: String
        public var action: String
        public var region: String?
        public var resource: String
        /// `created`, `adopted`, `recovered`, `deleted`, `promoted`…, as the action reported it.
        public var change: String
        /// `key: before → after` for what the action replaced.
        public var beforeAfter: [String]
        /// What the rollback did with it (`deleted …`, `kept …`), when it was undone.
        public var undone: String?
    }

    public struct AuditStatus: Sendable, Codable, Equatable {
        /// True when the hash chain and the stored state agree.
        public var chainIntact: Bool
        /// What failed verification, in a sentence.
        public var problem: String?
        public var events: Int
        public var headSeq: Int64?
        public var headHash: String?
        /// The signatures' state, in a sentence (e.g. "not signed: the chain is only self-consistent").
        public var signature: String
        /// Every signature event in the history (checked or not), oldest first.
        public var signatures: [ChainSignature]

        public init(chainIntact: Bool, problem: String?, events: Int, headSeq: Int64?, headHash: String?, signature: String,
                    signatures: [ChainSignature] = []) {
            self.signatures = signatures
            self.chainIntact = chainIntact
            self.problem = problem
            self.events = events
            self.headSeq = headSeq
            self.headHash = headHash
            self.signature = signature
        }
    }
}
