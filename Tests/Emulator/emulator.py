#!/usr/bin/env python3
"""runbook's local AWS emulator: moto_server 5.2.x plus the RDS behaviours stock moto lacks.

Usage:
    python3 Tests/Emulator/emulator.py [--host 127.0.0.1] [--port 0]
                                       [--port-file PATH] [--parent-pid PID]
                                       [--no-dataplane]

The launcher patches moto's RDS backend models in-process, then serves moto's own
werkzeug application (DomainDispatcherApplication) on a threaded loopback server.
Unless --no-dataplane is given, every RDS PostgreSQL instance also gets a real
PostgreSQL server (dataplane.py, dataplane_patches.py, pgserver.py; test hooks in
dataplane_hooks.py). See Tests/Emulator/README.md for what each patch mirrors.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import signal
import string
import sys
import tempfile
import threading
import time

# AWS-managed IAM policies (AmazonRDSFullAccess, service-role/AWSLambdaBasicExecutionRole,
# ...) exist only when this is set before moto's IAM backend is imported.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

SUPPORTED_MOTO = "5.2."

INSTANCE_MODEL = "rds::dbinstance"
SNAPSHOT_MODEL = "rds::dbsnapshot"


def _check_moto() -> None:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - python < 3.8
        print("runbook-emulator: python 3.8+ is required", file=sys.stderr)
        sys.exit(2)
    try:
        found = version("moto")
    except PackageNotFoundError:
        print(
            "runbook-emulator: moto is not installed; install moto[server]==5.2.1",
            file=sys.stderr,
        )
        sys.exit(2)
    if not found.startswith(SUPPORTED_MOTO):
        print(
            f"runbook-emulator: moto {found} found but 5.2.x is required "
            "(the patches depend on its internals); install moto[server]==5.2.1",
            file=sys.stderr,
        )
        sys.exit(2)
    try:
        import werkzeug  # noqa: F401
        import flask  # noqa: F401
    except ImportError as exc:
        print(
            f"runbook-emulator: moto's server extras are missing ({exc.name}); "
            "install moto[server]==5.2.1",
            file=sys.stderr,
        )
        sys.exit(2)


# ---------------------------------------------------------------------------------------
# Patches
# ---------------------------------------------------------------------------------------


def install_patches() -> None:  # noqa: C901 - one place for every patch, on purpose
    import copy
    import re

    from moto.core.responses import ActionResult, PaginatedResult
    from moto.core.utils import utcnow
    from moto.moto_api import state_manager
    from moto.moto_api._internal.managed_state_model import ManagedState
    from moto.rds import models as rds_models
    from moto.rds import responses as rds_responses
    from moto.rds.exceptions import (
        DBInstanceNotFoundError,
        DBParameterGroupNotFoundError,
        InvalidParameterCombination,
        InvalidParameterValue,
        RDSClientError,
    )

    DBInstance = rds_models.DBInstance
    DBSnapshot = rds_models.DBSnapshot
    RDSBackend = rds_models.RDSBackend
    RDSResponse = rds_responses.RDSResponse
    rds_backends = rds_models.rds_backends

    state_manager.register_default_transition(
        model_name=INSTANCE_MODEL, transition={"progression": "immediate"}
    )
    state_manager.register_default_transition(
        model_name=SNAPSHOT_MODEL, transition={"progression": "immediate"}
    )

    # -- errors (codes and HTTP statuses as in botocore's RDS model) ---------------------

    def invalid_instance_state(message: str) -> RDSClientError:
        # InvalidDBInstanceStateFault: code InvalidDBInstanceState, HTTP 400
        return RDSClientError("InvalidDBInstanceState", message)

    def not_available(db) -> RDSClientError:
        return invalid_instance_state(
            f"Database instance {db.db_instance_identifier} is not in available state."
        )

    # -- 1. status transitions through moto's state manager ------------------------------
    #
    # DBInstance.status / DBSnapshot.status become properties. Each operation that AWS
    # runs asynchronously starts a ManagedState with the statuses AWS passes through;
    # DescribeDBInstances / DescribeDBSnapshots call advance() once per returned item, so
    # progression "manual" with "times": N moves one status every N describes. Under the
    # default "immediate" progression the status is the final one at once (stock moto).
    # Assigning status directly (stock code: stop/start, delete) drops the progression.

    def _make_status_property():
        def getter(self):
            managed = self.__dict__.get("_emu_state")
            if managed is not None:
                return managed.status
            return self.__dict__.get("_emu_status", "available")

        def setter(self, value):
            self.__dict__["_emu_state"] = None
            self.__dict__["_emu_status"] = value

        return property(getter, setter)

    def _advance(self) -> None:
        managed = self.__dict__.get("_emu_state")
        if managed is not None:
            managed.advance()

    for cls in (DBInstance, DBSnapshot):
        cls.status = _make_status_property()
        cls._emu_advance = _advance

    def begin(obj, model_name: str, statuses: list[str]) -> None:
        """Start a progression through `statuses` (first = current status)."""
        if transitions_immediate(model_name):
            # Final at once; no progression is left behind to resurface if a test
            # switches transitions on later.
            obj.__dict__["_emu_state"] = None
            obj.__dict__["_emu_status"] = statuses[-1]
            return
        transitions = list(zip(statuses, statuses[1:])) or [(statuses[0], statuses[0])]
        obj.__dict__["_emu_state"] = ManagedState(model_name, transitions)

    def begin_instance(db, *statuses: str) -> None:
        begin(db, INSTANCE_MODEL, list(statuses))

    def transitions_immediate(model_name: str) -> bool:
        return state_manager.get_transition(model_name).get("progression") == "immediate"

    def require_available(db) -> None:
        if db.status != "available":
            raise not_available(db)

    # -- 2. Multi-AZ: SecondaryAvailabilityZone -----------------------------------------

    def _other_az(region: str, az: str) -> str:
        return f"{region}b" if az.endswith("a") else f"{region}a"

    def secondary_availability_zone(self):
        if not getattr(self, "multi_az", False):
            return None
        secondary = self.__dict__.get("_emu_secondary_az")
        if not secondary or secondary == self.availability_zone:
            secondary = _other_az(self.region, self.availability_zone)
            self.__dict__["_emu_secondary_az"] = secondary
        return secondary

    DBInstance.secondary_availability_zone = property(secondary_availability_zone)

    # -- replica bookkeeping ---------------------------------------------------------------

    def _source_of(replica):
        source_id = replica.source_db_instance_identifier
        if not source_id:
            return None
        try:
            return replica.backend.find_db_from_id(source_id)
        except RDSClientError:
            return None

    def detach_replica(replica) -> None:
        """Drop the replica link on both sides (promotion, deletion)."""
        source = _source_of(replica)
        if source is not None:
            for entry in (replica.db_instance_identifier, replica.db_instance_arn):
                while entry in source.replicas:
                    source.replicas.remove(entry)
        replica.is_replica = False
        replica.source_db_instance_identifier = None

    def remove_replica(self, replica) -> None:
        # Stock removes only the identifier; cross-region replicas are listed by ARN
        # (ValueError -> HTTP 500). Remove whichever form is listed.
        for entry in (replica.db_instance_identifier, replica.db_instance_arn):
            while entry in self.replicas:
                self.replicas.remove(entry)

    DBInstance.remove_replica = remove_replica

    # -- backend: create / restore ---------------------------------------------------------

    stock_create_db_instance = RDSBackend.create_db_instance

    def create_db_instance(self, db_kwargs):
        database = stock_create_db_instance(self, db_kwargs)
        if database.backup_retention_period:
            begin_instance(database, "creating", "backing-up", "available")
        else:
            begin_instance(database, "creating", "available")
        return database

    RDSBackend.create_db_instance = create_db_instance

    # -- backend: restore from a snapshot ----------------------------------------------------
    #
    # Stock moto copies every attribute of the snapshot's source instance and then applies only
    # the *truthy* request parameters, so an explicit MultiAZ=false or DeletionProtection=false is
    # ignored. AWS: the restored instance gets the request's settings; DeletionProtection is off
    # unless the request turns it on ("By default, deletion protection isn't enabled"). A snapshot
    # copied from another region (CopyDBSnapshot) restores into this region: its AZ is one of this
    # region's, and a subnet group is used only when the request names one of this region.

    stock_restore_from_snapshot = RDSBackend.restore_db_instance_from_db_snapshot

    def _param(overrides, snake, camel):
        if snake in overrides:
            return overrides[snake]
        return overrides.get(camel)

    def _as_bool(value):
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)

    def restore_db_instance_from_db_snapshot(self, from_snapshot_id, overrides):
        database = stock_restore_from_snapshot(self, from_snapshot_id, overrides)
        multi_az = _param(overrides, "multi_az", "MultiAZ")
        if multi_az is not None:
            database.multi_az = _as_bool(multi_az)
        database.deletion_protection = _as_bool(
            _param(overrides, "deletion_protection", "DeletionProtection") or False
        )
        if not database.multi_az:
            database.__dict__.pop("_emu_secondary_az", None)
        az = database.availability_zone or ""
        if not az.startswith(self.region_name):
            if not _param(overrides, "availability_zone", "AvailabilityZone"):
                database.availability_zone = f"{self.region_name}a"
            if not _param(overrides, "db_subnet_group_name", "DBSubnetGroupName"):
                database._db_subnet_group_name = None
                database.__dict__.pop("db_subnet_group", None)
        return database

    RDSBackend.restore_db_instance_from_db_snapshot = restore_db_instance_from_db_snapshot

    # -- backend: read replica ---------------------------------------------------------------

    stock_create_replica = RDSBackend.create_db_instance_read_replica

    def create_db_instance_read_replica(self, db_kwargs):
        source_ref = db_kwargs["source_db_instance_identifier"]
        cross_region = bool(self.arn_regex.match(source_ref)) and (
            source_ref.split(":")[3] != self.region_name
        )
        if db_kwargs["db_instance_identifier"] in self.databases:
            raise rds_models.DBInstanceAlreadyExists()
        requested_pg = db_kwargs.get("db_parameter_group_name")
        if (
            requested_pg
            and not requested_pg.lower().startswith("default.")
            and requested_pg not in self.db_parameter_groups
        ):
            raise DBParameterGroupNotFoundError(requested_pg)
        if cross_region:
            # Put the replica into this region's backend *before* the other attributes
            # are applied, so DBSubnetGroupName resolves in the replica's own region.
            db_kwargs = {"backend": self, **dict(db_kwargs)}
        replica = stock_create_replica(self, db_kwargs)
        # copy.copy(primary) shares mutable attributes with the source: unshare them.
        for key, value in list(replica.__dict__.items()):
            if isinstance(value, (list, dict)) and key != "replicas":
                replica.__dict__[key] = copy.copy(value)
        replica.__dict__.pop("_emu_secondary_az", None)
        # CreateDBInstanceReadReplica defaults: single-AZ, no deletion protection.
        if db_kwargs.get("multi_az") is None:
            replica.multi_az = False
        if db_kwargs.get("deletion_protection") is None:
            replica.deletion_protection = False
        if cross_region:
            if not db_kwargs.get("availability_zone"):
                replica.availability_zone = f"{self.region_name}a"
            if not db_kwargs.get("db_subnet_group_name"):
                replica._db_subnet_group_name = None
                replica.__dict__.pop("db_subnet_group", None)
            # The replica must use a parameter group of its own region: the source's
            # custom group does not exist here, so fall back to the default group.
            pg = replica.db_parameter_group_name
            if (
                pg
                and not replica.is_default_parameter_group(pg)
                and pg not in self.db_parameter_groups
            ):
                replica.db_parameter_group_name = None
        begin_instance(replica, "creating", "available")
        return replica

    RDSBackend.create_db_instance_read_replica = create_db_instance_read_replica

    # -- 3. promotion -----------------------------------------------------------------------

    def promote_read_replica(self, db_kwargs):
        database_id = db_kwargs["db_instance_identifier"]
        database = self.databases.get(database_id)
        if database is None:
            raise DBInstanceNotFoundError(database_id)
        if not database.is_replica:
            raise invalid_instance_state("DB Instance is not a read replica.")
        require_available(database)
        detach_replica(database)
        updates = {
            k: v
            for k, v in dict(db_kwargs).items()
            if k in ("backup_retention_period", "preferred_backup_window")
        }
        database.update(**updates)
        begin_instance(database, "modifying", "available")
        return database

    RDSBackend.promote_read_replica = promote_read_replica

    # -- 4. deletion --------------------------------------------------------------------------

    stock_delete = RDSBackend.delete_db_instance

    def delete_db_instance(
        self,
        db_instance_identifier,
        final_db_snapshot_identifier=None,
        skip_final_snapshot=False,
        delete_automated_backups=True,
        **_ignored,
    ):
        self._validate_db_identifier(db_instance_identifier)
        database = self.databases.get(db_instance_identifier)
        if database is None:
            raise DBInstanceNotFoundError(db_instance_identifier)
        if database.status == "deleting":
            raise invalid_instance_state(
                f"Instance {database.db_instance_identifier} is already being deleted."
            )
        if database.deletion_protection:
            raise InvalidParameterCombination(
                "Cannot delete protected DB Instance, please disable deletion protection and try again."
            )
        if final_db_snapshot_identifier and not skip_final_snapshot:
            if database.status != "available":
                raise invalid_instance_state(
                    "Cannot create a snapshot because the database instance "
                    f"{database.db_instance_identifier} is not currently in the available state."
                )
        if database.is_replica:
            detach_replica(database)
        if delete_automated_backups is None:
            delete_automated_backups = True
        database = stock_delete(
            self,
            db_instance_identifier,
            final_db_snapshot_identifier=final_db_snapshot_identifier,
            skip_final_snapshot=skip_final_snapshot,
            delete_automated_backups=delete_automated_backups,
        )
        if not transitions_immediate(INSTANCE_MODEL):
            begin_instance(database, "deleting", "deleted")
            # Stays visible as "deleting" until the progression reaches the end;
            # DescribeDBInstances then drops it and answers DBInstanceNotFound.
            self.databases[database.db_instance_identifier] = database
        return database

    RDSBackend.delete_db_instance = delete_db_instance

    # -- stop / start ----------------------------------------------------------------------

    stock_stop = RDSBackend.stop_db_instance
    stock_start = RDSBackend.start_db_instance

    def stop_db_instance(self, db_instance_identifier, db_snapshot_identifier=None):
        database = stock_stop(self, db_instance_identifier, db_snapshot_identifier)
        begin_instance(database, "stopping", "stopped")
        return database

    def start_db_instance(self, db_instance_identifier):
        database = stock_start(self, db_instance_identifier)
        begin_instance(database, "starting", "available")
        return database

    RDSBackend.stop_db_instance = stop_db_instance
    RDSBackend.start_db_instance = start_db_instance

    # -- responses -----------------------------------------------------------------------------

    def _filters(params) -> dict:
        return {f["Name"]: f["Values"] for f in params.get("Filters", []) or []}

    def r_describe_db_instances(self):
        identifier = self.params.get("DBInstanceIdentifier")
        backend = self.backend
        found = backend.describe_db_instances(identifier, filters=_filters(self.params))
        visible = []
        for db in found:
            db._emu_advance()
            if db.status == "deleted":
                if backend.databases.get(db.db_instance_identifier) is db:
                    backend.databases.pop(db.db_instance_identifier)
                continue
            visible.append(db)
        if identifier and not visible:
            raise DBInstanceNotFoundError(identifier)
        return PaginatedResult({"DBInstances": visible})

    RDSResponse.describe_db_instances = r_describe_db_instances

    def r_reboot_db_instance(self):
        identifier = self.params.get("DBInstanceIdentifier")
        force_failover = self.params.get("ForceFailover")
        if isinstance(force_failover, str):
            force_failover = force_failover.lower() == "true"
        database = self.backend.describe_db_instances(identifier)[0]
        if force_failover and not database.multi_az:
            raise InvalidParameterCombination(
                "Reboot with failover is not supported for a non-Multi-AZ instance."
            )
        require_available(database)
        if force_failover:
            primary = database.availability_zone
            secondary = database.secondary_availability_zone
            database.availability_zone = secondary
            database.__dict__["_emu_secondary_az"] = primary
        begin_instance(database, "rebooting", "available")
        return ActionResult({"DBInstance": database})

    RDSResponse.reboot_db_instance = r_reboot_db_instance

    stock_r_modify = RDSResponse.modify_db_instance

    def r_modify_db_instance(self):
        identifier = self.params.get("DBInstanceIdentifier")
        database = self.backend.describe_db_instances(identifier)[0]
        require_available(database)
        result = stock_r_modify(self)
        apply_immediately = self.params.get("ApplyImmediately")
        if isinstance(apply_immediately, str):
            apply_immediately = apply_immediately.lower() == "true"
        if apply_immediately:
            begin_instance(result.result["DBInstance"], "modifying", "available")
        return result

    RDSResponse.modify_db_instance = r_modify_db_instance

    stock_r_create_snapshot = RDSResponse.create_db_snapshot

    def r_create_db_snapshot(self):
        identifier = self.params.get("DBInstanceIdentifier")
        database = self.backend.databases.get(identifier)
        if database is not None and database.status != "available":
            raise invalid_instance_state(
                "Cannot create a snapshot because the database instance "
                f"{database.db_instance_identifier} is not currently in the available state."
            )
        result = stock_r_create_snapshot(self)
        begin(result.result["DBSnapshot"], SNAPSHOT_MODEL, ["creating", "available"])
        if database is not None:
            begin_instance(database, "backing-up", "available")
        return result

    RDSResponse.create_db_snapshot = r_create_db_snapshot

    stock_r_copy_snapshot = RDSResponse.copy_db_snapshot

    def r_copy_db_snapshot(self):
        result = stock_r_copy_snapshot(self)
        begin(result.result["DBSnapshot"], SNAPSHOT_MODEL, ["creating", "available"])
        return result

    RDSResponse.copy_db_snapshot = r_copy_db_snapshot

    stock_r_describe_snapshots = RDSResponse.describe_db_snapshots

    def r_describe_db_snapshots(self):
        result = stock_r_describe_snapshots(self)
        for snapshot in result.result["DBSnapshots"]:
            if isinstance(snapshot, DBSnapshot):
                snapshot._emu_advance()
        return result

    RDSResponse.describe_db_snapshots = r_describe_db_snapshots

    # -- 5. automated backups replication -----------------------------------------------------

    arn_re = re.compile(r"^arn:(aws[a-z-]*):rds:([a-z0-9-]+):(\d{12}):db:([A-Za-z0-9-]+)$")

    def _replications_in(backend) -> dict:
        # destination backend: source ARN -> ReplicatedBackup (cleared by /moto-api/reset,
        # which re-initialises every backend)
        return backend.__dict__.setdefault("_emu_backup_replications", {})

    def _outgoing_from(backend) -> dict:
        # source backend: source identifier -> {destination region: ReplicatedBackup}
        return backend.__dict__.setdefault("_emu_backup_replications_out", {})

    class ReplicatedBackup:
        """A DBInstanceAutomatedBackup replicated into another region."""

        def __init__(self, source, dest_region, retention, kms_key_id):
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=26))
            self.source_region = source.region
            self.source_account = source.account_id
            self.db_instance_arn = source.db_instance_arn
            self.dbi_resource_id = source.dbi_resource_id
            self.region = source.region
            self.db_instance_identifier = source.db_instance_identifier
            self.allocated_storage = source.allocated_storage
            self._status = "replicating"
            self.port = source.port
            self.availability_zone = source.availability_zone
            self.instance_create_time = source.created
            self.master_username = source.master_username
            self.engine = source.engine
            self.engine_version = source.engine_version
            self.license_model = source.license_model
            self.iops = source.iops
            self.option_group_name = source.option_group_name
            self.encrypted = bool(source.storage_encrypted)
            self.storage_type = source.storage_type
            self.kms_key_id = kms_key_id if source.storage_encrypted else None
            self.iam_database_authentication_enabled = bool(
                source.enable_iam_database_authentication
            )
            self.backup_retention_period = retention
            self.preferred_backup_window = source.preferred_backup_window
            self.db_instance_automated_backups_arn = (
                f"arn:{source.partition}:rds:{dest_region}:{source.account_id}"
                f":auto-backup:ab-{suffix}"
            )
            self.backup_target = "region"
            self.restore_window = {"EarliestTime": utcnow(), "LatestTime": utcnow()}

        @property
        def status(self):
            if self._status == "replicating":
                source_backend = rds_backends[self.source_account][self.source_region]
                if self.db_instance_identifier not in source_backend.databases:
                    return "retained"  # source deleted: AWS keeps the replicated backups
            return self._status

    def _parse_source_arn(arn):
        match = arn_re.match(arn or "")
        if not match:
            raise InvalidParameterValue(
                f"Invalid source DB instance ARN: {arn}. Expected arn:aws:rds:<region>:<account>:db:<identifier>."
            )
        return match.group(2), match.group(3), match.group(4).lower()

    def r_start_replication(self):
        source_arn = self.params.get("SourceDBInstanceArn")
        source_region, account, source_id = _parse_source_arn(source_arn)
        if source_region == self.region:
            raise InvalidParameterValue(
                "The source DB instance must be in a different AWS Region than the "
                "automated backups replication."
            )
        source_backend = rds_backends[account][source_region]
        source = source_backend.databases.get(source_id)
        if source is None or source.status == "deleting":
            raise DBInstanceNotFoundError(source_id)
        if not source.backup_retention_period:
            raise invalid_instance_state(
                f"Automated backups are not enabled for DB instance {source.db_instance_identifier}."
            )
        replications = _replications_in(self.backend)
        if source.db_instance_arn in replications:
            raise RDSClientError(
                "InvalidDBInstanceAutomatedBackupState",
                f"Automated backups of DB instance {source.db_instance_identifier} are "
                f"already replicating to {self.region}.",
            )
        retention = self.params.get("BackupRetentionPeriod")
        retention = int(retention) if retention not in (None, "") else 7
        kms_key_id = self.params.get("KmsKeyId")
        backup = ReplicatedBackup(source, self.region, retention, kms_key_id)
        replications[source.db_instance_arn] = backup
        _outgoing_from(source_backend).setdefault(source_id, {})[self.region] = backup
        return ActionResult({"DBInstanceAutomatedBackup": backup})

    def r_stop_replication(self):
        source_arn = self.params.get("SourceDBInstanceArn")
        source_region, account, source_id = _parse_source_arn(source_arn)
        source_backend = rds_backends[account][source_region]
        canonical = (
            f"arn:{arn_re.match(source_arn).group(1)}:rds:{source_region}:{account}:db:{source_id}"
        )
        replications = _replications_in(self.backend)
        backup = replications.get(canonical)
        if backup is None:
            if source_id not in source_backend.databases:
                raise DBInstanceNotFoundError(source_id)
            # AWS answers InvalidDBInstanceState "... not replicating to the current region"
            raise invalid_instance_state(
                f"The automated backups of DB instance {source_id} are not replicating "
                "to the current region."
            )
        del replications[canonical]
        _outgoing_from(source_backend).get(source_id, {}).pop(self.region, None)
        backup._status = "stopping"
        return ActionResult({"DBInstanceAutomatedBackup": backup})

    stock_r_describe_backups = RDSResponse.describe_db_instance_automated_backups

    def r_describe_automated_backups(self):
        identifier = self.params.get("DBInstanceIdentifier")
        backups_arn = self.params.get("DBInstanceAutomatedBackupsArn")
        resource_id = self.params.get("DbiResourceId")
        if backups_arn:
            local = []
        else:
            local = list(stock_r_describe_backups(self).result["DBInstanceAutomatedBackups"])
        replicated = list(_replications_in(self.backend).values())
        if identifier:
            replicated = [
                b for b in replicated if b.db_instance_identifier == identifier.lower()
            ]
        if backups_arn:
            replicated = [
                b for b in replicated if b.db_instance_automated_backups_arn == backups_arn
            ]
            if not replicated:
                raise RDSClientError(
                    "DBInstanceAutomatedBackupNotFound",
                    f"Automated backup {backups_arn} not found.",
                )
        if resource_id:
            replicated = [b for b in replicated if b.dbi_resource_id == resource_id]
            local = [
                b
                for b in local
                if b.automated_snapshots
                and b.automated_snapshots[0].dbi_resource_id == resource_id
            ]
        return ActionResult({"DBInstanceAutomatedBackups": local + replicated})

    RDSResponse.start_db_instance_automated_backups_replication = r_start_replication
    RDSResponse.stop_db_instance_automated_backups_replication = r_stop_replication
    RDSResponse.describe_db_instance_automated_backups = r_describe_automated_backups

    # The source instance lists its replications (DescribeDBInstances
    # DBInstanceAutomatedBackupsReplications), as AWS does.
    def db_instance_automated_backups_replications(self):
        outgoing = self.backend.__dict__.get("_emu_backup_replications_out", {})
        return [
            {"DBInstanceAutomatedBackupsArn": b.db_instance_automated_backups_arn}
            for b in outgoing.get(self.db_instance_identifier, {}).values()
        ] or None

    DBInstance.db_instance_automated_backups_replications = property(
        db_instance_automated_backups_replications
    )


# ---------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------


def _write_port_file(path: str, port: int) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".port-", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{port}\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _watch_parent(pid: int, on_exit) -> None:
    def loop() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                on_exit()
                os._exit(0)
            except PermissionError:
                pass  # exists, owned by someone else

    threading.Thread(target=loop, name="parent-watch", daemon=True).start()


def _warm_up(app) -> None:
    """Answer STS GetCallerIdentity in-process before listening, so that no client pays for a cold start.

    moto creates the default account's backends on its first request and, on the next request of any
    service, IAM's managed policies for every partition (about 0.8 s here, far more on a loaded machine).
    runbook asks STS who approves a gate with a 15 s deadline; paying that cost inside it could leave an
    approval naming no AWS identity.
    """
    from werkzeug.test import Client

    scope = "testing/20260101/us-east-1/sts/aws4_request"
    headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    for _ in range(2):
        response = Client(app).post("/", data="Action=GetCallerIdentity&Version=2011-06-15", headers=headers)
        if response.status_code != 200:
            print(f"runbook-emulator: STS warm-up answered {response.status_code}", file=sys.stderr)


def _start_dataplane():
    """Start the data plane (binaries, OS user, template), or exit 2 with one line."""
    from pgserver import PgError, RunAs, Toolkit, find_bindir

    from dataplane import DataPlane

    bindir = find_bindir()
    if bindir is None:
        print(
            "runbook-emulator: PostgreSQL binaries (initdb, postgres, pg_basebackup, psql) not "
            "found; install the Debian package postgresql or pass --no-dataplane",
            file=sys.stderr,
        )
        sys.exit(2)
    try:
        dataplane = DataPlane(Toolkit(bindir, RunAs.resolve()))
    except (PgError, OSError) as exc:
        print(f"runbook-emulator: data plane: {exc}; or pass --no-dataplane", file=sys.stderr)
        sys.exit(2)
    atexit.register(dataplane.shutdown)
    return dataplane


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="emulator.py", description="runbook's local AWS emulator (moto 5.2.x)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default 0)")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument(
        "--no-dataplane", action="store_true",
        help="no PostgreSQL servers behind RDS instances (control plane only)",
    )
    args = parser.parse_args(argv)

    _check_moto()
    dataplane = None if args.no_dataplane else _start_dataplane()
    shutdown = dataplane.shutdown if dataplane else (lambda: None)
    if args.parent_pid:
        _watch_parent(args.parent_pid, shutdown)

    install_patches()

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    _warm_up(app)
    if dataplane:
        import dataplane_patches
        from dataplane_hooks import HookMiddleware

        dataplane_patches.install(dataplane)
        app = HookMiddleware(app, dataplane)
    server = make_server(args.host, args.port, app, threaded=True)
    # Do not wait for idle keep-alive connections when shutting down.
    server.block_on_close = False
    port = server.server_port
    # moto uses MOTO_PORT for URLs it hands out (e.g. SQS queue URLs)
    os.environ.setdefault("MOTO_PORT", str(port))

    def stop(signum, frame):  # noqa: ARG001
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    # The socket is bound and listening: connections are accepted from here on.
    if args.port_file:
        _write_port_file(args.port_file, port)
    print(f"runbook-emulator listening on http://{args.host}:{port}", flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
        shutdown()


if __name__ == "__main__":
    main()
