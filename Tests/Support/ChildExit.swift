import Foundation

/// Waiting for a child process without trusting only Foundation's notice of its exit.
///
/// swift-corelibs-foundation learns that a child exited from SIGCHLD; with many children starting and exiting at
/// once (the suites run in parallel) it was seen missing one: the child stayed a zombie, `isRunning` stayed true
/// and `waitUntilExit()` never returned, hanging the whole test run. So this also asks the kernel, with
/// `waitid(WNOWAIT)`, which reads an exited child's status without reaping it (Foundation may still do that).
public enum ChildExit {
    /// Block this thread until `process` has exited; its exit status, or the signal that ended it. Read the
    /// status from here, not from `process.terminationStatus`, which traps while Foundation still thinks the
    /// child runs.
    public static func wait(_ process: Process) -> Int32 {
        let pid = process.processIdentifier
        while true {
            if !process.isRunning { return process.terminationStatus }
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info._sifields._sigchld.si_pid == pid {
                // Exited. Give Foundation a moment to notice too (its SIGCHLD handler usually runs within
                // milliseconds), so that `isRunning` agrees afterwards in the common case.
                for _ in 0..<100 where process.isRunning { usleep(10_000) }
                return process.isRunning ? info._sifields._sigchld.si_status : process.terminationStatus
            }
            usleep(20_000)
        }
    }
}
