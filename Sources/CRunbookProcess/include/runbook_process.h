#ifndef RUNBOOK_PROCESS_H
#define RUNBOOK_PROCESS_H

#include <sys/types.h>

/// A command started under a small supervisor process that leads the command's process group.
///
/// The supervisor holds the read end of a control pipe whose write end only the driver holds. One byte on
/// it lets the command run; end of file (the driver closed it, or the driver died, even by SIGKILL) makes
/// the supervisor kill the whole group, itself included. When the command exits, the supervisor exits with
/// its code, or 128 + N when signal N killed it.
typedef struct {
    /// The supervisor's pid: the process group id of the command and of everything it starts.
    pid_t pid;
    /// The control pipe's write end (close-on-exec).
    int control;
} runbook_child;

/// Fork the supervisor: it makes itself a process-group leader, takes /dev/null as stdin, truncates and
/// opens `stdout_path` and `stderr_path` (mode 0600) as stdout and stderr, changes to `directory`, closes
/// every other descriptor, and waits for `runbook_child_release` before it runs `path` with `argv` and
/// `envp` (default signal dispositions, nothing blocked). Returns 0, or an errno value when the supervisor
/// could not be started or set up (it has then exited and been reaped; nothing ran).
int runbook_child_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                        const char *stdout_path, const char *stderr_path, runbook_child *child);

/// Let the command run. Returns 0 or an errno value.
int runbook_child_release(runbook_child *child);

/// Close the control pipe: before release the supervisor exits without running anything; after it, the
/// supervisor kills the group unless the command has already exited.
void runbook_child_close(runbook_child *child);

#endif
