"""The emulator's data plane: a real PostgreSQL server behind every RDS PostgreSQL instance.

`DataPlane` maps moto's DBInstance objects to `pgserver.PgServer`s and does, on the real
servers, what RDS does when the control-plane API is called (dataplane_patches.py calls it
from the patched moto operations):

- CreateDBInstance: a server from the initdb'd template with the master user (and DBName);
- CreateDBInstanceReadReplica: a streaming standby (pg_basebackup -R from the source);
- PromoteReadReplica: pg_promote(); RebootDBInstance: fast restart, or an immediate one
  with ForceFailover; Stop/StartDBInstance; DeleteDBInstance: stop, remove, free the address;
- DB parameter groups: settings written at start, "immediate" changes reloaded at once,
  the rest (and a changed group) pending until a reboot;
- DB snapshots keep a copy of the files; a restore starts from that copy;
- AWS/RDS ReplicaLag published into moto's CloudWatch every METRICS_INTERVAL seconds.

Test hooks (dataplane_hooks.py) reach the servers directly: list, pause/resume replay,
kill/start a server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time

from pgserver import PgError, PgServer, Toolkit, quote_ident, quote_literal, release_shared_memory

METRICS_INTERVAL = 5.0
RECORD_KEY = "_emu_dataplane"  # moto DBInstance.__dict__ key of the Instance record
SNAPSHOT_KEY = "_emu_snapshot_files"  # moto DBSnapshot.__dict__ key of the SnapshotFiles


class Instance:
    """The data plane's record of one RDS instance: its server and what the server runs with.

    `applied_group` / `applied_params` are the parameter group and the settings the server
    was started (or last reloaded) with; the instance is "in-sync" when they match its
    current group. `held_down` is set by the kill hook: the server stays down until the
    start hook, whatever the API does (a region that does not answer).
    """

    def __init__(self, db, server: PgServer):
        self.db = db
        self.server = server
        self.applied_group: str | None = None
        self.applied_params: dict[str, str] = {}
        self.held_down = False
        self.stopped = False  # StopDBInstance
        self.password_pending = False  # a master password change not yet set in the server

    def __copy__(self):
        # moto copies instances' attributes (restore from a snapshot): a copy owns no server
        return None

    def __deepcopy__(self, memo):
        return None

    @property
    def state(self) -> str:
        if self.server.running:
            return "running"
        if self.held_down:
            return "killed"
        return "stopped" if self.stopped else "down"


class SnapshotFiles:
    """A snapshot's copy of a server's files (shared by CopyDBSnapshot copies)."""

    def __init__(self, path: str):
        self.path = path
        self.data_dir = os.path.join(path, "data")

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class DataPlane:
    """Real PostgreSQL servers for moto's RDS PostgreSQL instances."""

    def __init__(self, kit: Toolkit):
        self.kit = kit
        self._records: list[Instance] = []
        self._snapshot_users: dict[str, set[str]] = {}  # files path -> snapshot ARNs
        self._lock = threading.RLock()
        self._closed = threading.Event()
        threading.Thread(target=self._publish_loop, name="replica-lag", daemon=True).start()

    # -- lookups -------------------------------------------------------------------------

    @staticmethod
    def record_of(db) -> Instance | None:
        return db.__dict__.get(RECORD_KEY) if db is not None else None

    @staticmethod
    def wants_server(db) -> bool:
        """RDS PostgreSQL instances (not Aurora, not other engines)."""
        return db.engine == "postgres" and getattr(db, "db_cluster_identifier", None) is None

    def records(self) -> list[Instance]:
        with self._lock:
            return list(self._records)

    def find(self, identifier: str, region: str | None = None, account: str | None = None):
        """Records matching an identifier (and region / account when given)."""
        identifier = identifier.lower()
        return [
            r for r in self.records()
            if r.db.db_instance_identifier == identifier
            and (region is None or r.db.region == region)
            and (account is None or r.db.account_id == account)
        ]

    # -- provisioning --------------------------------------------------------------------

    def provision_primary(self, db, seed_data_dir: str | None = None) -> Instance:
        """A writable server: from the template, or from a snapshot's files (`seed_data_dir`)."""
        self._check_open()
        server = PgServer(self.kit, db.db_instance_identifier, db.port or 5432)
        record = Instance(db, server)
        try:
            if seed_data_dir:
                server.init_from_copy(seed_data_dir)
            else:
                server.init_from_template()
            self._write_group_settings(record)
            server.start_new()
            server.sql(master_user_sql(db, master_password(db), fresh=seed_data_dir is None))
        except BaseException:
            server.remove()
            raise
        return self._attach(db, record)

    def provision_replica(self, replica, source) -> Instance:
        """A streaming standby of `source`'s server, on an address of its own."""
        self._check_open()
        source_record = self.record_of(source)
        if source_record is None or not source_record.server.running:
            raise PgError(
                f"the source instance {source.db_instance_identifier} has no running server"
            )
        server = PgServer(self.kit, replica.db_instance_identifier, replica.port or 5432)
        record = Instance(replica, server)
        try:
            with source_record.server.lock:
                server.init_from_basebackup(source_record.server)
            self._write_group_settings(record)
            server.start_new()
        except BaseException:
            server.remove()
            raise
        self._attach(replica, record)
        self.poke_metrics()
        return record

    def _attach(self, db, record: Instance) -> Instance:
        db.__dict__[RECORD_KEY] = record
        with self._lock:
            self._records.append(record)
        return record

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise PgError("the emulator is shutting down")

    # -- lifecycle operations (the API's) ------------------------------------------------------

    def promote(self, db) -> None:
        """PromoteReadReplica: pg_promote() on the standby (it is a primary afterwards)."""
        record = self.record_of(db)
        if record is None:
            return
        with record.server.lock:
            if record.server.running and record.server.is_standby:
                record.server.promote()

    def reboot(self, db, force_failover: bool) -> None:
        """RebootDBInstance: a fast restart; with ForceFailover an immediate one (a crash).

        A pending parameter group is applied; a server held down by the kill hook stays down.
        """
        record = self.record_of(db)
        if record is None or record.held_down:
            return
        with record.server.lock:
            record.server.stop("immediate" if force_failover else "fast")
            self._write_group_settings(record)
            self._start(record)

    def stop(self, db) -> None:
        """StopDBInstance."""
        record = self.record_of(db)
        if record is not None:
            record.stopped = True
            record.server.stop("fast")

    def start(self, db) -> None:
        """StartDBInstance (a server held down by the kill hook stays down)."""
        record = self.record_of(db)
        if record is None:
            return
        record.stopped = False
        if not record.held_down:
            with record.server.lock:
                self._write_group_settings(record)
                self._start(record)

    def _start(self, record: Instance) -> None:
        record.server.start()
        if record.password_pending:
            self.sync_master_password(record.db)

    def discard(self, db) -> None:
        """DeleteDBInstance: stop the server, remove its files, free its address."""
        record = db.__dict__.pop(RECORD_KEY, None)
        if record is None:
            return
        with self._lock:
            if record in self._records:
                self._records.remove(record)
        record.server.remove()

    def discard_all(self) -> None:
        """POST /moto-api/reset: every server and snapshot copy goes."""
        for record in self.records():
            self.discard(record.db)
        with self._lock:
            paths, self._snapshot_users = list(self._snapshot_users), {}
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)

    # -- the master user --------------------------------------------------------------------

    def sync_master_password(self, db) -> None:
        """Set the master user's password to what the API says (ModifyDBInstance, rotation)."""
        record = self.record_of(db)
        if record is None:
            return
        record.password_pending = True
        server = record.server
        if not server.running or server.is_standby or not db.master_username:
            return  # a standby gets the password from its source; a down server at its start
        password = master_password(db)
        literal = quote_literal(password) if password else "NULL"
        server.sql(f"ALTER ROLE {quote_ident(db.master_username)} WITH PASSWORD {literal}")
        record.password_pending = False

    # -- parameter groups --------------------------------------------------------------------

    def desired_params(self, db) -> tuple[str, dict[str, str]]:
        """The instance's current group and the server settings it asks for.

        Only settable PostgreSQL settings with a literal value are used: RDS-only parameters,
        read-only ("internal") ones and formulas such as {DBInstanceClassMemory/32768} are
        skipped.
        """
        group = db.db_parameter_groups()[0]
        settings = {}
        for name, parameter in group.parameters.items():
            value = parameter.get("ParameterValue")
            context = self.kit.settings_known.get(name.lower(), "internal")
            if value is None or context == "internal" or "{" in str(value):
                continue
            settings[name.lower()] = str(value)
        return group.name, settings

    def is_static(self, name: str) -> bool:
        """A setting that needs a restart (pg_settings context "postmaster")."""
        return self.kit.settings_known.get(name.lower()) == "postmaster"

    def group_in_sync(self, db) -> bool | None:
        """ParameterApplyStatus: in-sync (True) or pending-reboot (False); None: no server."""
        record = self.record_of(db)
        if record is None:
            return None
        group_name, settings = self.desired_params(db)
        return record.applied_group == group_name and record.applied_params == settings

    def _write_group_settings(self, record: Instance) -> None:
        """Before a (re)start: the server runs with its current group's settings."""
        group_name, settings = self.desired_params(record.db)
        record.server.write_parameters(settings)
        record.applied_group, record.applied_params = group_name, settings

    def apply_group_change(self, backend, group_name: str, parameters: list[dict]) -> None:
        """ModifyDBParameterGroup: "immediate" settings go live at once (file + pg_reload_conf())
        on every instance that runs with that group; "pending-reboot" ones wait for a reboot."""
        immediate = {
            p["ParameterName"].lower()
            for p in parameters
            if str(p.get("ApplyMethod", "")).lower() == "immediate"
        }
        for record in self.records():
            db = record.db
            if db.backend is not backend or record.applied_group != group_name:
                continue
            if self.desired_params(db)[0] != group_name:
                continue  # the instance moves to another group at its next reboot
            with record.server.lock:
                self._apply_immediate(record, immediate)

    def _apply_immediate(self, record: Instance, immediate: set[str]) -> None:
        """Bring the named settings in line with the group, then reload if any changed."""
        _, desired = self.desired_params(record.db)
        changed = False
        for name in immediate:
            if name in desired:
                changed |= record.applied_params.get(name) != desired[name]
                record.applied_params[name] = desired[name]
            elif name in record.applied_params:
                changed = True
                del record.applied_params[name]
        if changed:
            record.server.write_parameters(record.applied_params)
            record.server.reload()

    # -- snapshots ---------------------------------------------------------------------------

    def capture_snapshot(self, snapshot, db) -> None:
        """CreateDBSnapshot (and a final snapshot): keep a copy of the instance's files."""
        record = self.record_of(db)
        if record is None or self._closed.is_set():
            return
        files = self._copy_files(record)
        snapshot.__dict__[SNAPSHOT_KEY] = files
        self._use_snapshot_files(files, snapshot.db_snapshot_arn)

    def share_snapshot(self, target, source) -> None:
        """CopyDBSnapshot: the copy uses the same files."""
        files = source.__dict__.get(SNAPSHOT_KEY)
        if files is not None:
            target.__dict__[SNAPSHOT_KEY] = files
            self._use_snapshot_files(files, target.db_snapshot_arn)

    def drop_snapshot(self, snapshot) -> None:
        """DeleteDBSnapshot: the files go when no snapshot uses them any more."""
        files = snapshot.__dict__.pop(SNAPSHOT_KEY, None)
        if files is None:
            return
        with self._lock:
            users = self._snapshot_users.get(files.path, set())
            users.discard(snapshot.db_snapshot_arn)
            if users:
                return
            self._snapshot_users.pop(files.path, None)
        shutil.rmtree(files.path, ignore_errors=True)

    @staticmethod
    def snapshot_data_dir(snapshot) -> str | None:
        files = snapshot.__dict__.get(SNAPSHOT_KEY)
        return files.data_dir if files is not None else None

    def restore_point_in_time(self, db, source) -> None:
        """RestoreDBInstanceToPointInTime: the latest restorable time is now."""
        record = self.record_of(source)
        if record is None:
            self.provision_primary(db)
            return
        files = self._copy_files(record)
        try:
            self.provision_primary(db, seed_data_dir=files.data_dir)
        finally:
            shutil.rmtree(files.path, ignore_errors=True)

    def _copy_files(self, record: Instance) -> SnapshotFiles:
        """pg_basebackup of a running server; a plain copy of a stopped (or killed) one."""
        files = SnapshotFiles(self.kit.next_dir("snap"))
        server = record.server
        with server.lock:
            if server.running:
                self.kit.launcher.run([
                    self.kit.bin("pg_basebackup"), "-D", files.data_dir, "-X", "stream",
                    "-c", "fast", "--no-sync", "-d", server.replication_conninfo(),
                ])
            else:
                out = subprocess.run(
                    ["cp", "-a", server.data_dir, files.data_dir], capture_output=True, text=True
                )
                if out.returncode != 0:
                    raise PgError(f"copying {server.data_dir} failed: {out.stderr.strip()}")
        return files

    def _use_snapshot_files(self, files: SnapshotFiles, arn: str) -> None:
        with self._lock:
            self._snapshot_users.setdefault(files.path, set()).add(arn)

    # -- test hooks --------------------------------------------------------------------------

    def describe(self, record: Instance) -> dict:
        server = record.server
        return {
            "identifier": record.db.db_instance_identifier,
            "account": record.db.account_id,
            "region": record.db.region,
            "role": "standby" if server.is_standby else "primary",
            "state": record.state,
            "running": server.running,
            "pid": server.pid,
            "host": server.host,
            "port": server.port,
            "socket_dir": server.socket_dir,
            "data_dir": server.data_dir,
            "log": server.log_path,
            "cluster_name": server.cluster_name,
        }

    def kill(self, record: Instance) -> None:
        """Hook: SIGKILL the server and keep it down (the AWS API still says available)."""
        record.held_down = True
        record.server.kill()

    def revive(self, record: Instance) -> None:
        """Hook: start a killed server again (crash recovery; committed data is there)."""
        record.held_down = False
        if not record.stopped:
            with record.server.lock:
                self._start(record)

    # -- ReplicaLag ------------------------------------------------------------------------

    def poke_metrics(self) -> None:
        """Publish ReplicaLag now (a new replica gets a datapoint at once)."""
        threading.Thread(target=self.publish_replica_lag, daemon=True).start()

    def _publish_loop(self) -> None:
        while not self._closed.wait(METRICS_INTERVAL):
            self.publish_replica_lag()

    def publish_replica_lag(self) -> None:
        """AWS/RDS ReplicaLag (seconds, dimension DBInstanceIdentifier) for every standby."""
        from moto.cloudwatch.models import cloudwatch_backends

        for record in self.records():
            server = record.server
            if not server.running or not server.is_standby:
                continue
            try:
                lag = server.replica_lag()
            except (PgError, ValueError, OSError, subprocess.SubprocessError):
                continue  # restarting or going away; the next round will tell
            db = record.db
            cloudwatch_backends[db.account_id][db.region].put_metric_data(
                "AWS/RDS",
                [{
                    "MetricName": "ReplicaLag",
                    "Value": max(lag, 0.0),
                    "Unit": "Seconds",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": db.db_instance_identifier}],
                }],
            )

    # -- shutdown ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every server and remove the temp root (normal exit, SIGTERM/SIGINT, parent gone).

        Immediate shutdown (the files are discarded), all signalled at once so they stop in
        parallel; takes no server lock, so a request stuck in a data-plane step cannot hold
        it up. Whatever still runs after 3 s is SIGKILLed.
        """
        if self._closed.is_set():
            return
        self._closed.set()
        procs = [r.server.proc for r in self.records() if r.server.running]
        for proc in procs:
            try:
                proc.send_signal(signal.SIGQUIT)
            except OSError:
                pass
        deadline = time.time() + 3
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
        self.kit.launcher.kill_all()
        for record in self.records():
            release_shared_memory(record.server.data_dir)
        self.kit.remove_root()


# ---------------------------------------------------------------------------------------
# The master user
# ---------------------------------------------------------------------------------------


def master_password(db) -> str | None:
    """The master password the API knows: the managed secret's, else MasterUserPassword.

    None when it is unknown (e.g. an old copy of an instance whose secret is deleted).
    """
    secret = db.__dict__.get("master_user_secret")
    if getattr(db, "manage_master_user_password", False) and secret is not None:
        try:
            value = secret.secretsmanager.get_secret_value(secret.secret_arn, None, None)
            return json.loads(value["SecretString"])["password"]
        except Exception:  # noqa: BLE001 - moto raises its own Secrets Manager errors
            return None
    return db.__dict__.get("_master_user_password")


def master_user_sql(db, password: str | None, fresh: bool) -> str:
    """The master user as on RDS: LOGIN, CREATEDB, CREATEROLE, a member of rds_superuser
    (itself a member of pg_monitor and pg_signal_backend), not a superuser; it owns DBName.

    Idempotent: psql's \\gexec creates only what is missing. A restored cluster (`fresh`
    False) already has the role and keeps the password its files hold.
    """
    user = db.master_username
    if not user:
        return "SELECT 1"
    ident, lit = quote_ident(user), quote_literal(user)
    lines = [
        f"SELECT 'CREATE ROLE ' || quote_ident({lit}) "
        f"WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {lit}) \\gexec",
        f"ALTER ROLE {ident} WITH LOGIN CREATEDB CREATEROLE NOSUPERUSER;",
        f"GRANT rds_superuser TO {ident};",
    ]
    if fresh:
        password_sql = f"PASSWORD {quote_literal(password)}" if password else "PASSWORD NULL"
        lines.append(f"ALTER ROLE {ident} WITH {password_sql};")
        lines.append(f"ALTER DATABASE postgres OWNER TO {ident};")
    if db.db_name:
        name = quote_literal(db.db_name)
        lines.append(
            f"SELECT 'CREATE DATABASE ' || quote_ident({name}) || ' OWNER ' || quote_ident({lit}) "
            f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {name}) \\gexec"
        )
    return "\n".join(lines) + "\n"
