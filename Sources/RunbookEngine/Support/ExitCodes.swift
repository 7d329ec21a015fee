/// The documented exit codes (README, "Exit codes").
public enum ExitCodes {
    public static let succeeded: Int32 = 0
    public static let failed: Int32 = 1
    public static let usage: Int32 = 2
    public static let awaitingApproval: Int32 = 3
    public static let leaseHeld: Int32 = 4
    public static let interrupted: Int32 = 5
    /// The run completed, but a step marked `on_failure: continue` did not succeed; `resume` retries it.
    public static let completedWithExceptions: Int32 = 6
}

/// An error that ends the `runbook` process with one of `ExitCodes`, saying why in one or two plain sentences.
public protocol ExitCoded: Error {
    var exitCode: Int32 { get }
    /// What the process says as it exits: on standard output when `exitCode` is 0 (help), else on standard
    /// error; nil when there is nothing to add.
    var exitMessage: String? { get }
}

extension EngineError: ExitCoded {
    public var exitCode: Int32 {
        switch code {
        case .leaseHeld: return ExitCodes.leaseHeld
        case .missingSecret, .wrongSecret: return ExitCodes.usage
        case .runNotFound, .notAllowed, .definition, .tampered: return ExitCodes.failed
        }
    }

    public var exitMessage: String? { message }
}

extension RunStoreError: ExitCoded {
    /// A database that cannot be used as it is (damaged, read-only, full) is exit 2; the rest is a failure.
    public var exitCode: Int32 { code == .storage ? ExitCodes.usage : ExitCodes.failed }

    public var exitMessage: String? { message }
}
