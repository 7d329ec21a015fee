"""PostgreSQL processes for the emulator's data plane (no moto knowledge here).

One `PgServer` is one PostgreSQL cluster: a data directory, a loopback address of its own,
a Unix-socket directory of its own and a postmaster. `Toolkit` holds what every server
shares: the binaries, the OS user the servers run as, the `Launcher` thread that starts
every child process, the initdb'd template and the address pool.

Why the care with processes: no server may outlive the emulator, even a SIGKILLed one.
Each child gets PR_SET_PDEATHSIG=SIGKILL (set after setuid, which would clear it) and is
forked from one long-lived thread, because the kernel fires the signal when the parent
*thread* exits, and werkzeug's request threads end after each request. Backends exit by
themselves when their postmaster dies.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import fcntl
import glob
import os
import pwd
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

PG_USER_ENV = "RUNBOOK_EMULATOR_PG_USER"
PG_BINDIR_ENV = "RUNBOOK_EMULATOR_PG_BINDIR"
PG_TMPDIR_ENV = "RUNBOOK_EMULATOR_PG_TMPDIR"
REQUIRED_BINARIES = ("initdb", "postgres", "pg_basebackup", "psql")
ROOT_PREFIX = "runbook-emulator-pg-"
ADDRESS_LOCK_DIR = "runbook-emulator-addresses"  # beside the roots; shared by all emulators
ADMIN_ROLE = "rdsadmin"  # the bootstrap superuser, named as on RDS
REPLICATION_ROLE = "rdsrepladmin"  # the role standbys stream with, named as on RDS
PARAMETER_FILE = "rds-parameter-group.conf"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

# Settings every server shares; written once into the template's postgresql.conf.
# fsync=off is safe here: committed data survives a server crash (only an OS crash loses it).
BASE_SETTINGS = {
    "fsync": "off",
    # in the data directory (pg_dynshmem), not /dev/shm: a SIGKILLed server's segments go with its files
    "dynamic_shared_memory_type": "mmap",
    "wal_level": "replica",
    "hot_standby": "on",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "wal_keep_size": "64MB",
    "min_wal_size": "4MB",
    "max_wal_size": "64MB",
    "wal_retrieve_retry_interval": "500ms",
    "shared_buffers": "16MB",
    "max_connections": "50",
    "password_encryption": "scram-sha-256",
    "listen_addresses": "''",  # each server gets its own address on the command line
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] '",
}

PG_HBA = """\
# runbook emulator: trust on the Unix socket (the emulator's own admin use; the socket's
# directory is reachable only by the emulator's user), SCRAM over TCP from loopback.
local   all          all                   trust
local   replication  all                   trust
host    all          all   127.0.0.0/8     scram-sha-256
host    replication  all   127.0.0.0/8     scram-sha-256
"""

PR_SET_PDEATHSIG = 1


class PgError(RuntimeError):
    """A PostgreSQL command or server failed; the message carries its output."""


# ---------------------------------------------------------------------------------------
# Binaries and the OS user
# ---------------------------------------------------------------------------------------


def find_bindir() -> str | None:
    """The PostgreSQL bin directory holding every binary we need, or None.

    $RUNBOOK_EMULATOR_PG_BINDIR if set (and nothing else); else `pg_config --bindir`,
    then the newest /usr/lib/postgresql/<major>/bin.
    """
    forced = os.environ.get(PG_BINDIR_ENV)
    if forced:
        return forced if _has_binaries(forced) else None
    candidates = []
    try:
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10
        )
        if out.returncode == 0:
            candidates.append(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versioned, key=_major_version, reverse=True)
    return next((b for b in candidates if _has_binaries(b)), None)


def _has_binaries(bindir: str) -> bool:
    return all(os.access(os.path.join(bindir, b), os.X_OK) for b in REQUIRED_BINARIES)


def _major_version(bindir: str) -> tuple:
    """Sort key for /usr/lib/postgresql/<major>/bin: numeric major version."""
    part = bindir.rstrip("/").split("/")[-2]
    return tuple(int(p) if p.isdigit() else 0 for p in part.split("."))


@dataclass(frozen=True)
class RunAs:
    """The OS identity the PostgreSQL processes run as.

    PostgreSQL refuses to run as root: as root we switch to `postgres` (or $RUNBOOK_EMULATOR_PG_USER);
    otherwise the servers run as ourselves.
    """

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    switch: bool

    @classmethod
    def resolve(cls) -> "RunAs":
        if os.geteuid() != 0:
            entry = pwd.getpwuid(os.geteuid())
            return cls(entry.pw_name, os.geteuid(), os.getegid(), (), False)
        name = os.environ.get(PG_USER_ENV) or "postgres"
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise PgError(f"OS user {name!r} does not exist (set {PG_USER_ENV})") from None
        if entry.pw_uid == 0:
            raise PgError(f"{PG_USER_ENV}={name} is root; PostgreSQL refuses to run as root")
        groups = tuple(os.getgrouplist(name, entry.pw_gid))
        return cls(name, entry.pw_uid, entry.pw_gid, groups, True)

    def chown(self, path: str) -> None:
        """Give `path` to the server user (a no-op unless we switch users)."""
        if self.switch:
            os.chown(path, self.uid, self.gid)


# ---------------------------------------------------------------------------------------
# The launcher thread
# ---------------------------------------------------------------------------------------


_libc = ctypes.CDLL(None, use_errno=True)


class Launcher:
    """Starts every PostgreSQL child process from one long-lived thread.

    Each child switches to the server user, then sets PR_SET_PDEATHSIG=SIGKILL (a credential
    change clears it, so the order matters) and checks that we did not die before that.
    The signal fires when the forking *thread* exits, hence one thread that lives as long as
    the emulator.
    """

    def __init__(self, run_as: RunAs):
        self.run_as = run_as
        self._requests: queue.Queue = queue.Queue()
        self._children: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="pg-launcher", daemon=True)
        self._thread.start()

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        """Start `argv` from the launcher thread; returns the Popen (wait on it anywhere)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._requests.put((argv, kwargs, future))
        return future.result()

    def run(self, argv: list[str], input_text: str | None = None, timeout: float = 60) -> str:
        """Run a short-lived child to completion; raise PgError with its output on failure."""
        proc = self.popen(
            argv,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            out, _ = proc.communicate(input_text, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            raise PgError(f"{os.path.basename(argv[0])} timed out: {out.strip()}") from None
        if proc.returncode != 0:
            raise PgError(f"{os.path.basename(argv[0])} failed ({proc.returncode}): {out.strip()}")
        return out

    def kill_all(self) -> None:
        """SIGKILL every child still running (the last step of a shutdown)."""
        with self._lock:
            children, self._children = self._children, []
        for proc in children:
            if proc.poll() is None:
                try:
                    proc.kill()
                    proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass

    def _serve(self) -> None:
        while True:
            argv, kwargs, future = self._requests.get()
            try:
                proc = subprocess.Popen(
                    argv, preexec_fn=self._child_setup(), start_new_session=True, **kwargs
                )
            except BaseException as exc:  # noqa: BLE001 - hand every failure to the caller
                future.set_exception(exc)
                continue
            with self._lock:
                self._children = [p for p in self._children if p.returncode is None]
                self._children.append(proc)
            future.set_result(proc)

    def _child_setup(self):
        """The preexec_fn: switch user, then arm PR_SET_PDEATHSIG, then re-check the parent."""
        run_as = self.run_as
        parent = os.getpid()

        def setup() -> None:
            if run_as.switch:
                os.setgroups(list(run_as.groups))
                os.setgid(run_as.gid)
                os.setuid(run_as.uid)
            if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
                os._exit(126)
            if os.getppid() != parent:  # the emulator died before the signal was armed
                os._exit(126)

        return setup


# ---------------------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------------------


class AddressPool:
    """Hands out loopback addresses 127.0.1.1, 127.0.1.2, ... one per server.

    Linux routes all of 127/8 to lo, so each server can listen on its own address. An
    address stays taken until its server is deleted, also while the server restarts and
    does not listen. That holds across emulators running side by side: each taken address
    is an flock()ed file in a directory all emulators share (the kernel drops the lock when
    its emulator dies, even by SIGKILL). A probe bind also skips an address:port that
    anything else already listens on.
    """

    def __init__(self, lock_dir: str):
        self._lock_dir = lock_dir
        self._held: dict[str, int] = {}  # host -> fd of its locked file
        self._foreign: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        os.makedirs(lock_dir, exist_ok=True)
        try:
            os.chmod(lock_dir, 0o1777)  # shared by emulators of other users (sticky, as /tmp)
        except PermissionError:
            pass  # another user's emulator made it

    def allocate(self, port: int) -> str:
        with self._lock:
            for host in _loopback_addresses():
                if host in self._held or (host, port) in self._foreign:
                    continue
                fd = self._try_lock(host)
                if fd is None:
                    continue  # another emulator's
                if not _can_bind(host, port):
                    os.close(fd)
                    self._foreign.add((host, port))
                    continue
                self._held[host] = fd
                return host
        raise PgError(f"no free loopback address for port {port}")

    def mark_foreign(self, host: str, port: int) -> None:
        """Something else took host:port between our probe and the server's bind."""
        with self._lock:
            self._foreign.add((host, port))
            self._close(host)

    def release(self, host: str) -> None:
        with self._lock:
            self._close(host)

    def _try_lock(self, host: str) -> int | None:
        try:
            fd = os.open(os.path.join(self._lock_dir, host), os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    def _close(self, host: str) -> None:
        fd = self._held.pop(host, None)
        if fd is not None:
            os.close(fd)  # the lock goes with it; the file stays (unlinking would race)


def _loopback_addresses():
    for third in range(1, 255):
        for fourth in range(1, 255):
            yield f"127.0.{third}.{fourth}"


def _can_bind(host: str, port: int) -> bool:
    """Would PostgreSQL (which sets SO_REUSEADDR) be able to listen on host:port?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


# ---------------------------------------------------------------------------------------
# The shared toolkit: binaries, user, launcher, template, addresses
# ---------------------------------------------------------------------------------------


class Toolkit:
    """What every server shares. The template is initdb'd once, in the background."""

    def __init__(self, bindir: str, run_as: RunAs):
        self.bindir = bindir
        self.run_as = run_as
        self.launcher = Launcher(run_as)
        self.addresses = AddressPool(os.path.join(_root_base(), ADDRESS_LOCK_DIR))
        self.replication_password = secrets.token_urlsafe(24)
        self.root = _make_root(run_as)
        self.template = os.path.join(self.root, "template")
        self.settings_known: dict[str, str] = {}  # GUC name -> context (e.g. "postmaster")
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._template_ready = concurrent.futures.Future()
        threading.Thread(target=self._build_template, name="pg-template", daemon=True).start()

    def bin(self, name: str) -> str:
        return os.path.join(self.bindir, name)

    def next_dir(self, kind: str) -> str:
        """A new, empty directory under the root owned by the server user (mode 0700)."""
        with self._seq_lock:
            self._seq += 1
            path = os.path.join(self.root, f"{kind}{self._seq}")
        os.mkdir(path, 0o700)
        self.run_as.chown(path)
        return path

    def wait_template(self) -> str:
        """The template's path, once initdb has finished (raises PgError if it failed)."""
        try:
            self._template_ready.result(timeout=120)
        except PgError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. OSError, a timeout
            raise PgError(f"building the template cluster failed: {exc}") from exc
        return self.template

    def remove_root(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _build_template(self) -> None:
        try:
            self._initdb()
            self._template_ready.set_result(None)
        except BaseException as exc:  # noqa: BLE001 - surfaces at the first CreateDBInstance
            self._template_ready.set_exception(exc)

    def _initdb(self) -> None:
        """initdb once, then the settings, pg_hba and the RDS-like roles every server shares."""
        self.launcher.run([
            self.bin("initdb"), "-D", self.template, "-U", ADMIN_ROLE, "-E", "UTF8",
            "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256",
            "--no-sync", "--no-instructions", "--wal-segsize=1",
        ])
        lines = [f"{name} = {value}" for name, value in BASE_SETTINGS.items()]
        lines.append(f"include_if_exists = '{PARAMETER_FILE}'")
        with open(os.path.join(self.template, "postgresql.conf"), "a") as conf:
            conf.write("\n# runbook emulator\n" + "\n".join(lines) + "\n")
        write_owned(self.run_as, os.path.join(self.template, "pg_hba.conf"), PG_HBA)
        self._bootstrap_roles()
        self.settings_known = self._describe_config()

    def _bootstrap_roles(self) -> None:
        """rds_superuser (what the master user is granted) and the replication role."""
        sql = "\n".join([
            "CREATE ROLE rds_superuser NOLOGIN",
            "GRANT pg_monitor, pg_signal_backend TO rds_superuser",
            f"CREATE ROLE {REPLICATION_ROLE} LOGIN REPLICATION PASSWORD "
            f"{quote_literal(self.replication_password)}",
        ]) + "\n"
        out = self.launcher.run(
            [self.bin("postgres"), "--single", "-D", self.template, "postgres"], input_text=sql
        )
        if "ERROR" in out:
            raise PgError(f"template bootstrap failed: {out.strip()}")

    def _describe_config(self) -> dict[str, str]:
        out = self.launcher.run([self.bin("postgres"), "--describe-config"])
        known = {}
        for line in out.splitlines():
            fields = line.split("\t")
            if len(fields) > 1:
                known[fields[0]] = fields[1]
        return known


def _make_root(run_as: RunAs) -> str:
    """The emulator's temp root, named after our pid so a later emulator can sweep it."""
    base = _root_base()
    _sweep_stale_roots(base)
    root = tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-", dir=base)
    run_as.chown(root)
    return root


def _root_base() -> str:
    """$RUNBOOK_EMULATOR_PG_TMPDIR, else /dev/shm (tmpfs: copying a cluster there takes
    ~0.06 s instead of ~0.9 s on this machine's disk), else the temp directory. Kept short:
    Unix-socket paths are limited to 107 bytes."""
    for base in (os.environ.get(PG_TMPDIR_ENV), "/dev/shm", tempfile.gettempdir(), "/tmp"):
        if base and len(base) <= 40 and os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            return base
    raise PgError(f"no writable temp directory with a short path (set {PG_TMPDIR_ENV})")


def _sweep_stale_roots(base: str) -> None:
    """Remove temp roots left by emulators that were SIGKILLed (their pid is gone)."""
    for path in glob.glob(os.path.join(base, ROOT_PREFIX + "*")):
        match = re.match(rf"{ROOT_PREFIX}(\d+)-", os.path.basename(path))
        if not match:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            for data_dir in glob.glob(os.path.join(path, "*", "data")):
                release_shared_memory(data_dir)
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------


def quote_literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings is on)."""
    return "'" + value.replace("'", "''") + "'"


def quote_ident(value: str) -> str:
    """A SQL identifier."""
    return '"' + value.replace('"', '""') + '"'


def write_owned(run_as: RunAs, path: str, text: str) -> None:
    """Write a file atomically and give it to the server user."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    run_as.chown(tmp)
    os.replace(tmp, path)


IPC_RMID = 0


def release_shared_memory(data_dir: str) -> None:
    """Remove the SysV shared-memory segment a killed postmaster left behind.

    A SIGKILLed postmaster cannot remove its (small) segment; the next start on the same
    data directory would, but a deleted directory has no next start. postmaster.pid's 7th
    line names the segment (key, id); it is removed only if that key and id still match
    and nothing is attached.
    """
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as handle:
            key, shmid = (int(v) for v in handle.read().splitlines()[6].split())
        with open("/proc/sysvipc/shm") as table:
            rows = [line.split() for line in table.read().splitlines()[1:]]
    except (OSError, ValueError, IndexError):
        return
    for row in rows:
        if int(row[0]) == key and int(row[1]) == shmid and int(row[6]) == 0:
            _libc.shmctl(shmid, IPC_RMID, None)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _children_of(pid: int) -> list[int]:
    """Pids whose parent is `pid` (a postmaster's backends)."""
    return [
        int(entry) for entry in os.listdir("/proc")
        if entry.isdigit() and (_proc_stat(int(entry)) or ("", 0))[1] == pid
    ]


def _wait_gone(pids: list[int], timeout: float) -> None:
    """Wait until none of `pids` runs (a zombie waiting for init to reap it counts as gone)."""
    deadline = time.time() + timeout
    for pid in pids:
        while time.time() < deadline:
            stat = _proc_stat(pid)
            if stat is None or stat[0] in ("Z", "X"):
                break
            time.sleep(0.01)


# ---------------------------------------------------------------------------------------
# One server
# ---------------------------------------------------------------------------------------


class PgServer:
    """One PostgreSQL cluster on its own loopback address and Unix-socket directory.

    Layout under the emulator's root: db<N>/data (the cluster), db<N>/run (the socket
    directory), db<N>/postgres.log (the server's stderr).
    """

    def __init__(self, kit: Toolkit, label: str, port: int):
        self.kit = kit
        self.label = label  # for messages; the identifier of the RDS instance
        self.port = int(port)
        self.base = kit.next_dir("db")
        self.data_dir = os.path.join(self.base, "data")
        self.socket_dir = os.path.join(self.base, "run")
        self.log_path = os.path.join(self.base, "postgres.log")
        os.mkdir(self.socket_dir, 0o700)
        kit.run_as.chown(self.socket_dir)
        self.host = kit.addresses.allocate(self.port)
        self.cluster_name = f"{os.path.basename(kit.root)}/{os.path.basename(self.base)}"
        self.proc: subprocess.Popen | None = None
        self.lock = threading.RLock()

    # -- creating the data directory ------------------------------------------------------

    def init_from_template(self) -> None:
        """A fresh cluster: a copy of the initdb'd template."""
        self._copy_tree(self.kit.wait_template())

    def init_from_copy(self, source_data_dir: str) -> None:
        """A cluster restored from a snapshot's files; it starts as a primary."""
        self._copy_tree(source_data_dir)
        for name in ("standby.signal", "recovery.signal", "postmaster.pid", "postmaster.opts"):
            try:
                os.unlink(os.path.join(self.data_dir, name))
            except FileNotFoundError:
                pass

    def init_from_basebackup(self, source: "PgServer") -> None:
        """A streaming standby of `source`: pg_basebackup -R over TCP as the replication role."""
        self.kit.launcher.run([
            self.kit.bin("pg_basebackup"), "-D", self.data_dir, "-R", "-X", "stream",
            "-c", "fast", "--no-sync", "-d", source.replication_conninfo(),
        ])

    def _copy_tree(self, source: str) -> None:
        # cp -a keeps modes and (as root) the server user's ownership; faster than copytree.
        out = subprocess.run(
            ["cp", "-a", source, self.data_dir], capture_output=True, text=True
        )
        if out.returncode != 0:
            raise PgError(f"copying {source} failed: {out.stderr.strip()}")

    def replication_conninfo(self) -> str:
        return (
            f"host={self.host} port={self.port} user={REPLICATION_ROLE} "
            f"password={self.kit.replication_password} application_name=runbook-emulator"
        )

    # -- state ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running else None

    @property
    def is_standby(self) -> bool:
        return os.path.exists(os.path.join(self.data_dir, "standby.signal"))

    # -- starting and stopping ---------------------------------------------------------------

    def start(self) -> None:
        """Start the postmaster (directly, not via pg_ctl) and wait until it accepts connections."""
        with self.lock:
            if self.running:
                return
            try:
                os.unlink(os.path.join(self.data_dir, "postmaster.pid"))
            except FileNotFoundError:
                pass
            log = open(self.log_path, "ab")
            try:
                self.proc = self.kit.launcher.popen(
                    self._postmaster_argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log
                )
            finally:
                log.close()
            self._wait_ready()

    def start_new(self) -> None:
        """First start; if another process grabbed our address meanwhile, move to another."""
        for _ in range(5):
            try:
                self.start()
                return
            except PgError as exc:
                if "Address already in use" not in str(exc):
                    raise
                self.kit.addresses.mark_foreign(self.host, self.port)
                self.host = self.kit.addresses.allocate(self.port)
        self.start()

    def _postmaster_argv(self) -> list[str]:
        # Command-line settings win over postgresql.conf and postgresql.auto.conf, so a
        # standby's copied configuration cannot point it at its source's address.
        return [
            self.kit.bin("postgres"), "-D", self.data_dir,
            "-c", f"listen_addresses={self.host}",
            "-c", f"port={self.port}",
            "-c", f"unix_socket_directories={self.socket_dir}",
            "-c", f"cluster_name={self.cluster_name}",
        ]

    def _wait_ready(self) -> None:
        """Poll postmaster.pid's status line ("ready" / "standby"), as pg_ctl does."""
        pid_file = os.path.join(self.data_dir, "postmaster.pid")
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise PgError(f"{self.label}: postgres exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                with open(pid_file) as handle:
                    lines = handle.read().splitlines()
            except FileNotFoundError:
                lines = []
            if len(lines) >= 8 and lines[0] == str(self.proc.pid) and lines[7].strip() in ("ready", "standby"):
                return
            time.sleep(0.01)
        raise PgError(f"{self.label}: postgres did not become ready in {START_TIMEOUT:.0f} s: {self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        """Shut down: "smart" (SIGTERM), "fast" (SIGINT) or "immediate" (SIGQUIT); SIGKILL on timeout."""
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        with self.lock:
            if not self.running:
                return
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends, as if the host died; wait until all are gone."""
        with self.lock:
            if not self.running:
                return
            children = _children_of(self.proc.pid)
            self.proc.kill()
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
            _wait_gone(children, timeout=5)

    def restart(self, mode: str = "fast") -> None:
        with self.lock:
            self.stop(mode)
            self.start()

    def remove(self) -> None:
        """Stop (immediate: the files are discarded), free the address, delete the files."""
        with self.lock:
            self.stop("immediate")
            release_shared_memory(self.data_dir)
            self.kit.addresses.release(self.host)
            shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, lines: int = 5) -> str:
        try:
            with open(self.log_path, errors="replace") as handle:
                return " | ".join(handle.read().strip().splitlines()[-lines:])
        except OSError:
            return ""

    # -- SQL over the Unix socket ------------------------------------------------------------

    def sql(self, script: str, database: str = "postgres") -> str:
        """Run SQL as the admin superuser over the Unix socket; unaligned, tuples-only output.

        The session is read-write whatever the parameter group says (rdsadmin's own work).
        """
        argv = [
            self.kit.bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", self.socket_dir, "-p", str(self.port), "-U", ADMIN_ROLE, "-d", database,
        ]
        env = dict(os.environ, PGOPTIONS="-c default_transaction_read_only=off")
        out = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=60, env=env)
        if out.returncode != 0:
            raise PgError(f"{self.label}: psql failed: {out.stderr.strip()}")
        return out.stdout.strip()

    def promote(self) -> None:
        """pg_promote(): the standby ends recovery and becomes a writable primary (new timeline)."""
        result = self.sql("SELECT pg_promote(true, 60)")
        if result != "t":
            raise PgError(f"{self.label}: pg_promote did not finish: {result}")

    def pause_replay(self) -> str:
        return self.sql("SELECT pg_wal_replay_pause(); SELECT pg_get_wal_replay_pause_state()")

    def resume_replay(self) -> str:
        return self.sql("SELECT pg_wal_replay_resume(); SELECT pg_get_wal_replay_pause_state()")

    def cut_replication(self) -> str:
        """Stop receiving WAL (a broken cross-region link): what the primary commits from now on never arrives.

        Unlike a replay pause, a promotion cannot apply it later, since it was never received.
        """
        if getattr(self, "saved_conninfo", None) is None:
            self.saved_conninfo = self.sql("SHOW primary_conninfo")
        self.sql("ALTER SYSTEM SET primary_conninfo = ''")
        self.sql("SELECT pg_reload_conf()")
        return "cut"

    def restore_replication(self) -> str:
        """Receive WAL again with the connection string saved by cut_replication."""
        saved = getattr(self, "saved_conninfo", None)
        if saved is not None:
            self.sql("ALTER SYSTEM SET primary_conninfo = '%s'" % saved.replace("'", "''"))
            self.sql("SELECT pg_reload_conf()")
            self.saved_conninfo = None
        return "receiving"

    def replica_lag(self) -> float:
        """Seconds: 0 when everything received is replayed, else now - last replayed commit."""
        return float(self.sql(
            "SELECT CASE WHEN pg_last_wal_receive_lsn() IS NULL"
            " OR pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) <= 0"
            " THEN 0 ELSE EXTRACT(EPOCH FROM now() - coalesce("
            "pg_last_xact_replay_timestamp(), pg_postmaster_start_time())) END"
        ))

    # -- settings (the parameter group) -------------------------------------------------------

    def write_parameters(self, settings: dict[str, str]) -> None:
        """Write the parameter group's settings into the file postgresql.conf includes last."""
        lines = [f"{name} = {quote_literal(str(value))}" for name, value in sorted(settings.items())]
        text = "# written by the runbook emulator from the DB parameter group\n" + "".join(
            line + "\n" for line in lines
        )
        write_owned(self.kit.run_as, os.path.join(self.data_dir, PARAMETER_FILE), text)

    def reload(self) -> None:
        """pg_reload_conf(), then wait until new sessions see the reloaded configuration."""
        if not self.running:
            return
        before = self.sql("SELECT pg_conf_load_time(); SELECT pg_reload_conf()").splitlines()[0]
        deadline = time.time() + 5
        while time.time() < deadline:
            if self.sql("SELECT pg_conf_load_time()") != before:
                return
            time.sleep(0.02)
        raise PgError(f"{self.label}: configuration reload not seen within 5 s")
