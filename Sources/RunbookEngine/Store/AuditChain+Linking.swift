extension AuditChain {
    /// `events` as the next links of a run's chain after `head` (nil when the run has none yet): sequence
    /// numbers and hashes assigned by the one rule every store follows.
    public static func linking(_ events: [NewEvent], runID: String, after head: ChainHead?) -> [AuditEvent] {
        var previous = head?.hash ?? genesis
        var seq = (head?.seq ?? 0) + 1
        var linked: [AuditEvent] = []
        linked.reserveCapacity(events.count)
        for event in events {
            let hash = hash(previous: previous, canonical: canonicalContent(
                seq: seq, runID: runID, stepID: event.stepID, attempt: event.attempt, kind: event.kind.rawValue,
                detail: event.detail, at: event.at, actor: event.actor, state: event.state))
            linked.append(AuditEvent(seq: seq, runID: runID, stepID: event.stepID, attempt: event.attempt, kind: event.kind.rawValue,
                                     detail: event.detail, at: event.at, actor: event.actor, state: event.state,
                                     previousHash: previous, hash: hash))
            previous = hash
            seq += 1
        }
        return linked
    }
}
