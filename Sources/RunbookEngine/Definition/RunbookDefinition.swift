/// A parsed, validated runbook: a DAG of steps with typed parameters.
///
/// Values are immutable and `Sendable`; the executor never re-parses a definition while it runs.
public struct RunbookDefinition: Sendable, Equatable {
    /// The runbook's name; equals the file name without `.yaml`.
    public var name: String
    public var description: String
    /// Parameters in the order the file declares them.
    public var parameters: [ParameterSpec]
    public var defaults: StepDefaults
    /// Steps in the order the file declares them.
    public var steps: [StepDefinition]
    /// Recovery objectives in the order the file declares them.
    public var objectives: [RecoveryObjective]
    /// The exact YAML text the definition was parsed from (stored with every run).
    public var source: String
    /// Lower-case hex SHA-256 of `source`.
    public var sourceHash: String
    /// Where the definition came from (a file path, or a label such as `run 3f2a…` for a stored definition).
    public var origin: String

    public init(
        name: String, description: String, parameters: [ParameterSpec], defaults: StepDefaults,
        steps: [StepDefinition], objectives: [RecoveryObjective] = [], source: String, sourceHash: String, origin: String
    ) {
        self.objectives = objectives
        self.name = name
        self.description = description
        self.parameters = parameters
        self.defaults = defaults
        self.steps = steps
        self.source = source
        self.sourceHash = sourceHash
        self.origin = origin
    }

    /// The step with `id`, if any.
    public func step(_ id: String) -> StepDefinition? { steps.first { $0.id == id } }

    /// The parameter named `name`, if any.
    public func parameter(_ name: String) -> ParameterSpec? { parameters.first { $0.name == name } }
}

/// A position in a source file (1-based line and column).
public struct SourceLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public var description: String { "\(file):\(line):\(column)" }
}

/// The type of a runbook parameter.
public enum ParameterType: String, Sendable, Equatable, CaseIterable {
    case string, int, duration, bool
}

/// A declared runbook parameter.
public struct ParameterSpec: Sendable, Equatable {
    public var name: String
    public var type: ParameterType
    public var required = false
    /// A secret is never stored, logged or printed in clear.
    public var secret = false
    /// The default, as written in the file (already checked against `type`).
    public var defaultValue: String?
    public var description = ""
    public var location: SourceLocation
}

/// How a failed attempt is retried.
public struct RetryPolicy: Sendable, Equatable {
    public enum Backoff: String, Sendable, Equatable { case exponential, constant }

    /// Total attempts including the first (1 = no retry).
    public var maxAttempts: Int
    public var backoff: Backoff
    public var initialInterval: Duration
    public var maxInterval: Duration
    /// Full jitter on the computed delay (the AWS SDKs' habit) unless turned off.
    public var jitter: Bool

    public init(
        maxAttempts: Int = 1, backoff: Backoff = .exponential, initialInterval: Duration = .seconds(1),
        maxInterval: Duration = .seconds(30), jitter: Bool = true
    ) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.initialInterval = initialInterval
        self.maxInterval = maxInterval
        self.jitter = jitter
    }

    /// No retries.
    public static let once = RetryPolicy(maxAttempts: 1)
}

/// Settings that apply to every step unless the step overrides them.
public struct StepDefaults: Sendable, Equatable {
    public var retry: RetryPolicy
    public var timeout: Duration?

    public init(retry: RetryPolicy = .once, timeout: Duration? = nil) {
        self.retry = retry
        self.timeout = timeout
    }
}

/// A value in a step's `with:` map: a (possibly templated) scalar, a list or a map.
///
/// Scalars are kept as the text the file wrote (`3`, `true`, `10s`); actions interpret them.
public indirect enum InputValue: Sendable, Equatable, Hashable {
    case scalar(String)
    case list([InputValue])
    case map([String: InputValue])

    /// The scalar text, or nil for lists and maps.
    public var scalar: String? {
        if case .scalar(let s) = self { return s }
        return nil
    }
}

/// A step's action invocation: the action name and its inputs.
public struct ActionCall: Sendable, Equatable {
    public var action: String
    public var inputs: [String: InputValue]
    public var location: SourceLocation

    public init(action: String, inputs: [String: InputValue], location: SourceLocation) {
        self.action = action
        self.inputs = inputs
        self.location = location
    }
}

/// A condition on one output of a waiter's poll.
public struct OutputMatcher: Sendable, Equatable {
    /// The output key the condition reads.
    public var output: String
    /// The values that satisfy the condition (`equals: x` is `[x]`).
    public var values: [String]

    public init(output: String, values: [String]) {
        self.output = output
        self.values = values
    }

    /// True when `outputs[output]` is one of `values`.
    public func matches(_ outputs: [String: String]) -> Bool {
        guard let value = outputs[output] else { return false }
        return values.contains(value)
    }
}

/// A waiter: after the action succeeds, poll `call` until `until` matches (or `failIf` does, or time runs out).
public struct WaiterDefinition: Sendable, Equatable {
    public var call: ActionCall
    public var until: OutputMatcher
    public var failIf: OutputMatcher?
    public var interval: Duration
    public var timeout: Duration
    /// `interval: "${{ params.X }}"`: rendered when the waiter starts (then `interval` is only the default).
    public var intervalTemplate: String?
    /// `timeout: "${{ params.X }}"`: rendered when the waiter starts.
    public var timeoutTemplate: String?

    /// The interval and timeout for a run with these parameters (templates rendered and parsed).
    public func durations(parameters: [String: String]) throws -> (interval: Duration, timeout: Duration) {
        func resolve(_ template: String?, _ fallback: Duration, _ key: String) throws -> Duration {
            guard let template else { return fallback }
            let text = try Template.render(template, TemplateContext(params: parameters))
            guard let value = DurationText.parse(text) else {
                throw ActionFailure("waiter \(key) '\(template)' rendered '\(text)', which is not a duration", retryable: false)
            }
            return value
        }
        return (try resolve(intervalTemplate, interval, "interval"), try resolve(timeoutTemplate, timeout, "timeout"))
    }
}

/// One step of a runbook.
public struct StepDefinition: Sendable, Equatable {
    public var id: String
    public var description: String
    /// Direct dependencies (DAG edges), in file order.
    public var needs: [String]
    /// Skip the step when this template renders falsy (`false`, `0`, `no`, empty).
    public var when: String?
    public var call: ActionCall
    /// The effective retry policy (the step's, over the runbook defaults).
    public var retry: RetryPolicy
    /// The effective per-attempt timeout (the step's, else the runbook default).
    public var timeout: Duration?
    public var wait: WaiterDefinition?
    /// The explicit undo; when nil the action's own undo (if it has one) is used.
    public var compensate: ActionCall?
    /// The retry policy for the compensation: `compensate.retry` over the step's effective `retry`.
    public var compensateRetry: RetryPolicy
    /// A pivot: once it has succeeded, a later failure does not roll back past it.
    public var irreversible: Bool
    /// A manual gate before the step runs.
    public var approvalRequired: Bool
    /// `on_failure: continue`: when the step fails for good, its dependents still run (with the failure's
    /// outputs) and the run ends `completed_with_exceptions` instead of rolling back.
    public var continueOnFailure: Bool = false
    public var location: SourceLocation

    public init(
        id: String, description: String = "", needs: [String] = [], when: String? = nil, call: ActionCall,
        retry: RetryPolicy = .once, timeout: Duration? = nil, wait: WaiterDefinition? = nil,
        compensate: ActionCall? = nil, irreversible: Bool = false, approvalRequired: Bool = false,
        location: SourceLocation, compensateRetry: RetryPolicy? = nil
    ) {
        self.id = id
        self.description = description
        self.needs = needs
        self.when = when
        self.call = call
        self.retry = retry
        self.timeout = timeout
        self.wait = wait
        self.compensate = compensate
        self.compensateRetry = compensateRetry ?? retry
        self.irreversible = irreversible
        self.approvalRequired = approvalRequired
        self.location = location
    }
}
