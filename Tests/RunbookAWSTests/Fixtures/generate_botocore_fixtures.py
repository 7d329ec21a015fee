#!/usr/bin/env python3
"""Regenerates botocore-reference.json: reference values from botocore for RunbookAWS's tests.

    python3 Tests/RunbookAWSTests/Fixtures/generate_botocore_fixtures.py

(run from the repository root; it rewrites the JSON file beside this script). The Swift tests
(BotocoreFixtureTests.swift) compare RunbookAWS's output with these values; they do not run Python.

Everything is fixed (keys, time, tokens), so a regeneration with the same botocore gives the same
file. What is recorded:

- "json": AWS JSON 1.1 requests (Secrets Manager) as botocore's own serializer builds them
  (`botocore.serialize.create_serializer('json')` with the installed service model), prepared with
  `botocore.awsrequest` and signed with `botocore.auth.SigV4Auth` at a fixed time: method, path,
  headers, the exact body, and `canonicalBody`. botocore writes the body with `json.dumps`'
  default separators (`", "`, `": "`) and `\\uXXXX` escapes; `canonicalBody` is that same body
  parsed and written compactly with sorted keys and raw UTF-8, the form RunbookAWS sends, and
  `canonicalBodyAuthorization` is SigV4Auth's Authorization header for the request with that body.
- "query": RDS Query-protocol request bodies exactly as botocore puts them on the wire
  (`urlencode`, so a space is `+`). Parameters are given in the order RunbookAWS sets them.
- "authTokens": RDS IAM auth tokens from `generate_db_auth_token` on a botocore RDS client with
  fixed credentials, `botocore.auth.get_current_datetime` patched to a fixed time.
"""

import copy
import datetime
import json
import os
import sys
from unittest import mock

import botocore
import botocore.auth
import botocore.serialize
import botocore.session
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "botocore-reference.json")

EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z
NOW = datetime.datetime.fromtimestamp(EPOCH, datetime.timezone.utc).replace(tzinfo=None)
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FQoGZXIvYXdzEXAMPLE//token+with/odd=chars"

session = botocore.session.get_session()


def frozen():
    return mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: NOW)


def signed(request_dict, region, token):
    """The request prepared for the wire and signed by SigV4Auth at the fixed time."""
    aws_request = create_request_object(request_dict)
    with frozen():
        botocore.auth.SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), "secretsmanager", region).add_auth(aws_request)
    return aws_request.prepare()


def json_case(name, operation, params, region="us-east-1", token=None):
    model = session.get_service_model("secretsmanager").operation_model(operation)
    request = botocore.serialize.create_serializer("json").serialize_to_request(params, model)
    prepare_request_dict(request, f"https://secretsmanager.{region}.amazonaws.com")
    prepared = signed(copy.deepcopy(request), region, token)
    body = prepared.body.decode("utf-8")
    canonical = json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    # The same request with the compact body, signed by botocore: the signature covers the body's
    # hash, so this is the Authorization header RunbookAWS must produce for the bytes it sends.
    request["body"] = canonical.encode("utf-8")
    compact = signed(request, region, token)
    return {
        "name": name,
        "operation": operation,
        "region": region,
        "sessionToken": token,
        "params": params,
        "method": prepared.method,
        "url": prepared.url,
        "headers": {k: v for k, v in prepared.headers.items() if k.lower() in ("x-amz-target", "content-type")},
        "body": body,
        "canonicalBody": canonical,
        "canonicalBodyAuthorization": compact.headers["Authorization"],
    }


def query_case(name, operation, params):
    model = session.get_service_model("rds").operation_model(operation)
    request = botocore.serialize.create_serializer("query").serialize_to_request(params, model)
    prepare_request_dict(request, "https://rds.us-east-1.amazonaws.com")
    prepared = create_request_object(request).prepare()
    return {"name": name, "operation": operation, "params": params, "body": prepared.body}


def token_case(name, host, port, user, region, token=None):
    client = session.create_client(
        "rds", region_name="eu-west-1", aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, aws_session_token=token
    )
    with frozen():
        value = client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region)
    return {"name": name, "host": host, "port": port, "user": user, "region": region, "sessionToken": token, "token": value}


def main():
    fixtures = {
        "generatedBy": "Tests/RunbookAWSTests/Fixtures/generate_botocore_fixtures.py",
        "botocoreVersion": botocore.__version__,
        "epoch": EPOCH,
        "accessKeyID": ACCESS_KEY,
        "secretAccessKey": SECRET_KEY,
        "json": [
            json_case("getSecretValueByARN", "GetSecretValue",
                      {"SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-3f1e2c9a-1b2c-4d5e-8f90-0a1b2c3d4e5f-AbCdEf"}),
            json_case("getSecretValueByPathWithStage", "GetSecretValue",
                      {"SecretId": "prod/financial-db/master", "VersionStage": "AWSPREVIOUS"}, region="us-west-2", token=SESSION_TOKEN),
            json_case("createSecretWithTags", "CreateSecret", {
                "ClientRequestToken": "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                "Description": "Fin DB master \u2014 DR drill",
                "Name": "drill/fin-db",
                "SecretString": json.dumps({"username": "dbadmin", "password": "p@ss\"w/rd\\x"}),
                "Tags": [{"Key": "runbook:run-id", "Value": "r-1"}, {"Key": "env", "Value": "dr"}],
            }),
            json_case("deleteSecretForce", "DeleteSecret", {"ForceDeleteWithoutRecovery": True, "SecretId": "drill/fin-db"}),
        ],
        "query": [
            query_case("createDBParameterGroup", "CreateDBParameterGroup", {
                "DBParameterGroupName": "fin-fence-pg", "DBParameterGroupFamily": "postgres15",
                "Description": "Fence: writes off during failover",
                "Tags": [{"Key": "runbook:run-id", "Value": "r-1"}, {"Key": "runbook:step", "Value": "fence"}],
            }),
            query_case("describeDBParameterGroups", "DescribeDBParameterGroups",
                       {"DBParameterGroupName": "fin-fence-pg", "MaxRecords": 20, "Marker": "page/2+"}),
            query_case("modifyDBParameterGroup", "ModifyDBParameterGroup", {
                "DBParameterGroupName": "fin-fence-pg",
                "Parameters": [
                    {"ParameterName": "default_transaction_read_only", "ParameterValue": "on", "ApplyMethod": "immediate"},
                    {"ParameterName": "max_connections", "ParameterValue": "200", "ApplyMethod": "pending-reboot"},
                ],
            }),
            query_case("describeDBParametersUser", "DescribeDBParameters",
                       {"DBParameterGroupName": "fin-fence-pg", "Source": "user", "MaxRecords": 100, "Marker": "m1"}),
            query_case("deleteDBParameterGroup", "DeleteDBParameterGroup", {"DBParameterGroupName": "fin-fence-pg"}),
            query_case("modifyDBInstanceParameterGroupAndSecurityGroups", "ModifyDBInstance", {
                "DBInstanceIdentifier": "financial-db", "ApplyImmediately": True, "DBParameterGroupName": "fin-fence-pg",
                "VpcSecurityGroupIds": ["sg-0fence", "sg-0app"],
            }),
            query_case("modifyDBInstanceRenameIntoParameterGroup", "ModifyDBInstance", {
                "DBInstanceIdentifier": "financial-db", "ApplyImmediately": True,
                "DBParameterGroupName": "financial-db-retired-r1", "NewDBInstanceIdentifier": "financial-db-retired-r1",
            }),
            query_case("modifyDBInstanceManagedPasswordAndIAMAuth", "ModifyDBInstance", {
                "DBInstanceIdentifier": "financial-db", "ApplyImmediately": False,
                "EnableIAMDatabaseAuthentication": True, "ManageMasterUserPassword": True,
            }),
            query_case("createDBInstanceManagedPassword", "CreateDBInstance", {
                "DBInstanceIdentifier": "financial-db", "DBInstanceClass": "db.r5.large", "Engine": "postgres",
                "MasterUsername": "dbadmin", "ManageMasterUserPassword": True,
                "VpcSecurityGroupIds": ["sg-1"], "DBParameterGroupName": "fin-pg",
                "EnableIAMDatabaseAuthentication": True,
                "Tags": [{"Key": "app", "Value": "fin"}],
            }),
        ],
        "authTokens": [
            token_case("postgres", "financial-db.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432, "iam_fence", "us-east-1"),
            token_case("mysqlWithSessionToken", "fin-replica.c9z8y7x6w5v4.us-west-2.rds.amazonaws.com", 3306, "fence.user@corp",
                       "us-west-2", token=SESSION_TOKEN),
            token_case("defaultPortMixedCaseHost", "Fin-DB.C1A2B3.eu-central-1.rds.amazonaws.com", 443, "admin", "eu-central-1"),
        ],
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(fixtures, f, indent=2, ensure_ascii=False, sort_keys=False)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)} (botocore {botocore.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
