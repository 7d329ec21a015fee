import RunbookEngine

/// The AWS step actions.
public enum AWSActions {
    public static var all: [any StepAction] { [] }
}
