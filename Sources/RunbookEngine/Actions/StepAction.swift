import Foundation

/// What an action accepts in a step's `with:` map; used by `runbook validate`.
public struct ActionInputSpec: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable { case scalar, list, map, any }

    public var name: String
    public var required: Bool
    public var kind: Kind
    /// Refuse `${{ }}` in this input (shell's `run`: values reach commands through the environment).
    public var literalOnly: Bool
    public var description: String

    public init(_ name: String, required: Bool = false, kind: Kind = .scalar, literalOnly: Bool = false, description: String = "") {
        self.name = name
        self.required = required
        self.kind = kind
        self.literalOnly = literalOnly
        self.description = description
    }
}

/// Why an action is being invoked.
public enum InvocationPurpose: String, Sendable, Equatable {
    case action, poll, compensation, plan
}

/// Everything an action gets for one invocation. Inputs are already rendered (templates resolved).
public struct ActionInvocation: Sendable {
    public var runID: String
    public var runbook: String
    public var stepID: String
    /// 1-based attempt number of this invocation (poll number for `.poll`).
    public var attempt: Int
    public var purpose: InvocationPurpose
    public var inputs: [String: InputValue]
    /// Every run parameter by name, secrets included (for environment variables only; never log them).
    public var parameters: [String: String]
    /// Names of the parameters marked `secret`.
    public var secretParameterNames: Set<String>
    /// The directory shell commands run in.
    public var workingDirectory: String
    /// Outputs of the step's own action (for waiters and compensations); empty for the action itself.
    public var stepOutputs: [String: String]
    /// Makes the record of a process group this invocation started durable (a `process_started` event,
    /// committed under the run's lease) before the process may run, so that a driver taking the run over
    /// can stop it. Nil when nothing records (plans, tests). Throws when the record could not be made;
    /// the process must then not run.
    public var recordProcess: (@Sendable (StepProcess) async throws -> Void)?
    /// The run's clock: what an action reads the time from and waits on.
    public var clock: any RunClock

    public init(
        runID: String, runbook: String, stepID: String, attempt: Int, purpose: InvocationPurpose,
        inputs: [String: InputValue], parameters: [String: String], secretParameterNames: Set<String>,
        workingDirectory: String, stepOutputs: [String: String] = [:],
        recordProcess: (@Sendable (StepProcess) async throws -> Void)? = nil, clock: any RunClock = SystemClock()
    ) {
        self.runID = runID
        self.runbook = runbook
        self.stepID = stepID
        self.attempt = attempt
        self.purpose = purpose
        self.inputs = inputs
        self.parameters = parameters
        self.secretParameterNames = secretParameterNames
        self.workingDirectory = workingDirectory
        self.stepOutputs = stepOutputs
        self.recordProcess = recordProcess
        self.clock = clock
    }

    /// The scalar input `name`, or nil when absent.
    public func string(_ name: String) -> String? { inputs[name]?.scalar }

    /// The scalar input `name`, or a non-retryable failure naming it when absent.
    public func requiredString(_ name: String) throws -> String {
        guard let value = string(name), !value.isEmpty else {
            throw ActionFailure("input '\(name)' is required", retryable: false)
        }
        return value
    }

    /// The integer input `name`, nil when absent, a failure when not an integer.
    public func int(_ name: String) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ActionFailure("input '\(name)' must be an integer, got '\(text)'", retryable: false)
        }
        return value
    }

    /// The boolean input `name`, nil when absent.
    public func bool(_ name: String) throws -> Bool? {
        guard let text = string(name) else { return nil }
        guard let value = BooleanText.parse(text) else {
            throw ActionFailure("input '\(name)' must be true or false, got '\(text)'", retryable: false)
        }
        return value
    }

    /// The duration input `name` (`500ms`, `10s`, `5m`, `1h`), nil when absent.
    public func duration(_ name: String) throws -> Duration? {
        guard let text = string(name) else { return nil }
        guard let value = DurationText.parse(text) else {
            throw ActionFailure("input '\(name)' must be a duration such as 500ms, 10s, 5m or 1h, got '\(text)'", retryable: false)
        }
        return value
    }

    /// The map input `name` flattened to strings (nested values are not allowed), empty when absent.
    public func stringMap(_ name: String) throws -> [String: String] {
        guard let value = inputs[name] else { return [:] }
        guard case .map(let map) = value else {
            throw ActionFailure("input '\(name)' must be a map", retryable: false)
        }
        var result: [String: String] = [:]
        for (key, item) in map {
            guard let scalar = item.scalar else {
                throw ActionFailure("input '\(name).\(key)' must be a single value", retryable: false)
            }
            result[key] = scalar
        }
        return result
    }

    /// The list input `name` as strings (a single scalar is a one-element list), empty when absent.
    public func stringList(_ name: String) throws -> [String] {
        guard let value = inputs[name] else { return [] }
        switch value {
        case .scalar(let s): return [s]
        case .list(let items):
            return try items.map {
                guard let s = $0.scalar else { throw ActionFailure("input '\(name)' must be a list of values", retryable: false) }
                return s
            }
        case .map: throw ActionFailure("input '\(name)' must be a list", retryable: false)
        }
    }
}

/// The error an action throws when an attempt fails. Retryable failures are retried by the step's policy.
public struct ActionFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var retryable: Bool
    /// Outputs known at the time of failure (e.g. `exit_code`), recorded with the failed attempt.
    public var outputs: [String: String]

    public init(_ message: String, retryable: Bool = true, outputs: [String: String] = [:]) {
        self.message = message
        self.retryable = retryable
        self.outputs = outputs
    }

    public var description: String { message }
}

/// What `runbook plan` reports an action would do, without doing it.
public struct ActionPlan: Sendable, Equatable {
    public enum Effect: String, Sendable, Equatable { case create, adopt, change, nothing, unknown }
    public var effect: Effect
    public var detail: String

    public init(_ effect: Effect, _ detail: String = "") {
        self.effect = effect
        self.detail = detail
    }
}

/// An action whose `perform` only reads: `runbook plan` runs it so that the steps after it are planned with its
/// outputs (e.g. where a deployment's writer is today).
public protocol ReadOnlyAction: StepAction {}

/// A step action. Actions are registered by name in an `ActionRegistry`; the engine knows only this protocol.
///
/// `perform` must be idempotent: after a crash the engine runs a started-but-unfinished step again.
public protocol StepAction: Sendable {
    /// The name runbooks use in `action:`.
    var name: String { get }
    /// One line for `runbook list`/docs.
    var summary: String { get }
    /// The inputs the action accepts; unknown keys and missing required ones are validation errors.
    var inputs: [ActionInputSpec] { get }
    /// Do the work; return the step's outputs.
    func perform(_ invocation: ActionInvocation) async throws -> [String: String]
    /// True when `undo` knows how to reverse `perform` (used when a step has no explicit `compensate:`).
    var hasUndo: Bool { get }
    /// Reverse what `perform` did, given its outputs in `invocation.stepOutputs`. Must be idempotent.
    func undo(_ invocation: ActionInvocation) async throws -> [String: String]
    /// Say what `perform` would do against the current state, changing nothing.
    func plan(_ invocation: ActionInvocation) async throws -> ActionPlan
    /// True for gate actions: a step using it waits for approval as if it had `approval: required`.
    var isApprovalGate: Bool { get }
    /// True for actions that only compute outputs from their inputs in memory and never suspend, block or
    /// reach outside the process (`pass`, `fail`): the driver performs them where it runs, without a task and
    /// two thread hand-offs. Anything doing I/O (AWS, shell, databases, sleeping) leaves it false.
    var computesInMemory: Bool { get }
}

extension StepAction {
    public var hasUndo: Bool { false }
    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] { [:] }
    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.unknown, "this action cannot be planned") }
    public var isApprovalGate: Bool { false }
    public var computesInMemory: Bool { false }
}

/// Actions by name.
public struct ActionRegistry: Sendable {
    private var actions: [String: any StepAction] = [:]

    public init(_ actions: [any StepAction] = []) {
        for action in actions { register(action) }
    }

    /// Add (or replace) an action.
    public mutating func register(_ action: any StepAction) {
        actions[action.name] = action
    }

    /// The action named `name`, if registered.
    public func action(named name: String) -> (any StepAction)? { actions[name] }

    /// All registered action names, sorted.
    public var names: [String] { actions.keys.sorted() }
}
