import RunbookAWS
import RunbookEngine

/// One AWS resource a step manages: created tagged with the run, adopted (never changed, never deleted by a rollback)
/// when it exists without this run's tag, deleted on undo only when this run created it. A conforming type names one
/// resource (from the step's inputs) and says how to find, read the tags of, create and delete it, and which AWS error
/// codes mean "absent" and "already there". ``ResourceLifecycle`` does the rest.
protocol ManagedResource: Sendable {
    /// The resource as AWS describes it.
    associatedtype Found: Sendable
    /// What a create answers (`Found` unless the action reports more, e.g. the source it copied from).
    associatedtype Created: Sendable = Found

    /// The name the step gave it; undo outputs say `deleted NAME` / `kept NAME: …`.
    var name: String { get }
    /// The resource in failure messages, e.g. `DB parameter group pg1 in us-east-1`.
    var description: String { get }
    /// Error codes meaning the resource does not exist.
    static var notFoundCodes: Set<String> { get }
    /// Error codes meaning a create lost a race: the resource exists (empty where creating is idempotent).
    static var alreadyExistsCodes: Set<String> { get }

    /// Asks AWS for the resource: nil, or one of `notFoundCodes`, when it does not exist.
    func fetch() async throws -> Found?
    /// The resource's tags.
    func tags(of found: Found) async throws -> [AWSTag]
    /// Whose the resource is; by default by its `runbook:run-id` tag.
    func ownership(of found: Found, runID: String) async throws -> Ownership
    /// Creates the resource, tagged with ``AWSTags/ownership(_:name:)``.
    func create() async throws -> Created
    /// Deletes the resource; one of `notFoundCodes` (or ``ResourceVanished``) means it is already gone.
    func delete(_ found: Found) async throws
    /// How undo outputs name a found resource (default: ``name``).
    func label(of found: Found) -> String
}

extension ManagedResource {
    static var alreadyExistsCodes: Set<String> { [] }

    func ownership(of found: Found, runID: String) async throws -> Ownership {
        Ownership.of(try await AWSStep.run("tags of \(description)") { try await tags(of: found) }, runID: runID)
    }

    func label(of found: Found) -> String { name }
}

/// A step action that creates (or adopts) one ``ManagedResource``: its undo deletes the resource only if this run
/// created it.
protocol ResourceCreatingAction: StepAction {
    associatedtype Resource: ManagedResource
    /// The resource the step's inputs name.
    func resource(_ invocation: ActionInvocation) throws -> Resource
}

extension ResourceCreatingAction {
    public var hasUndo: Bool { true }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        try await ResourceLifecycle.undoIfOwned(try resource(invocation), runID: invocation.runID).outputs
    }
}

/// A step action that deletes the one ``ManagedResource`` its step's inputs name; absent is done. Adding a delete is a
/// line in ``AWSActions``: the action's name, summary and inputs, what plan calls the resource, how to delete it.
struct DeleteResourceAction<Resource: ManagedResource>: StepAction {
    let name: String
    let summary: String
    let inputs: [ActionInputSpec]
    /// What plan calls the resource: `delete NOUN NAME`, e.g. `delete IAM role r1`.
    let noun: String
    let deletion: ResourceDeletion<Resource>
    /// The resource the step's inputs name.
    let resource: @Sendable (ActionInvocation) throws -> Resource

    init(_ name: String, _ summary: String, inputs: [ActionInputSpec] = AWSStep.nameInRegionInputs, noun: String,
         deletion: ResourceDeletion<Resource> = .anyOwner, resource: @escaping @Sendable (ActionInvocation) throws -> Resource) {
        self.name = name
        self.summary = summary
        self.inputs = inputs
        self.noun = noun
        self.deletion = deletion
        self.resource = resource
    }

    func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        try await deletion.run(try resource(invocation), invocation)
    }

    func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let target = try resource(invocation)
        return try await ResourceLifecycle.planDelete(target, change: "delete \(noun) \(target.name)")
    }
}

/// How a ``DeleteResourceAction`` deletes its resource, and the step's outputs.
struct ResourceDeletion<Resource: ManagedResource>: Sendable {
    /// Deletes the resource the step names: the step's outputs.
    let run: @Sendable (Resource, ActionInvocation) async throws -> [String: String]

    /// Whoever created it: `result: deleted`, or `absent`.
    static var anyOwner: Self {
        Self { resource, _ in
            [AWSOutput.result: (try await ResourceLifecycle.deleteIfPresent(resource) == nil ? DeleteResult.absent : .deleted).rawValue]
        }
    }

    /// Whoever created it, with an `undo` output too (``DeleteResult/outputs(deleted:)``).
    static var anyOwnerWithUndo: Self {
        Self { resource, _ in DeleteResult.outputs(deleted: try await ResourceLifecycle.deleteIfPresent(resource).map { _ in resource.name }) }
    }

    /// Only when runbook created it (any run's): else `result: kept` with a `reason` naming it by its
    /// ``ManagedResource/label(of:)``; a deleted one adds `outputs` of what was deleted.
    static func runbookCreated(adding outputs: @escaping @Sendable (Resource.Found) -> [String: String] = { _ in [:] }) -> Self {
        Self { resource, _ in try await ResourceLifecycle.deleteIfRunbookCreated(resource).outputs(label: resource.label(of:), deleted: outputs) }
    }
}

/// Thrown by a delete that saw the resource disappear while it waited for it to settle.
struct ResourceVanished: Error {}

/// What ``ResourceLifecycle/createOrAdopt(_:runID:)`` made or found.
enum Adoption<Resource: ManagedResource>: Sendable {
    /// Created by this call.
    case created(Resource.Created)
    /// There already, with its owner: this run's (recovered after a crash or a race) or pre-existing (adopted).
    case found(Resource.Found, Ownership)

    var ownership: Ownership {
        switch self {
        case .created: return .thisRun
        case let .found(_, ownership): return ownership
        }
    }

    var result: CreateResult {
        switch self {
        case .created: return .created
        case let .found(_, ownership): return ownership.foundResult
        }
    }

    /// The `result` and `owned` outputs.
    var outputs: [String: String] { [AWSOutput.result: result.rawValue, AWSOutput.owned: ownership.owned] }

    /// The `result` and `owned` outputs with the action's own `more`.
    func outputs(_ more: [String: String]) -> [String: String] { outputs.merging(more) { _, new in new } }
}

extension Adoption where Resource.Created == Resource.Found {
    /// The resource, created or found.
    var resource: Resource.Found {
        switch self {
        case let .created(resource), let .found(resource, _): return resource
        }
    }
}

/// What an undo did.
enum UndoOutcome: Sendable, Equatable {
    case alreadyGone
    /// Left in place: not this run's; the label names it.
    case kept(String)
    case deleted(String)

    /// The `undo` output.
    var outputs: [String: String] {
        switch self {
        case .alreadyGone: return [AWSOutput.undo: "already gone"]
        case let .kept(label): return [AWSOutput.undo: "kept \(label): not created by this run"]
        case let .deleted(label): return [AWSOutput.undo: "deleted \(label)"]
        }
    }
}

/// The generic create-or-adopt, undo-if-owned, delete and plan of a ``ManagedResource``.
enum ResourceLifecycle {
    /// The resource, or nil when it does not exist.
    static func find<R: ManagedResource>(_ resource: R) async throws -> R.Found? {
        do {
            return try await resource.fetch()
        } catch where AWSStep.isError(error, in: R.notFoundCodes) {
            return nil
        } catch {
            throw AWSStep.failure(error, resource.description)
        }
    }

    /// Finds the resource (recovered or adopted by its tags) or creates it; a create that answers already-exists lost a
    /// race (another attempt, a crash before the outputs were saved) and adopts what it finds then.
    static func createOrAdopt<R: ManagedResource>(_ resource: R, runID: String) async throws -> Adoption<R> {
        if let existing = try await find(resource) {
            return .found(existing, try await resource.ownership(of: existing, runID: runID))
        }
        do {
            return .created(try await resource.create())
        } catch where AWSStep.isError(error, in: R.alreadyExistsCodes) {
            guard let raced = try await find(resource) else { throw AWSStep.failure(error, resource.description) }
            return .found(raced, try await resource.ownership(of: raced, runID: runID))
        } catch {
            throw AWSStep.failure(error, resource.description)
        }
    }

    /// Deletes the resource if it carries this run's tag; absent is done, anything else is kept.
    static func undoIfOwned<R: ManagedResource>(_ resource: R, runID: String) async throws -> UndoOutcome {
        guard let found = try await find(resource) else { return .alreadyGone }
        guard try await resource.ownership(of: found, runID: runID) == .thisRun else { return .kept(resource.label(of: found)) }
        return try await delete(resource, found) ? .deleted(resource.label(of: found)) : .alreadyGone
    }

    /// Deletes the resource if it exists, whoever made it: the found resource, or nil when it was absent.
    static func deleteIfPresent<R: ManagedResource>(_ resource: R) async throws -> R.Found? {
        guard let found = try await find(resource) else { return nil }
        return try await delete(resource, found) ? found : nil
    }

    /// Deletes the resource if it carries runbook's tag (any run's): what the explicit delete actions remove.
    static func deleteIfRunbookCreated<R: ManagedResource>(_ resource: R) async throws -> RunbookDeletion<R.Found> {
        guard let found = try await find(resource) else { return .absent }
        let tags = try await AWSStep.run("tags of \(resource.description)") { try await resource.tags(of: found) }
        guard AWSTags.isRunbookCreated(tags) else { return .kept(found) }
        return try await delete(resource, found) ? .deleted(found) : .absent
    }

    /// Deletes a found resource: true when deleted, false when it was gone by then.
    static func delete<R: ManagedResource>(_ resource: R, _ found: R.Found) async throws -> Bool {
        do {
            try await resource.delete(found)
            return true
        } catch is ResourceVanished {
            return false
        } catch where AWSStep.isError(error, in: R.notFoundCodes) {
            return false
        } catch {
            throw AWSStep.failure(error, resource.description)
        }
    }

    /// The plan of a create-or-adopt step: create when absent, else adopt (`adopt` describes what exists).
    static func plan<R: ManagedResource>(_ resource: R, create: String, adopt: (R.Found) -> String) async throws -> ActionPlan {
        guard let found = try await find(resource) else { return ActionPlan(.create, create) }
        return ActionPlan(.adopt, adopt(found))
    }

    /// The plan of a delete step: nothing when absent, else `change`.
    static func planDelete<R: ManagedResource>(_ resource: R, change: String) async throws -> ActionPlan {
        try await find(resource) == nil ? ActionPlan(.nothing, "\(resource.name) is absent") : ActionPlan(.change, change)
    }
}

/// What ``ResourceLifecycle/deleteIfRunbookCreated(_:)`` did.
enum RunbookDeletion<Found: Sendable>: Sendable {
    case absent
    /// Left in place: it has no runbook tag.
    case kept(Found)
    case deleted(Found)

    /// The `result` output; a kept resource's `reason` names it by `label`; a deleted one adds `deleted`'s outputs.
    func outputs(label: (Found) -> String, deleted: (Found) -> [String: String] = { _ in [:] }) -> [String: String] {
        switch self {
        case .absent: return [AWSOutput.result: DeleteResult.absent.rawValue]
        case let .kept(found): return [AWSOutput.result: DeleteResult.kept.rawValue, "reason": "\(label(found)) was not created by runbook"]
        case let .deleted(found): return deleted(found).merging([AWSOutput.result: DeleteResult.deleted.rawValue]) { _, new in new }
        }
    }
}
