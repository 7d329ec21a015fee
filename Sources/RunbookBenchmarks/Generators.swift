import Foundation

/// Generated runbooks for the benchmark cases. Every step is a `pass` step, so what is measured is the
/// engine (scheduling, templating, checkpointing), not an action.
public enum RunbookGenerator {
    /// `count` steps, each needing the previous one (a strictly sequential chain).
    /// With `gateLast`, the last step has `approval: required`, so a run stops `awaiting_approval` there.
    public static func chain(name: String, count: Int, gateLast: Bool = false) -> String {
        var out = "name: \(name)\ndescription: generated sequential chain of \(count) pass steps\nsteps:\n"
        out.reserveCapacity(count * 80)
        for i in 1...count {
            out += "  - id: s\(i)\n    action: pass\n    with: { n: \"\(i)\" }\n"
            if i > 1 { out += "    needs: [s\(i - 1)]\n" }
            if gateLast && i == count { out += "    approval: required\n" }
        }
        return out
    }

    /// `count` independent root steps (a fan-out limited only by the run's parallelism).
    public static func fanOut(name: String, count: Int) -> String {
        var out = "name: \(name)\ndescription: generated fan-out of \(count) independent pass steps\nsteps:\n"
        out.reserveCapacity(count * 50)
        for i in 1...count {
            out += "  - id: s\(i)\n    action: pass\n    with: { n: \"\(i)\" }\n"
        }
        return out
    }

    /// One `pass` step whose waiter polls `bench-poll` with zero interval until the `polls`-th poll.
    public static func poller(name: String, polls: Int) -> String {
        """
        name: \(name)
        description: one waiter polling \(polls) times with zero interval
        steps:
          - id: wait
            action: pass
            with: { started: "yes" }
            wait:
              action: \(PollUntilAction.actionName)
              with: { polls: "\(polls)" }
              until: { output: state, equals: done }
              interval: 0ms
              timeout: 24h

        """
    }

    /// A realistic large runbook for validation: a mix of roots, `needs` edges (chains and joins),
    /// templates referring to earlier steps' outputs, retries, timeouts and waiters.
    public static func large(name: String, count: Int) -> String {
        var out = """
        name: \(name)
        description: generated runbook of \(count) steps for validation
        parameters:
          region: { type: string, default: us-east-1 }
          lag: { type: duration, default: 5m }
        defaults:
          retry: { max_attempts: 3, backoff: exponential, initial_interval: 1s, max_interval: 30s }
          timeout: 10m
        steps:

        """
        out.reserveCapacity(count * 200)
        for i in 1...count {
            out += "  - id: step-\(i)\n    description: generated step \(i)\n    action: pass\n"
            if i > 1 && i % 10 != 1 {
                // Chains of ten; every tenth step joins the previous chain's last two steps.
                if i % 10 == 0 && i > 10 {
                    out += "    needs: [step-\(i - 1), step-\(i - 10)]\n"
                } else {
                    out += "    needs: [step-\(i - 1)]\n"
                }
                out += "    with:\n      region: \"${{ params.region }}\"\n      prev: \"${{ steps.step-\(i - 1).outputs.id }}\"\n      id: \"\(i)\"\n"
            } else {
                out += "    with:\n      region: \"${{ params.region }}\"\n      id: \"\(i)\"\n"
            }
            if i % 50 == 0 {
                out += "    retry: { max_attempts: 5 }\n    timeout: 30s\n"
                out += "    wait:\n      action: pass\n      with: { state: ready, of: \"${{ outputs.id }}\" }\n      until: { output: state, equals: ready }\n      interval: 1s\n      timeout: 1m\n"
            }
        }
        return out
    }
}
