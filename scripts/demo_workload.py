#!/usr/bin/env python3
"""The demo's application: commits a row every 100 ms on the primary while promote-secondary runs.

Usage: demo_workload.py write ENDPOINT NAME OUT STOPFILE   -- write until STOPFILE exists, then save what was acknowledged
       demo_workload.py check ENDPOINT NAME OUT             -- compare the acknowledged rows with the promoted writer's

Connects as the RDS master user with the instance's RDS-managed secret (read from the emulator's Secrets Manager);
the password goes to psql through PGPASSWORD only, never to the output.
"""
import json
import os
import subprocess
import sys
import time

import boto3


def client(service, endpoint, region):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="demo", aws_secret_access_key="demo")


def connection(endpoint, identifier, region, primary):
    db = client("rds", endpoint, region).describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    source = client("rds", endpoint, "us-east-1").describe_db_instances(DBInstanceIdentifier=primary)["DBInstances"][0]
    secret = json.loads(client("secretsmanager", endpoint, "us-east-1").get_secret_value(
        SecretId=source["MasterUserSecret"]["SecretArn"])["SecretString"])
    env = dict(os.environ, PGPASSWORD=secret["password"], PGCONNECT_TIMEOUT="2")
    argv = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", db["Endpoint"]["Address"],
            "-p", str(db["Endpoint"]["Port"]), "-U", secret["username"], "-d", "postgres", "-c"]
    return argv, env


def sql(conn, statement):
    argv, env = conn
    return subprocess.run(argv + [statement], env=env, capture_output=True, text=True, timeout=10)


def write(endpoint, name, out, stop):
    conn = connection(endpoint, name, "us-east-1", name)
    sql(conn, "CREATE TABLE IF NOT EXISTS demo_workload (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())")
    acknowledged, failed, i = [], 0, 0
    while not os.path.exists(stop):
        i += 1
        if sql(conn, f"INSERT INTO demo_workload (id) VALUES ({i})").returncode == 0:
            acknowledged.append(i)
        else:
            failed += 1
        time.sleep(0.1)
    with open(out, "w") as f:
        json.dump({"acknowledged": acknowledged, "failed": failed}, f)


def check(endpoint, name, out):
    with open(out) as f:
        written = json.load(f)
    conn = connection(endpoint, name + "-replica", "us-west-2", name)
    found = sql(conn, "SELECT id FROM demo_workload")
    present = {int(x) for x in found.stdout.split()} if found.returncode == 0 else set()
    lost = [i for i in written["acknowledged"] if i not in present]
    print(f"workload: {len(written['acknowledged'])} rows acknowledged by the old primary "
          f"({written['failed']} writes refused once it was fenced); {len(written['acknowledged']) - len(lost)} "
          f"of them on the promoted writer; lost: {len(lost)}")


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(*sys.argv[2:6])
    else:
        check(*sys.argv[2:5])
