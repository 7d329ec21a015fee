#!/usr/bin/env python3
"""Self-check for Tests/Emulator/emulator.py.

Starts the launcher on a free loopback port, drives it with boto3 and asserts each
behaviour the launcher adds. Last line: "N passed, N failed"; exit status 1 on failure.

    python3 Tests/Emulator/check_emulator.py                  # with the data plane
    python3 Tests/Emulator/check_emulator.py --no-dataplane   # control plane only

With the data plane the checks also connect to the real PostgreSQL servers with psql.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(HERE, "emulator.py")
EAST, WEST = "us-east-1", "us-west-2"
ACCOUNT = "123456789012"

passed = 0
failed = 0
endpoint = ""
NO_DATAPLANE = "--no-dataplane" in sys.argv[1:]
LAUNCHER_FLAGS = ["--no-dataplane"] if NO_DATAPLANE else []


def check(name, fn):
    global passed, failed
    began = time.time()
    try:
        fn()
    except Exception:  # noqa: BLE001 - report every failure and carry on
        failed += 1
        print(f"FAIL {name}")
        traceback.print_exc(limit=4)
    else:
        passed += 1
        print(f"ok   {name} ({time.time() - began:.1f} s)")


def start_emulator(port_file, extra=()):
    proc = subprocess.Popen(
        [sys.executable, LAUNCHER, "--port", "0", "--port-file", port_file, *LAUNCHER_FLAGS, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        if os.path.exists(port_file):
            break
        if proc.poll() is not None:
            raise RuntimeError(f"launcher exited early with {proc.returncode}")
        time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("launcher did not write its port file within 30 s")
    return proc


_clients: dict = {}


def client(service, region=EAST):
    key = (endpoint, service, region)
    if key not in _clients:
        _clients[key] = _new_client(service, region)
    return _clients[key]


def _new_client(service, region):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def moto_api(path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(f"{endpoint}/moto-api/{path}", data=data, method="POST")
    with urllib.request.urlopen(req) as resp:
        return resp.status


def manual(model="rds::dbinstance", times=1):
    moto_api(
        "state-manager/set-transition",
        {"model_name": model, "transition": {"progression": "manual", "times": times}},
    )


def unset(model="rds::dbinstance"):
    moto_api("state-manager/unset-transition", {"model_name": model})


def reset():
    # Checks use distinct resource names, so they share one backend state (a full
    # /moto-api/reset re-creates every backend and costs ~1.5 s each time); only the
    # transitions are put back to their defaults.
    unset("rds::dbinstance")
    unset("rds::dbsnapshot")


def expect_error(code, status, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as exc:
        err = exc.response["Error"]
        got = (err.get("Code"), exc.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"expected {(code, status)}, got {got}: {err}"
        assert err.get("Type") == "Sender", f"error Type {err.get('Type')!r}"
        return err
    raise AssertionError(f"expected {code}, call succeeded")


def create_instance(rds, ident, **overrides):
    kwargs = dict(
        DBInstanceIdentifier=ident,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        EngineVersion="15.4",
        MasterUsername="dbadmin",
        MasterUserPassword="FinancialDB2024!",
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
    )
    kwargs.update(overrides)
    return rds.create_db_instance(**kwargs)["DBInstance"]


def describe(rds, ident):
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def statuses_until_available(rds, ident, limit=20):
    seen = []
    for _ in range(limit):
        status = describe(rds, ident)["DBInstanceStatus"]
        seen.append(status)
        if status == "available":
            return seen
    raise AssertionError(f"{ident} never became available: {seen}")


def dedupe(seq):
    out = []
    for item in seq:
        if not out or out[-1] != item:
            out.append(item)
    return out


# ---------------------------------------------------------------------------------------


def t_immediate_default():
    reset()
    rds = client("rds")
    db = create_instance(rds, "imm-db")
    assert db["DBInstanceStatus"] == "available", db["DBInstanceStatus"]
    assert describe(rds, "imm-db")["DBInstanceStatus"] == "available"
    r = rds.reboot_db_instance(DBInstanceIdentifier="imm-db")["DBInstance"]
    assert r["DBInstanceStatus"] == "available", r["DBInstanceStatus"]
    moto_api(
        "state-manager/set-transition",
        {"model_name": "rds::dbinstance", "transition": {"progression": "immediate"}},
    )
    m = rds.modify_db_instance(
        DBInstanceIdentifier="imm-db", AllocatedStorage=30, ApplyImmediately=True
    )["DBInstance"]
    assert m["DBInstanceStatus"] == "available", m["DBInstanceStatus"]
    d = rds.delete_db_instance(DBInstanceIdentifier="imm-db", SkipFinalSnapshot=True)
    assert d["DBInstance"]["DBInstanceStatus"] == "deleting"
    expect_error("DBInstanceNotFound", 404, describe, rds, "imm-db")


def t_manual_create():
    reset()
    manual(times=1)
    rds = client("rds")
    db = create_instance(rds, "man-db")
    assert db["DBInstanceStatus"] == "creating", db["DBInstanceStatus"]
    seen = ["creating"] + statuses_until_available(rds, "man-db")
    assert dedupe(seen) == ["creating", "backing-up", "available"], seen
    # times=N: each status is reported by N describes
    manual(times=2)
    create_instance(rds, "man-db2", BackupRetentionPeriod=0)
    seen = statuses_until_available(rds, "man-db2")
    assert seen == ["creating", "available"], seen


def t_manual_reboot_modify_snapshot():
    reset()
    rds = client("rds")
    create_instance(rds, "ops-db")
    manual(times=1)
    r = rds.reboot_db_instance(DBInstanceIdentifier="ops-db")["DBInstance"]
    assert r["DBInstanceStatus"] == "rebooting", r["DBInstanceStatus"]
    # AWS refuses operations on an instance that is not available
    expect_error("InvalidDBInstanceState", 400, rds.reboot_db_instance, DBInstanceIdentifier="ops-db")
    assert statuses_until_available(rds, "ops-db") == ["available"]

    m = rds.modify_db_instance(
        DBInstanceIdentifier="ops-db", DeletionProtection=False, ApplyImmediately=True
    )["DBInstance"]
    assert m["DBInstanceStatus"] == "modifying", m["DBInstanceStatus"]
    assert statuses_until_available(rds, "ops-db") == ["available"]

    # moto's "manual" semantics: the Nth describe after the change shows the next status
    manual(times=2)
    manual("rds::dbsnapshot", times=2)
    snap = rds.create_db_snapshot(
        DBInstanceIdentifier="ops-db", DBSnapshotIdentifier="ops-snap"
    )["DBSnapshot"]
    assert snap["Status"] == "creating", snap["Status"]
    assert describe(rds, "ops-db")["DBInstanceStatus"] == "backing-up"
    expect_error(
        "InvalidDBInstanceState", 400,
        rds.create_db_snapshot, DBInstanceIdentifier="ops-db", DBSnapshotIdentifier="ops-snap2",
    )
    assert describe(rds, "ops-db")["DBInstanceStatus"] == "available"
    seen = [
        rds.describe_db_snapshots(DBSnapshotIdentifier="ops-snap")["DBSnapshots"][0]["Status"]
        for _ in range(2)
    ]
    assert seen == ["creating", "available"], seen


def t_manual_delete_and_unset():
    reset()
    rds = client("rds")
    create_instance(rds, "del-db")
    manual(times=1)
    d = rds.delete_db_instance(DBInstanceIdentifier="del-db", SkipFinalSnapshot=True)
    assert d["DBInstance"]["DBInstanceStatus"] == "deleting"
    expect_error(
        "InvalidDBInstanceState", 400,
        rds.delete_db_instance, DBInstanceIdentifier="del-db", SkipFinalSnapshot=True,
    )
    expect_error("DBInstanceNotFound", 404, describe, rds, "del-db")
    # unset-transition: pending progressions finish at once
    create_instance(rds, "unset-db")
    unset()
    assert describe(rds, "unset-db")["DBInstanceStatus"] == "available"


def t_manual_stop_start_restore():
    reset()
    rds = client("rds")
    create_instance(rds, "ss-db")
    rds.create_db_snapshot(DBInstanceIdentifier="ss-db", DBSnapshotIdentifier="ss-snap")
    manual(times=1)
    assert rds.stop_db_instance(DBInstanceIdentifier="ss-db")["DBInstance"]["DBInstanceStatus"] == "stopping"
    assert describe(rds, "ss-db")["DBInstanceStatus"] == "stopped"
    assert rds.start_db_instance(DBInstanceIdentifier="ss-db")["DBInstance"]["DBInstanceStatus"] == "starting"
    assert describe(rds, "ss-db")["DBInstanceStatus"] == "available"
    r = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="ss-restored", DBSnapshotIdentifier="ss-snap"
    )["DBInstance"]
    assert r["DBInstanceStatus"] == "creating", r["DBInstanceStatus"]
    assert statuses_until_available(rds, "ss-restored")[-1] == "available"


def t_failover():
    reset()
    rds = client("rds")
    create_instance(rds, "maz-db", MultiAZ=True)
    before = describe(rds, "maz-db")
    assert before["MultiAZ"] is True
    az, sec = before["AvailabilityZone"], before.get("SecondaryAvailabilityZone")
    assert sec and sec != az and sec.startswith(EAST), (az, sec)
    manual(times=1)
    r = rds.reboot_db_instance(DBInstanceIdentifier="maz-db", ForceFailover=True)["DBInstance"]
    assert r["DBInstanceStatus"] == "rebooting"
    assert statuses_until_available(rds, "maz-db") == ["available"]
    after = describe(rds, "maz-db")
    assert (after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == (sec, az), after
    unset()
    create_instance(rds, "saz-db")
    assert "SecondaryAvailabilityZone" not in describe(rds, "saz-db")
    expect_error(
        "InvalidParameterCombination", 400,
        rds.reboot_db_instance, DBInstanceIdentifier="saz-db", ForceFailover=True,
    )


def _subnet_group(region, name):
    ec2 = client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{region}{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    client("rds", region).create_db_subnet_group(
        DBSubnetGroupName=name, DBSubnetGroupDescription="check", SubnetIds=subnets
    )


def t_cross_region_replica_promotion():
    reset()
    east, west = client("rds", EAST), client("rds", WEST)
    east.create_db_parameter_group(
        DBParameterGroupName="fin-pg", DBParameterGroupFamily="postgres15", Description="x"
    )
    _subnet_group(WEST, "west-only-subnets")
    src = create_instance(east, "src-db", DBParameterGroupName="fin-pg", MultiAZ=True,
                          DeletionProtection=True)
    manual(times=1)
    rep = west.create_db_instance_read_replica(
        DBInstanceIdentifier="rep-db",
        SourceDBInstanceIdentifier=src["DBInstanceArn"],
        DBInstanceClass="db.t3.micro",
        DBSubnetGroupName="west-only-subnets",
    )["DBInstance"]
    assert rep["DBInstanceStatus"] == "creating", rep["DBInstanceStatus"]
    assert statuses_until_available(west, "rep-db")[-1] == "available"
    unset()
    rep = describe(west, "rep-db")  # would be HTTP 500 if fin-pg were kept
    assert rep["ReadReplicaSourceDBInstanceIdentifier"] == src["DBInstanceArn"]
    assert rep["DBSubnetGroup"]["DBSubnetGroupName"] == "west-only-subnets"
    assert rep["AvailabilityZone"].startswith(WEST), rep["AvailabilityZone"]
    assert rep["DBParameterGroups"][0]["DBParameterGroupName"].startswith("default."), rep[
        "DBParameterGroups"
    ]
    assert rep["MultiAZ"] is False and rep["DeletionProtection"] is False
    listed = describe(east, "src-db")["ReadReplicaDBInstanceIdentifiers"]
    assert listed == [rep["DBInstanceArn"]], listed

    manual(times=1)
    p = west.promote_read_replica(DBInstanceIdentifier="rep-db")["DBInstance"]
    assert p["DBInstanceStatus"] == "modifying", p["DBInstanceStatus"]
    assert statuses_until_available(west, "rep-db") == ["available"]
    unset()
    assert "ReadReplicaSourceDBInstanceIdentifier" not in describe(west, "rep-db")
    assert not describe(east, "src-db").get("ReadReplicaDBInstanceIdentifiers")
    expect_error("InvalidDBInstanceState", 400, west.promote_read_replica,
                 DBInstanceIdentifier="rep-db")
    expect_error("InvalidDBInstanceState", 400, east.promote_read_replica,
                 DBInstanceIdentifier="src-db")
    expect_error("DBInstanceNotFound", 404, east.promote_read_replica,
                 DBInstanceIdentifier="nope-db")


def t_same_region_promotion():
    reset()
    rds = client("rds")
    create_instance(rds, "sr-src")
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="sr-rep", SourceDBInstanceIdentifier="sr-src"
    )
    assert describe(rds, "sr-src")["ReadReplicaDBInstanceIdentifiers"] == ["sr-rep"]
    rds.promote_read_replica(DBInstanceIdentifier="sr-rep")
    assert not describe(rds, "sr-src").get("ReadReplicaDBInstanceIdentifiers")
    assert "ReadReplicaSourceDBInstanceIdentifier" not in describe(rds, "sr-rep")


def t_delete_cross_region_replica():
    reset()
    east, west = client("rds", EAST), client("rds", WEST)
    src = create_instance(east, "dsrc-db")
    west.create_db_instance_read_replica(
        DBInstanceIdentifier="drep-db", SourceDBInstanceIdentifier=src["DBInstanceArn"]
    )
    resp = west.delete_db_instance(DBInstanceIdentifier="drep-db", SkipFinalSnapshot=True)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["DBInstance"]["DBInstanceIdentifier"] == "drep-db"
    expect_error("DBInstanceNotFound", 404, describe, west, "drep-db")
    assert not describe(east, "dsrc-db").get("ReadReplicaDBInstanceIdentifiers")


def t_backup_replication():
    reset()
    east, west = client("rds", EAST), client("rds", WEST)
    src = create_instance(east, "bk-db")
    arn = src["DBInstanceArn"]
    b = west.start_db_instance_automated_backups_replication(
        SourceDBInstanceArn=arn, BackupRetentionPeriod=7
    )["DBInstanceAutomatedBackup"]
    assert b["DBInstanceArn"] == arn and b["DBInstanceIdentifier"] == "bk-db", b
    assert b["Region"] == EAST and b["Status"] == "replicating", b
    assert b["BackupRetentionPeriod"] == 7, b
    backups_arn = b["DBInstanceAutomatedBackupsArn"]
    assert backups_arn.startswith(f"arn:aws:rds:{WEST}:{ACCOUNT}:auto-backup:ab-"), backups_arn

    listed = west.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
    assert [x["DBInstanceAutomatedBackupsArn"] for x in listed] == [backups_arn], listed
    by_id = west.describe_db_instance_automated_backups(DBInstanceIdentifier="bk-db")
    assert len(by_id["DBInstanceAutomatedBackups"]) == 1
    by_arn = west.describe_db_instance_automated_backups(DBInstanceAutomatedBackupsArn=backups_arn)
    assert by_arn["DBInstanceAutomatedBackups"][0]["Status"] == "replicating"
    repl = describe(east, "bk-db")["DBInstanceAutomatedBackupsReplications"]
    assert repl == [{"DBInstanceAutomatedBackupsArn": backups_arn}], repl

    expect_error(
        "InvalidDBInstanceAutomatedBackupState", 400,
        west.start_db_instance_automated_backups_replication, SourceDBInstanceArn=arn,
    )
    expect_error(
        "DBInstanceNotFound", 404,
        west.start_db_instance_automated_backups_replication,
        SourceDBInstanceArn=f"arn:aws:rds:{EAST}:{ACCOUNT}:db:missing-db",
    )
    s = west.stop_db_instance_automated_backups_replication(SourceDBInstanceArn=arn)
    assert s["DBInstanceAutomatedBackup"]["DBInstanceAutomatedBackupsArn"] == backups_arn
    assert s["DBInstanceAutomatedBackup"]["Status"] == "stopping"
    assert west.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"] == []
    assert not describe(east, "bk-db").get("DBInstanceAutomatedBackupsReplications")
    err = expect_error(
        "InvalidDBInstanceState", 400,
        west.stop_db_instance_automated_backups_replication, SourceDBInstanceArn=arn,
    )
    assert "not replicating to the current region" in err["Message"], err
    expect_error(
        "DBInstanceAutomatedBackupNotFound", 404,
        west.describe_db_instance_automated_backups, DBInstanceAutomatedBackupsArn=backups_arn,
    )


def t_cross_region_copy_and_restore():
    reset()
    east, west = client("rds", EAST), client("rds", WEST)
    _subnet_group(WEST, "west-restore-subnets")
    create_instance(east, "cp-src", MultiAZ=True, DeletionProtection=True, StorageEncrypted=True)
    snap = east.create_db_snapshot(DBInstanceIdentifier="cp-src", DBSnapshotIdentifier="cp-snap")["DBSnapshot"]
    manual(model="rds::dbsnapshot", times=1)
    manual(times=1)
    copy = west.copy_db_snapshot(
        SourceDBSnapshotIdentifier=snap["DBSnapshotArn"], TargetDBSnapshotIdentifier="cp-copy",
        SourceRegion=EAST, KmsKeyId="alias/aws/rds", Tags=[{"Key": "k", "Value": "v"}],
    )["DBSnapshot"]
    assert copy["DBSnapshotArn"].startswith(f"arn:aws:rds:{WEST}:"), copy["DBSnapshotArn"]
    assert copy["Status"] == "creating", copy["Status"]
    assert west.describe_db_snapshots(DBSnapshotIdentifier="cp-copy")["DBSnapshots"][0]["Status"] == "available"
    assert [s["DBSnapshotIdentifier"] for s in east.describe_db_snapshots(DBSnapshotIdentifier="cp-snap")["DBSnapshots"]] == ["cp-snap"]
    expect_error("DBSnapshotNotFound", 404, east.describe_db_snapshots, DBSnapshotIdentifier="cp-copy")
    r = west.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="cp-restored", DBSnapshotIdentifier="cp-copy", MultiAZ=False,
        DBSubnetGroupName="west-restore-subnets",
    )["DBInstance"]
    assert r["DBInstanceStatus"] == "creating", r["DBInstanceStatus"]
    assert r["DBInstanceArn"].startswith(f"arn:aws:rds:{WEST}:"), r["DBInstanceArn"]
    assert (r["MultiAZ"], r["DeletionProtection"]) == (False, False), (r["MultiAZ"], r["DeletionProtection"])
    assert r["AvailabilityZone"].startswith(WEST), r["AvailabilityZone"]
    assert r["DBSubnetGroup"]["DBSubnetGroupName"] == "west-restore-subnets"
    assert statuses_until_available(west, "cp-restored") == ["backing-up", "available"]
    west.delete_db_instance(DBInstanceIdentifier="cp-restored", SkipFinalSnapshot=True)
    unset()
    unset("rds::dbsnapshot")
    src = describe(east, "cp-src")
    assert (src["MultiAZ"], src["DeletionProtection"]) == (True, True), "the source is unchanged"


def t_managed_policies():
    reset()
    iam = client("iam")
    iam.create_role(
        RoleName="rds-promotion-role",
        AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }),
    )
    for arn in (
        "arn:aws:iam::aws:policy/AmazonRDSFullAccess",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    ):
        iam.attach_role_policy(RoleName="rds-promotion-role", PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName="rds-promotion-role")["AttachedPolicies"]
    assert {p["PolicyName"] for p in attached} == {
        "AmazonRDSFullAccess", "AWSLambdaBasicExecutionRole"}, attached


def t_error_xml_shape():
    body = "Action=DescribeDBInstances&Version=2014-10-31&DBInstanceIdentifier=absent-db"
    req = urllib.request.Request(
        endpoint + "/", data=body.encode(), method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/rds/aws4_request, "
                             "SignedHeaders=host, Signature=0",
        },
    )
    try:
        urllib.request.urlopen(req)
    except urllib.error.HTTPError as exc:
        text = exc.read().decode()
        assert exc.code == 404, exc.code
        for piece in ("<ErrorResponse", "<Type>Sender</Type>", "<Code>DBInstanceNotFound</Code>",
                      "<Message>", "<RequestId>"):
            assert piece in text, (piece, text)
    else:
        raise AssertionError("expected HTTP 404")


def t_parent_pid_exit():
    with tempfile.TemporaryDirectory() as tmp:
        parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        child = start_emulator(os.path.join(tmp, "port"), ["--parent-pid", str(parent.pid)])
        try:
            root = None
            if not NO_DATAPLANE:  # its servers go with it
                ep = f"http://127.0.0.1:{int(open(os.path.join(tmp, 'port')).read())}"
                create_instance(_client_at(ep, "rds", EAST), "orphan-db")
                root = hook("instances", ep=ep)[1]["root"]
                assert processes_matching(root)
            parent.kill()
            parent.wait()
            child.wait(timeout=5)
            assert child.returncode == 0, child.returncode
            if root:
                assert not processes_matching(root), "servers outlived the emulator"
                assert not os.path.exists(root), root
            if DP.get("killed_root"):
                assert not os.path.exists(DP["killed_root"]), "a SIGKILLed emulator's root is swept"
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

# ---------------------------------------------------------------------------------------
# Data plane: real PostgreSQL servers behind the RDS instances
# ---------------------------------------------------------------------------------------

DP = {}  # what the data-plane checks hand to each other (they run in order)


def hook(name, body=None, ep=None):
    """Call a data-plane test hook; returns (HTTP status, JSON body)."""
    url = f"{ep or endpoint}/runbook-emulator/dataplane/{name}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def dp_instance(identifier, region=EAST, ep=None):
    status, body = hook(f"instances?identifier={identifier}&region={region}", ep=ep)
    assert status == 200 and len(body["instances"]) == 1, (status, body)
    return body["instances"][0]


def psql(db, sql, password=None, user=None, database="fin", check=True):
    """Run SQL on an instance's Endpoint over TCP (SCRAM) as the master user."""
    env = dict(os.environ, PGPASSWORD=password or DP["password"], PGCONNECT_TIMEOUT="3")
    argv = [
        "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
        "-h", db["Endpoint"]["Address"], "-p", str(db["Endpoint"]["Port"]),
        "-U", user or DP["user"], "-d", database, "-c", sql,
    ]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    if check and out.returncode != 0:
        raise AssertionError(f"psql on {db['DBInstanceIdentifier']} failed: {out.stderr.strip()}")
    return out


def count_rows(db):
    return int(psql(db, "SELECT count(*) FROM ledger").stdout.strip())


def eventually(fn, timeout=10.0, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s (last: {value!r})")
        time.sleep(interval)


def processes_matching(pattern):
    """Live pids (not zombies) whose command line matches `pattern` (pgrep -f)."""
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    pids = []
    for pid in out.stdout.split():
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                    pids.append(int(pid))
        except OSError:
            pass
    return [p for p in pids if p != os.getpid()]


def server_processes(instance):
    """The postmaster (-D data_dir) and its backends (process title cluster_name:)."""
    return processes_matching(f"{instance['data_dir']} |{instance['cluster_name']}:")


def t_dp_primary_with_managed_secret():
    east = client("rds", EAST)
    east.create_db_parameter_group(
        DBParameterGroupName="dp-fin-pg", DBParameterGroupFamily="postgres15", Description="dp"
    )
    db = east.create_db_instance(
        DBInstanceIdentifier="dp-primary", DBInstanceClass="db.t3.micro", Engine="postgres",
        EngineVersion="15.4", MasterUsername="finadmin", ManageMasterUserPassword=True,
        AllocatedStorage=20, MultiAZ=True, DBName="fin", DBParameterGroupName="dp-fin-pg",
    )["DBInstance"]
    address, port = db["Endpoint"]["Address"], db["Endpoint"]["Port"]
    assert address.startswith("127.0.1.") and port == 5432, db["Endpoint"]
    info = dp_instance("dp-primary")
    assert (info["host"], info["port"], info["role"], info["running"]) == (address, port, "primary", True), info
    secret_ref = db["MasterUserSecret"]
    assert secret_ref["SecretStatus"] == "active" and secret_ref["KmsKeyId"], secret_ref
    value = client("secretsmanager", EAST).get_secret_value(SecretId=secret_ref["SecretArn"])
    secret = json.loads(value["SecretString"])
    assert secret["username"] == "finadmin" and len(secret["password"]) >= 20, secret
    DP.update(user=secret["username"], password=secret["password"], primary=db)
    psql(db, "CREATE TABLE ledger (id int PRIMARY KEY, note text);"
             "INSERT INTO ledger SELECT g, 'before replica' FROM generate_series(1, 3) g")
    assert count_rows(db) == 3
    roles = psql(db, "SELECT rolsuper, rolcreatedb, rolcreaterole, pg_has_role('pg_monitor', 'USAGE'),"
                     " pg_has_role('pg_signal_backend', 'USAGE') FROM pg_roles WHERE rolname = current_user")
    assert roles.stdout.strip() == "f|t|t|t|t", roles.stdout
    wrong = psql(db, "SELECT 1", password="not-the-password", check=False)
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr, wrong.stderr


def t_dp_cross_region_replica():
    west = client("rds", WEST)
    rep = west.create_db_instance_read_replica(
        DBInstanceIdentifier="dp-replica", SourceDBInstanceIdentifier=DP["primary"]["DBInstanceArn"],
        DBInstanceClass="db.t3.micro",
    )["DBInstance"]
    assert rep["Endpoint"]["Address"] != DP["primary"]["Endpoint"]["Address"], rep["Endpoint"]
    assert "MasterUserSecret" not in rep, "a read replica does not manage the master password"
    info = dp_instance("dp-replica", WEST)
    assert info["role"] == "standby" and info["running"], info
    DP["replica"] = rep
    eventually(lambda: count_rows(rep) == 3, what="rows on the replica")
    assert psql(rep, "SELECT pg_is_in_recovery()").stdout.strip() == "t"
    write = psql(rep, "INSERT INTO ledger VALUES (100, 'x')", check=False)
    assert "25006" in write.stderr, write.stderr


def _lag_max(since):
    stats = client("cloudwatch", WEST).get_metric_statistics(
        Namespace="AWS/RDS", MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "dp-replica"}],
        StartTime=since, EndTime=time.time() + 60, Period=60, Statistics=["Maximum"],
    )["Datapoints"]
    return max((p["Maximum"] for p in stats), default=None)


def t_dp_pause_replay_lag():
    primary, rep = DP["primary"], DP["replica"]
    began = time.time()
    assert _lag_max(began - 60) is not None, "a replica publishes ReplicaLag at once"
    status, body = hook("pause-replay", {"identifier": "dp-replica", "region": WEST})
    assert status == 200 and body["replay_pause_state"] in ("paused", "pause requested"), body
    psql(primary, "INSERT INTO ledger SELECT g, 'while paused' FROM generate_series(4, 5) g")
    time.sleep(0.5)
    assert count_rows(rep) == 3, "rows committed after the pause must not be replayed"
    lag = eventually(lambda: (_lag_max(began) or 0) > 0, timeout=12, interval=0.5, what="ReplicaLag > 0")
    status, body = hook("resume-replay", {"identifier": "dp-replica", "region": WEST})
    assert status == 200 and body["replay_pause_state"] == "not paused", body
    eventually(lambda: count_rows(rep) == 5, what="rows replayed after resume")
    status, body = hook("pause-replay", {"identifier": "dp-primary", "region": EAST})
    assert status == 409, (status, body)
    assert lag


def t_dp_force_failover_keeps_committed_rows():
    primary = DP["primary"]
    before = dp_instance("dp-primary")
    env = dict(os.environ, PGPASSWORD=DP["password"])
    session = subprocess.Popen(
        ["psql", "-X", "-h", before["host"], "-U", DP["user"], "-d", "fin", "-c", "SELECT pg_sleep(60)"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    eventually(lambda: psql(primary, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'").stdout.strip() == "1",
               what="the long session is running")
    r = client("rds", EAST).reboot_db_instance(DBInstanceIdentifier="dp-primary", ForceFailover=True)["DBInstance"]
    assert r["Endpoint"] == primary["Endpoint"], (r["Endpoint"], primary["Endpoint"])
    session.wait(timeout=10)
    assert session.returncode != 0, "the open connection must drop"
    after = dp_instance("dp-primary")
    assert after["pid"] != before["pid"] and after["running"], (before, after)
    assert count_rows(primary) == 5
    eventually(lambda: psql(DP["replica"], "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'").stdout.strip() == "1",
               what="the replica streams again")


def t_dp_parameter_groups():
    east = client("rds", EAST)
    east.create_db_parameter_group(
        DBParameterGroupName="dp-ro-pg", DBParameterGroupFamily="postgres15", Description="read-only"
    )
    east.modify_db_parameter_group(DBParameterGroupName="dp-ro-pg", Parameters=[
        {"ParameterName": "default_transaction_read_only", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}])
    expect_error("InvalidParameterCombination", 400, east.modify_db_parameter_group,
                 DBParameterGroupName="dp-ro-pg", Parameters=[
                     {"ParameterName": "shared_buffers", "ParameterValue": "4096", "ApplyMethod": "immediate"}])
    common = dict(DBInstanceClass="db.t3.micro", Engine="postgres", EngineVersion="15.4",
                  MasterUsername="finadmin", MasterUserPassword=DP["password"], AllocatedStorage=20, DBName="fin")
    moved = east.create_db_instance(DBInstanceIdentifier="dp-moved", **common)["DBInstance"]
    born = east.create_db_instance(DBInstanceIdentifier="dp-born-ro", DBParameterGroupName="dp-ro-pg", **common)["DBInstance"]
    born_write = psql(born, "CREATE TABLE t (x int)", check=False)
    assert "25006" in born_write.stderr, ("created with the group: read-only at start", born_write.stderr)
    psql(moved, "CREATE TABLE t (x int)")
    m = east.modify_db_instance(DBInstanceIdentifier="dp-moved", DBParameterGroupName="dp-ro-pg",
                                ApplyImmediately=True)["DBInstance"]
    assert m["DBParameterGroups"] == [{"DBParameterGroupName": "dp-ro-pg", "ParameterApplyStatus": "pending-reboot"}], m["DBParameterGroups"]
    psql(moved, "INSERT INTO t VALUES (1)")  # the new group is not applied before a reboot
    east.reboot_db_instance(DBInstanceIdentifier="dp-moved")
    groups = describe(east, "dp-moved")["DBParameterGroups"]
    assert groups == [{"DBParameterGroupName": "dp-ro-pg", "ParameterApplyStatus": "in-sync"}], groups
    assert "25006" in psql(moved, "INSERT INTO t VALUES (2)", check=False).stderr
    east.modify_db_parameter_group(DBParameterGroupName="dp-ro-pg", Parameters=[
        {"ParameterName": "default_transaction_read_only", "ParameterValue": "0", "ApplyMethod": "immediate"}])
    psql(moved, "INSERT INTO t VALUES (3)")
    psql(born, "CREATE TABLE t (x int)")
    for ident in ("dp-moved", "dp-born-ro"):
        east.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)


def t_dp_read_only_group_on_primary_only():
    primary, rep = DP["primary"], DP["replica"]
    client("rds", EAST).modify_db_parameter_group(DBParameterGroupName="dp-fin-pg", Parameters=[
        {"ParameterName": "default_transaction_read_only", "ParameterValue": "1", "ApplyMethod": "immediate"}])
    out = psql(primary, "INSERT INTO ledger VALUES (6, 'read-only?')", check=False)
    assert out.returncode != 0 and "25006" in out.stderr, out.stderr
    assert psql(primary, "SHOW default_transaction_read_only").stdout.strip() == "on"
    assert psql(rep, "SHOW default_transaction_read_only").stdout.strip() == "off", "the replica's group is another"
    groups = describe(client("rds", EAST), "dp-primary")["DBParameterGroups"]
    assert groups == [{"DBParameterGroupName": "dp-fin-pg", "ParameterApplyStatus": "in-sync"}], groups


def t_dp_snapshot_restore():
    east, west = client("rds", EAST), client("rds", WEST)
    snap = east.create_db_snapshot(DBInstanceIdentifier="dp-primary", DBSnapshotIdentifier="dp-snap")["DBSnapshot"]
    west.copy_db_snapshot(SourceDBSnapshotIdentifier=snap["DBSnapshotArn"], TargetDBSnapshotIdentifier="dp-snap-copy",
                          SourceRegion=EAST)
    restored = west.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="dp-restored", DBSnapshotIdentifier="dp-snap-copy")["DBInstance"]
    assert count_rows(restored) == 5, "a restore has the snapshot's rows"
    psql(restored, "INSERT INTO ledger VALUES (50, 'restored')")  # its own (default) group
    assert count_rows(DP["primary"]) == 5, "the source is unchanged"
    info = dp_instance("dp-restored", WEST)
    west.delete_db_instance(DBInstanceIdentifier="dp-restored", SkipFinalSnapshot=True)
    assert eventually(lambda: not server_processes(info), timeout=5, what="restored server gone")


def t_dp_promote_replica():
    rep = DP["replica"]
    client("rds", WEST).promote_read_replica(DBInstanceIdentifier="dp-replica")
    assert dp_instance("dp-replica", WEST)["role"] == "primary"
    assert psql(rep, "SELECT pg_is_in_recovery()").stdout.strip() == "f"
    psql(rep, "INSERT INTO ledger VALUES (7, 'after promotion')")
    timeline = psql(rep, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)").stdout.strip()
    assert int(timeline, 16) >= 2, f"a new timeline, got {timeline}"
    assert count_rows(rep) == 6


def t_dp_kill_and_start_hooks():
    primary = DP["primary"]
    status, body = hook("kill", {"identifier": "dp-primary", "region": EAST})
    assert status == 200 and body["state"] == "killed" and not body["running"], body
    assert not server_processes(body), "no process of a killed server remains"
    out = psql(primary, "SELECT 1", check=False)
    assert out.returncode != 0 and "Connection refused" in out.stderr, out.stderr
    assert describe(client("rds", EAST), "dp-primary")["DBInstanceStatus"] == "available"
    client("rds", EAST).reboot_db_instance(DBInstanceIdentifier="dp-primary")
    assert not dp_instance("dp-primary")["running"], "a reboot does not revive a dead region"
    status, body = hook("start", {"identifier": "dp-primary", "region": EAST})
    assert status == 200 and body["running"], body
    assert count_rows(primary) == 5
    assert hook("kill", {"identifier": "no-such-db"})[0] == 404


def t_dp_delete_frees_everything():
    east, west = client("rds", EAST), client("rds", WEST)
    infos = [dp_instance("dp-primary"), dp_instance("dp-replica", WEST)]
    east.modify_db_instance(DBInstanceIdentifier="dp-primary", DeletionProtection=False, ApplyImmediately=True)
    west.delete_db_instance(DBInstanceIdentifier="dp-replica", SkipFinalSnapshot=True)
    east.delete_db_instance(DBInstanceIdentifier="dp-primary", SkipFinalSnapshot=True)
    for info in infos:
        eventually(lambda: not server_processes(info), timeout=5, what=f"{info['identifier']} processes gone")
        assert not os.path.exists(info["data_dir"]), info["data_dir"]
    out = psql(DP["primary"], "SELECT 1", check=False)
    assert out.returncode != 0 and "Connection refused" in out.stderr, out.stderr
    _, body = hook("instances")
    assert not [i for i in body["instances"] if i["identifier"].startswith("dp-")], body


def t_dp_sigkill_leaves_no_server():
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_emulator(os.path.join(tmp, "port"))
        try:
            ep = f"http://127.0.0.1:{int(open(os.path.join(tmp, 'port')).read())}"
            rds = _client_at(ep, "rds", EAST)
            create_instance(rds, "kill-src")
            _client_at(ep, "rds", WEST).create_db_instance_read_replica(
                DBInstanceIdentifier="kill-rep",
                SourceDBInstanceIdentifier=f"arn:aws:rds:{EAST}:{ACCOUNT}:db:kill-src")
            _, body = hook("instances", ep=ep)
            assert len(body["instances"]) == 2 and all(i["running"] for i in body["instances"]), body
            assert processes_matching(body["root"])
            proc.kill()
            proc.wait()
            eventually(lambda: not processes_matching(body["root"]), timeout=5,
                       what="no postgres process after SIGKILL")
            DP["killed_root"] = body["root"]  # the next emulator sweeps it (t_parent_pid_exit)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def t_dp_missing_binaries_exit_2():
    env = dict(os.environ, RUNBOOK_EMULATOR_PG_BINDIR="/nonexistent")
    out = subprocess.run([sys.executable, LAUNCHER, "--port", "0"], env=env,
                         capture_output=True, text=True, timeout=30)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, (out.returncode, out.stderr)
    assert "postgresql" in lines[0] and "--no-dataplane" in lines[0], lines[0]


def _client_at(ep, service, region):
    global endpoint
    saved, endpoint = endpoint, ep
    try:
        return _new_client(service, region)
    finally:
        endpoint = saved


DATAPLANE_CHECKS = [
    ("data plane: Multi-AZ primary, managed secret, psql to Endpoint", t_dp_primary_with_managed_secret),
    ("data plane: cross-region replica streams the rows", t_dp_cross_region_replica),
    ("data plane: paused replay hides new rows, ReplicaLag > 0; resume", t_dp_pause_replay_lag),
    ("data plane: forced failover drops connections, keeps rows", t_dp_force_failover_keeps_committed_rows),
    ("data plane: parameter groups at start, pending-reboot, immediate", t_dp_parameter_groups),
    ("data plane: read-only group on the primary only (25006)", t_dp_read_only_group_on_primary_only),
    ("data plane: snapshot, cross-region copy, restore has the rows", t_dp_snapshot_restore),
    ("data plane: promoted replica is writable on a new timeline", t_dp_promote_replica),
    ("data plane: kill hook refuses connections; start hook", t_dp_kill_and_start_hooks),
    ("data plane: delete stops the servers and frees the files", t_dp_delete_frees_everything),
    ("data plane: SIGKILLed emulator leaves no postgres process", t_dp_sigkill_leaves_no_server),
    ("data plane: missing PostgreSQL binaries exit 2", t_dp_missing_binaries_exit_2),
]


def main():
    global endpoint
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "emulator.port")
        proc = start_emulator(port_file)
        try:
            text = open(port_file).read()
            assert text.strip().isdigit() and text.endswith("\n"), repr(text)
            port = int(text)
            endpoint = f"http://127.0.0.1:{port}"
            line = proc.stdout.readline().strip()
            check("listening line", lambda: _assert_eq(
                line, f"runbook-emulator listening on http://127.0.0.1:{port}"))
            check("/moto-api/reset answers 200", lambda: _assert_eq(moto_api("reset"), 200))
            for name, fn in [
                ("transitions off: immediate statuses", t_immediate_default),
                ("transitions manual: create creating->backing-up->available", t_manual_create),
                ("transitions manual: reboot, modify, snapshot", t_manual_reboot_modify_snapshot),
                ("transitions manual: delete deleting->gone; unset", t_manual_delete_and_unset),
                ("transitions manual: stop, start, restore from snapshot", t_manual_stop_start_restore),
                ("forced failover swaps AZs; single-AZ refused", t_failover),
                ("cross-region replica: region-local groups; promotion detaches",
                 t_cross_region_replica_promotion),
                ("same-region promotion detaches", t_same_region_promotion),
                ("delete un-promoted cross-region replica answers 200", t_delete_cross_region_replica),
                ("automated backups replication start/describe/stop", t_backup_replication),
                ("cross-region CopyDBSnapshot + RestoreDBInstanceFromDBSnapshot", t_cross_region_copy_and_restore),
                ("AWS-managed IAM policies attachable", t_managed_policies),
                ("error XML shape", t_error_xml_shape),
            ] + ([] if NO_DATAPLANE else DATAPLANE_CHECKS) + [
                ("--parent-pid: exits when parent is gone (and its servers)", t_parent_pid_exit),
            ]:
                check(name, fn)
            if NO_DATAPLANE:
                check("--no-dataplane: stock endpoint, no hooks", t_no_dataplane)
            root = None if NO_DATAPLANE else hook("instances")[1]["root"]

            def sigterm():
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=5)
                assert proc.returncode == 0, proc.returncode
                if root:
                    eventually(lambda: not processes_matching(root), timeout=3, what="servers stopped")
                    assert not os.path.exists(root), f"{root} left behind"

            check("SIGTERM exits cleanly", sigterm)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print(f"({time.time() - started:.1f} s)")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def t_no_dataplane():
    db = create_instance(client("rds"), "nodp-db")
    assert db["Endpoint"]["Address"] == "nodp-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com", db["Endpoint"]
    req = urllib.request.Request(f"{endpoint}/runbook-emulator/dataplane/instances")
    try:
        body = urllib.request.urlopen(req).read()
    except urllib.error.HTTPError:
        return
    assert b'"instances"' not in body, body


def _assert_eq(a, b):
    assert a == b, (a, b)


if __name__ == "__main__":
    main()
