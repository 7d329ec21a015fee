#!/usr/bin/env python3
"""The demo's application: commits a row every 100 ms on whatever the PRIMARY failover record names.

Usage: demo_workload.py setup ENDPOINT NAME SECRETFILE        -- create its table and database user on the writer
       demo_workload.py write ENDPOINT ZONE SECRETFILE OUT STOPFILE
                                                            -- write until STOPFILE exists, then save what was acknowledged
       demo_workload.py check ENDPOINT ZONE SECRETFILE OUT    -- compare the acknowledged rows with the writer's

Like a real application it logs in as its own user (`app`), not as the master user, so the master password
reprotect rotates does not concern it; it reads the record before each write, as DNS would send it. The
passwords reach psql through PGPASSWORD only, never the output; the app's lives in SECRETFILE (0600).
"""
import json
import os
import secrets
import subprocess
import sys
import time

import boto3


def client(service, endpoint, region="us-east-1"):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="demo", aws_secret_access_key="demo")


def psql(host, user, password, statement):
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="2")
    argv = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", host, "-U", user, "-d", "postgres", "-c", statement]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=10)


def setup(endpoint, name, secret_file):
    db = client("rds", endpoint).describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    master = json.loads(client("secretsmanager", endpoint).get_secret_value(
        SecretId=db["MasterUserSecret"]["SecretArn"])["SecretString"])
    password = secrets.token_urlsafe(18)
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password)
    host = db["Endpoint"]["Address"]
    for statement in ("CREATE TABLE IF NOT EXISTS demo_workload (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())",
                      f"CREATE ROLE app LOGIN PASSWORD '{password}'", "GRANT SELECT, INSERT ON demo_workload TO app"):
        result = psql(host, master["username"], master["password"], statement)
        if result.returncode != 0:
            raise SystemExit("workload setup failed: " + result.stderr.strip().replace(password, "***"))


def writer_address(endpoint, zone):
    route53 = client("route53", endpoint)
    for hosted in route53.list_hosted_zones()["HostedZones"]:
        if hosted["Name"] == zone + ".":
            for record in route53.list_resource_record_sets(HostedZoneId=hosted["Id"])["ResourceRecordSets"]:
                if record.get("Failover") == "PRIMARY":
                    return record["ResourceRecords"][0]["Value"]
    return None


def write(endpoint, zone, secret_file, out, stop):
    password = open(secret_file).read()
    acknowledged, failed, i = [], 0, 0
    while not os.path.exists(stop):
        i += 1
        host = writer_address(endpoint, zone)
        if host and psql(host, "app", password, f"INSERT INTO demo_workload (id) VALUES ({i})").returncode == 0:
            acknowledged.append(i)
        else:
            failed += 1
        time.sleep(0.1)
    with open(out, "w") as f:
        json.dump({"acknowledged": acknowledged, "failed": failed}, f)


def check(endpoint, zone, secret_file, out):
    with open(out) as f:
        written = json.load(f)
    host = writer_address(endpoint, zone)
    found = psql(host, "app", open(secret_file).read(), "SELECT id FROM demo_workload")
    present = {int(x) for x in found.stdout.split()} if found.returncode == 0 else set()
    lost = [i for i in written["acknowledged"] if i not in present]
    print(f"workload: {len(written['acknowledged'])} rows acknowledged ({written['failed']} writes refused while the writer "
          f"was fenced or moving); {len(written['acknowledged']) - len(lost)} of them on today's writer ({host}); lost: {len(lost)}")


if __name__ == "__main__":
    {"setup": lambda a: setup(*a[:3]), "write": lambda a: write(*a[:5]), "check": lambda a: check(*a[:4])}[sys.argv[1]](sys.argv[2:])
