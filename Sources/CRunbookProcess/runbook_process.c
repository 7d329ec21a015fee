// Starts shell steps under a supervisor that leads their process group and kills the group when the driver
// dies. Between fork and exec only async-signal-safe calls are made: the driver is multithreaded.
#define _GNU_SOURCE
#include "runbook_process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/// Where the supervisor keeps its own descriptors once everything else is closed.
enum { CONTROL_FD = 3, REPORT_FD = 4, SIGCHLD_FD = 5, FIRST_FREE_FD = 6 };

static ssize_t read_retrying(int fd, void *buffer, size_t size) {
    ssize_t n;
    do { n = read(fd, buffer, size); } while (n < 0 && errno == EINTR);
    return n;
}

static ssize_t write_retrying(int fd, const void *buffer, size_t size) {
    ssize_t n;
    do { n = write(fd, buffer, size); } while (n < 0 && errno == EINTR);
    return n;
}

static pid_t wait_retrying(pid_t pid, int *status, int options) {
    pid_t r;
    do { r = waitpid(pid, status, options); } while (r < 0 && errno == EINTR);
    return r;
}

/// Close every descriptor from `first` on: close_range where the kernel has it, else what /proc lists.
static void close_from(int first) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
#endif
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        for (int fd = first; fd < 65536; fd++) close(fd);
        return;
    }
    // getdents64 straight from the kernel: opendir/readdir may allocate, which is unsafe after fork.
    char buffer[4096] __attribute__((aligned(8)));
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buffer, sizeof buffer);
        if (n <= 0) break;
        for (long offset = 0; offset < n;) {
            struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *entry = (void *)(buffer + offset);
            int fd = 0;
            const char *c = entry->name;
            if (*c >= '0' && *c <= '9') {
                for (; *c >= '0' && *c <= '9'; c++) fd = fd * 10 + (*c - '0');
                if (fd >= first && fd != dir) close(fd);
            }
            offset += entry->reclen;
        }
    }
    close(dir);
}

/// Open `path` onto descriptor `target`. Returns 0 or errno.
static int redirect(const char *path, int flags, int target) {
    int fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd < 0) return errno;
    if (fd == target) return fcntl(fd, F_SETFD, 0) == 0 ? 0 : errno;
    int error = dup2(fd, target) < 0 ? errno : 0;
    close(fd);
    return error;
}

/// A close-on-exec copy of `fd` above the supervisor's fixed descriptors, so that moving the three onto
/// them cannot overwrite one still needed.
static int move_high(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 16); }

/// The command, in the supervisor's group: default signal handling, nothing blocked, then exec.
static void run_command(const char *path, char *const argv[], char *const envp[]) {
    struct sigaction defaults = { .sa_handler = SIG_DFL };
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &defaults, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
    _exit(127);
}

/// The supervisor: set up, report, wait for release, run the command, and either pass on its exit status
/// or, when the control pipe reaches end of file first, kill the group.
static void supervise(int control, int report, const char *path, char *const argv[], char *const envp[],
                      const char *directory, const char *stdout_path, const char *stderr_path) {
    setpgid(0, 0);
    // Only the command's end or the driver's can stop the supervisor (SIGKILL aside).
    struct sigaction ignore = { .sa_handler = SIG_IGN };
    const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2 };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) sigaction(ignored[i], &ignore, NULL);
    struct sigaction defaults = { .sa_handler = SIG_DFL };
    sigaction(SIGCHLD, &defaults, NULL);
    sigset_t child_signal;
    sigemptyset(&child_signal);
    sigaddset(&child_signal, SIGCHLD);
    sigprocmask(SIG_SETMASK, &child_signal, NULL);

    int error = 0;
    int signals = signalfd(-1, &child_signal, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signals < 0) error = errno;
    int kept_control = move_high(control), kept_report = move_high(report), kept_signals = move_high(signals);
    if (kept_report < 0) _exit(127);
    if (!error && (kept_control < 0 || kept_signals < 0)) error = errno;
    dup3(kept_control, CONTROL_FD, O_CLOEXEC);
    dup3(kept_report, REPORT_FD, O_CLOEXEC);
    dup3(kept_signals, SIGCHLD_FD, O_CLOEXEC);
    close_from(FIRST_FREE_FD);
    if (!error) error = redirect("/dev/null", O_RDONLY, 0);
    if (!error) error = redirect(stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 1);
    if (!error) error = redirect(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 2);
    if (!error && chdir(directory) != 0) error = errno;
    write_retrying(REPORT_FD, &error, sizeof error);
    close(REPORT_FD);
    if (error) _exit(127);

    char go;
    if (read_retrying(CONTROL_FD, &go, 1) != 1) _exit(0);
    pid_t command = fork();
    if (command < 0) _exit(126);
    if (command == 0) run_command(path, argv, envp);

    struct pollfd watched[2] = { { .fd = CONTROL_FD, .events = POLLIN }, { .fd = SIGCHLD_FD, .events = POLLIN } };
    for (;;) {
        int status;
        pid_t waited = wait_retrying(command, &status, WNOHANG);
        if (waited == command) _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        if (waited < 0) _exit(127);
        if (poll(watched, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (watched[1].revents) {
            struct signalfd_siginfo info;
            while (read(SIGCHLD_FD, &info, sizeof info) > 0) {}
        }
        char byte;
        if (watched[0].revents && read_retrying(CONTROL_FD, &byte, 1) <= 0) break;
    }
    // The driver is gone: nothing may be left of the step.
    kill(0, SIGKILL);
    _exit(137);
}

int runbook_child_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                        const char *stdout_path, const char *stderr_path, runbook_child *child) {
    int control[2], report[2];
    if (pipe2(control, O_CLOEXEC) != 0) return errno;
    if (pipe2(report, O_CLOEXEC) != 0) {
        int error = errno;
        close(control[0]);
        close(control[1]);
        return error;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int error = errno;
        close(control[0]);
        close(control[1]);
        close(report[0]);
        close(report[1]);
        return error;
    }
    if (pid == 0) {
        close(control[1]);
        close(report[0]);
        supervise(control[0], report[1], path, argv, envp, directory, stdout_path, stderr_path);
    }
    close(control[0]);
    close(report[1]);
    int error = 0;
    ssize_t n = read_retrying(report[0], &error, sizeof error);
    if (n != (ssize_t)sizeof error) error = n < 0 ? errno : ECHILD;
    close(report[0]);
    if (error) {
        close(control[1]);
        int status;
        wait_retrying(pid, &status, 0);
        return error;
    }
    child->pid = pid;
    child->control = control[1];
    return 0;
}

int runbook_child_release(runbook_child *child) {
    const char go = 'g';
    return write_retrying(child->control, &go, 1) == 1 ? 0 : errno;
}

void runbook_child_close(runbook_child *child) {
    if (child->control >= 0) close(child->control);
    child->control = -1;
}
