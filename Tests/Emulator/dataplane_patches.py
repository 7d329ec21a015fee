"""moto glue for the data plane: each patched RDS operation also acts on the real servers.

install(dataplane) wraps the RDS operations *after* emulator.install_patches() has patched
them, so the control-plane behaviour (statuses, errors) stays what it was; the data-plane
step runs once moto's own checks have passed. Only used without --no-dataplane.
"""

from __future__ import annotations

import json
import secrets
import string
import sys

from dataplane import DataPlane, master_password
from pgserver import PgError

SNAPSHOT_PASSWORD_KEY = "_emu_master_password"  # DBSnapshot.__dict__: the password then

# RDS-generated master passwords: printable ASCII without "/", '"', "@", "'", "\" or spaces.
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "!#$%&()*+,-.:;<=>?[]^_{|}~"
PASSWORD_LENGTH = 32


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def install(dp: DataPlane) -> None:
    """Patch moto so that every RDS PostgreSQL instance has (and drives) a real server."""
    _patch_models(dp)
    _patch_secrets()
    _patch_lifecycle(dp)
    _patch_parameter_groups(dp)
    _patch_snapshots(dp)
    _patch_reset(dp)


def _as_bool(value) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _failure(exc: Exception):
    """A data-plane failure as an AWS-shaped error the caller can read."""
    from moto.rds.exceptions import RDSClientError

    print(f"runbook-emulator: data plane: {exc}", file=sys.stderr, flush=True)
    return RDSClientError("InternalFailure", f"runbook emulator data plane: {exc}")


def _check_port(params) -> None:
    """As on RDS: Port must be 1150-65535 (a server could not listen below 1024 anyway)."""
    from moto.rds.exceptions import InvalidParameterValue

    port = params.get("Port")
    if port is not None and not 1150 <= int(port) <= 65535:
        raise InvalidParameterValue(f"Invalid port {port}: valid values are 1150-65535.")


def _invalid_state(message: str):
    from moto.rds.exceptions import RDSClientError

    return RDSClientError("InvalidDBInstanceState", message)


# -- models: endpoint, parameter-group status ---------------------------------------------


def _patch_models(dp: DataPlane) -> None:
    """Endpoint.Address is the server's loopback address; ParameterApplyStatus is real."""
    from moto.rds.models import DBInstance

    stock_address = DBInstance.address
    stock_status_list = DBInstance.db_parameter_group_status_list

    def address(self):
        record = dp.record_of(self)
        return record.server.host if record is not None else stock_address.fget(self)

    def db_parameter_group_status_list(self):
        in_sync = dp.group_in_sync(self)
        if in_sync is None:
            return stock_status_list.fget(self)
        return [{
            "DBParameterGroupName": self.db_parameter_groups()[0].name,
            "ParameterApplyStatus": "in-sync" if in_sync else "pending-reboot",
        }]

    DBInstance.address = property(address)
    DBInstance.db_parameter_group_status_list = property(db_parameter_group_status_list)


# -- Secrets Manager: the managed master password -------------------------------------------


def _patch_secrets() -> None:
    """ManageMasterUserPassword: moto already creates the secret (with a fixed admin /
    P@55w0rd!); here it holds the real master username and a generated password, it is
    "active", and a rotation really changes the password."""
    from moto.rds.models import MasterUserSecret

    def generate_secret_string(self) -> str:
        return json.dumps(
            {"username": self.resource.master_username, "password": generate_password()}
        )

    def rotate_secret(self) -> None:
        self.secretsmanager.put_secret_value(
            secret_id=self.secret.arn,
            secret_string=generate_secret_string(self),
            secret_binary=None,
            client_request_token=None,
            version_stages=["AWSCURRENT"],
        )

    MasterUserSecret._generate_secret_string = generate_secret_string
    MasterUserSecret.rotate_secret = rotate_secret
    MasterUserSecret.secret_status = property(lambda self: "active")


# -- instance lifecycle ------------------------------------------------------------------------


def _patch_lifecycle(dp: DataPlane) -> None:  # noqa: C901 - one wrapper per operation
    from moto.rds import models as rds_models
    from moto.rds.responses import RDSResponse

    RDSBackend = rds_models.RDSBackend

    def provision(backend, db, make) -> None:
        """Run `make()` for a new instance; on failure the instance is removed again."""
        if not dp.wants_server(db):
            return
        try:
            make()
        except (PgError, OSError) as exc:
            _forget(backend, db)
            raise _failure(exc) from exc

    stock_create = RDSResponse.create_db_instance

    def r_create_db_instance(self):
        _check_port(self.params)
        result = stock_create(self)
        db = result.result["DBInstance"]
        provision(self.backend, db, lambda: dp.provision_primary(db))
        return result

    stock_replica = RDSResponse.create_db_instance_read_replica

    def r_create_db_instance_read_replica(self):
        _check_port(self.params)
        source = self.backend.find_db_from_id(self.params["SourceDBInstanceIdentifier"])
        source_record = dp.record_of(source)
        if source_record is not None and not source_record.server.running:
            raise _invalid_state(
                f"The source instance {source.db_instance_identifier} does not respond."
            )
        result = stock_replica(self)
        replica = result.result["DBInstance"]
        _unshare_copy(replica, source)
        provision(self.backend, replica, lambda: dp.provision_replica(replica, source))
        return result

    stock_restore = RDSResponse.restore_db_instance_from_db_snapshot

    def r_restore_from_snapshot(self):
        _check_port(self.params)
        result = stock_restore(self)
        db = result.result["DBInstance"]
        snapshot = _snapshot_restored(self.backend, self.params.get("DBSnapshotIdentifier"))
        _unshare_copy(db, snapshot.database, snapshot.__dict__.get(SNAPSHOT_PASSWORD_KEY))
        seed = dp.snapshot_data_dir(snapshot)
        provision(self.backend, db, lambda: dp.provision_primary(db, seed_data_dir=seed))
        return result

    stock_pitr = RDSResponse.restore_db_instance_to_point_in_time

    def r_restore_to_point_in_time(self):
        _check_port(self.params)
        source = self.backend.describe_db_instances(self.params.get("SourceDBInstanceIdentifier"))[0]
        result = stock_pitr(self)
        db = result.result["DBInstance"]
        _unshare_copy(db, source)
        provision(self.backend, db, lambda: dp.restore_point_in_time(db, source))
        return result

    stock_promote = RDSBackend.promote_read_replica

    def promote_read_replica(self, db_kwargs):
        db = self.databases.get(db_kwargs["db_instance_identifier"])
        record = dp.record_of(db)
        if record is not None and db.is_replica and not record.server.running:
            raise _invalid_state(
                f"DB instance {db.db_instance_identifier} cannot be promoted: it does not respond."
            )
        database = stock_promote(self, db_kwargs)
        try:
            dp.promote(database)
        except PgError as exc:
            raise _failure(exc) from exc
        return database

    stock_reboot = RDSResponse.reboot_db_instance

    def r_reboot_db_instance(self):
        result = stock_reboot(self)
        try:
            dp.reboot(result.result["DBInstance"], _as_bool(self.params.get("ForceFailover")))
        except PgError as exc:
            raise _failure(exc) from exc
        return result

    stock_modify = RDSResponse.modify_db_instance

    def r_modify_db_instance(self):
        result = stock_modify(self)
        password_keys = ("MasterUserPassword", "ManageMasterUserPassword", "RotateMasterUserPassword")
        if any(self.params.get(k) is not None for k in password_keys):
            try:
                dp.sync_master_password(result.result["DBInstance"])
            except PgError as exc:
                raise _failure(exc) from exc
        return result

    stock_delete = RDSBackend.delete_db_instance

    def delete_db_instance(self, db_instance_identifier, *args, **kwargs):
        database = stock_delete(self, db_instance_identifier, *args, **kwargs)
        dp.discard(database)
        return database

    stock_stop = RDSBackend.stop_db_instance
    stock_start = RDSBackend.start_db_instance

    def stop_db_instance(self, db_instance_identifier, db_snapshot_identifier=None):
        database = stock_stop(self, db_instance_identifier, db_snapshot_identifier)
        dp.stop(database)
        return database

    def start_db_instance(self, db_instance_identifier):
        database = stock_start(self, db_instance_identifier)
        try:
            dp.start(database)
        except PgError as exc:
            raise _failure(exc) from exc
        return database

    RDSResponse.create_db_instance = r_create_db_instance
    RDSResponse.create_db_instance_read_replica = r_create_db_instance_read_replica
    RDSResponse.restore_db_instance_from_db_snapshot = r_restore_from_snapshot
    RDSResponse.restore_db_instance_to_point_in_time = r_restore_to_point_in_time
    RDSResponse.reboot_db_instance = r_reboot_db_instance
    RDSResponse.modify_db_instance = r_modify_db_instance
    RDSBackend.promote_read_replica = promote_read_replica
    RDSBackend.delete_db_instance = delete_db_instance
    RDSBackend.stop_db_instance = stop_db_instance
    RDSBackend.start_db_instance = start_db_instance


def _unshare_copy(db, original, password: str | None = None) -> None:
    """A read replica or a restored instance, which moto builds from `original`'s attributes.

    It must not share the original's server. Nor does it get a managed master password:
    CreateDBInstanceReadReplica has no ManageMasterUserPassword, and for restores the
    parameter applies to RDS for Oracle only. Its master user is the original's (copied with
    the data), so its password is the original's (`password`: the one a snapshot recorded).
    moto shares the original's secret with a replica and creates a new one for a restore;
    the new one is deleted again.
    """
    db.__dict__.pop("_emu_dataplane", None)
    secret = db.__dict__.pop("master_user_secret", None)
    if secret is None:
        return
    if secret is not original.__dict__.get("master_user_secret"):
        secret.delete_secret()
    db.__dict__["_master_user_password"] = password or master_password(original)
    db.manage_master_user_password = False


def _snapshot_restored(backend, identifier: str):
    """The snapshot RestoreDBInstanceFromDBSnapshot used, resolved as stock moto does."""
    if identifier.startswith("arn:"):
        identifier = backend.extract_snapshot_name_from_arn(identifier)
    return backend.describe_db_snapshots(None, db_snapshot_identifier=identifier)[0]


def _forget(backend, db) -> None:
    """Undo a create whose server could not be made (the caller gets an error)."""
    if backend.databases.get(db.db_instance_identifier) is db:
        backend.databases.pop(db.db_instance_identifier)
    if db.is_replica and db.source_db_instance_identifier:
        try:
            backend.find_db_from_id(db.source_db_instance_identifier).remove_replica(db)
        except Exception:  # noqa: BLE001 - best effort: the source may be gone
            pass
    secret = db.__dict__.get("master_user_secret")
    if getattr(db, "manage_master_user_password", False) and secret is not None:
        secret.delete_secret()


# -- parameter groups ------------------------------------------------------------------------


def _patch_parameter_groups(dp: DataPlane) -> None:
    """ModifyDBParameterGroup: "immediate" goes live on the running servers that use the group.
    As on RDS, "immediate" is refused for a static parameter (one that needs a restart)."""
    from moto.rds.exceptions import InvalidParameterCombination
    from moto.rds.responses import RDSResponse

    stock_modify_group = RDSResponse.modify_db_parameter_group

    def r_modify_db_parameter_group(self):
        parameters = [p.original_dict() for p in self.params.get("Parameters", []) or []]
        for parameter in parameters:
            method = str(parameter.get("ApplyMethod", "")).lower()
            if method == "immediate" and dp.is_static(parameter.get("ParameterName", "")):
                raise InvalidParameterCombination(
                    "cannot use immediate apply method for static parameter"
                )
        result = stock_modify_group(self)
        try:
            dp.apply_group_change(self.backend, result.result["DBParameterGroupName"], parameters)
        except PgError as exc:
            raise _failure(exc) from exc
        return result

    RDSResponse.modify_db_parameter_group = r_modify_db_parameter_group


# -- snapshots ---------------------------------------------------------------------------------


def _patch_snapshots(dp: DataPlane) -> None:
    """Manual (and final) snapshots keep a copy of the server's files; copies share them.
    Automated ones (moto takes one when an instance is created) hold no files: restoring one
    gives an empty cluster, which is what the instance held then."""
    from moto.rds.models import RDSBackend

    stock_create_snapshot = RDSBackend.create_db_snapshot
    stock_copy_snapshot = RDSBackend.copy_db_snapshot
    stock_delete_snapshot = RDSBackend.delete_db_snapshot

    def create_db_snapshot(self, db_instance_identifier, db_snapshot_identifier, snapshot_type="manual", *args, **kwargs):
        snapshot = stock_create_snapshot(
            self, db_instance_identifier, db_snapshot_identifier, snapshot_type, *args, **kwargs
        )
        # The master password at snapshot time (a managed secret may be rotated or gone later)
        snapshot.__dict__[SNAPSHOT_PASSWORD_KEY] = master_password(snapshot.database)
        if snapshot_type == "manual":
            try:
                dp.capture_snapshot(snapshot, self.databases.get(db_instance_identifier))
            except PgError as exc:
                self.database_snapshots.pop(db_snapshot_identifier, None)
                raise _failure(exc) from exc
        return snapshot

    def copy_db_snapshot(self, source_db_snapshot_identifier, target_db_snapshot_identifier, *args, **kwargs):
        target = stock_copy_snapshot(
            self, source_db_snapshot_identifier, target_db_snapshot_identifier, *args, **kwargs
        )
        source = self.get_db_snapshot(source_db_snapshot_identifier)
        target.__dict__[SNAPSHOT_PASSWORD_KEY] = source.__dict__.get(SNAPSHOT_PASSWORD_KEY)
        dp.share_snapshot(target, source)
        return target

    def delete_db_snapshot(self, db_snapshot_identifier):
        snapshot = stock_delete_snapshot(self, db_snapshot_identifier)
        dp.drop_snapshot(snapshot)
        return snapshot

    RDSBackend.create_db_snapshot = create_db_snapshot
    RDSBackend.copy_db_snapshot = copy_db_snapshot
    RDSBackend.delete_db_snapshot = delete_db_snapshot


# -- /moto-api/reset -----------------------------------------------------------------------------


def _patch_reset(dp: DataPlane) -> None:
    """A reset empties every backend: the servers and snapshot copies go with them."""
    from moto.moto_api._internal.models import MotoAPIBackend

    stock_reset = MotoAPIBackend.reset

    def reset(self):
        dp.discard_all()
        stock_reset(self)

    MotoAPIBackend.reset = reset
