#!/usr/bin/env bash
# The main job on this machine, with nothing but the repository: build runbook, start the local AWS
# emulator on a loopback port (with a real PostgreSQL server behind every RDS instance), provision the
# multi-region DR topology, drill a Multi-AZ failover with a canary writer, promote the secondary region
# while an application writes, and print what was measured from the databases. Never talks to real AWS: every AWS call goes to the emulator it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/ensure-emulator.sh
mkdir -p "$root/.demo"
echo "== building runbook (the first build compiles the dependencies: several minutes; log: .demo/build.log)"
if ! swift build --product runbook > "$root/.demo/build.log" 2>&1; then
  tail -40 "$root/.demo/build.log"
  echo "the build failed; the whole log is in .demo/build.log"
  exit 1
fi
bin="$(swift build --show-bin-path)/runbook"

demo="$root/.demo"
mkdir -p "$demo"
rm -f "$demo/port"
python3 Tests/Emulator/emulator.py --port 0 --port-file "$demo/port" --parent-pid $$ > "$demo/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  [ -s "$demo/port" ] && break
  kill -0 $emulator 2>/dev/null || { echo "the emulator did not start:"; cat "$demo/emulator.log"; exit 1; }
  sleep 0.2
done
[ -s "$demo/port" ] || { echo "the emulator did not start in 30 s:"; cat "$demo/emulator.log"; exit 1; }
endpoint="http://127.0.0.1:$(cat "$demo/port")"
echo "== local AWS emulator at $endpoint (log: .demo/emulator.log)"

# Only the emulator: dummy credentials, no profile, every service at the loopback endpoint.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1
export RUNBOOK_DB="$demo/runbook.sqlite" RUNBOOK_PATH="$root/Runbooks"

# Make RDS behave like AWS: instances pass through creating/modifying/rebooting for a few polls,
# so the waiters have something to wait for.
python3 - "$endpoint" <<'PY'
import json, sys, urllib.request
for model in ("rds::dbinstance", "rds::dbsnapshot"):
    body = json.dumps({"model_name": model, "transition": {"progression": "manual", "times": 2}}).encode()
    urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/moto-api/state-manager/set-transition", data=body, method="POST")).read()
PY

name="financial-db-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$bin" aws whoami
echo
echo "== runbook run provision --param name=$name"
"$bin" run provision --param name="$name" --param poll_interval=100ms

# The emulator publishes the replica's real ReplicaLag every 5 s; publish a first datapoint now (0 s: it has
# just caught up) so promote-secondary's metric pre-check need not wait for it.
python3 - "$endpoint" "$name" <<'PY'
import sys, boto3
cw = boto3.client("cloudwatch", endpoint_url=sys.argv[1], region_name="us-west-2",
                  aws_access_key_id="demo", aws_secret_access_key="demo")
cw.put_metric_data(Namespace="AWS/RDS", MetricData=[{"MetricName": "ReplicaLag", "Value": 0.0, "Unit": "Seconds",
    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": sys.argv[2] + "-replica"}]}])
PY
echo
echo "== runbook run drill --param name=$name --param measure_writes=true"
"$bin" run drill --param name="$name" --param poll_interval=100ms --param measure_writes=true | tee "$demo/drill.out"

echo
echo "== an application commits a row every 100 ms on the primary (scripts/demo_workload.py)"
rm -f "$demo/workload.stop" "$demo/workload.json"
python3 scripts/demo_workload.py write "$endpoint" "$name" "$demo/workload.json" "$demo/workload.stop" &
workload=$!
trap 'touch "$demo/workload.stop"; kill $emulator 2>/dev/null || true' EXIT
sleep 2
echo "== runbook run promote-secondary --param name=$name --yes   (while it writes)"
set +e
"$bin" run promote-secondary --param name="$name" --param poll_interval=100ms --yes | tee "$demo/promote.out"
status=${PIPESTATUS[0]}
set -e
sleep 1
touch "$demo/workload.stop"
wait $workload || true
promote=$(head -1 "$demo/promote.out" | awk '{print $2}')
echo
echo "== runbook history $promote"
"$bin" history "$promote"
echo
echo "== runbook runs"
"$bin" runs
echo
"$bin" audit verify
echo "state: $RUNBOOK_DB (try: RUNBOOK_DB=$RUNBOOK_DB $bin audit export $promote --format csv)"
echo
echo "== measured from the databases"
figure() { grep -E "^  $2 = " "$demo/$1" | tail -1 | sed 's/^  //'; }
echo "drill:             $(figure drill.out recovery_seconds), $(figure drill.out write_outage_seconds), $(figure drill.out lost_rows)"
echo "promote-secondary: $(figure promote.out fenced), $(figure promote.out rpo_bytes), $(figure promote.out rpo_seconds), $(figure promote.out rpo_basis)"
python3 scripts/demo_workload.py check "$endpoint" "$name" "$demo/workload.json"
"$bin" report "$promote" --output "$demo/report.html" --force > /dev/null
"$bin" report "$promote" --format markdown --output "$demo/report.md" --force > /dev/null
echo
echo "== the report of the promotion, for the auditor"
sed -n '/^## Recovery objectives/,/^## Timeline/p' "$demo/report.md" | sed '$d'
echo "report: .demo/report.html (open it in a browser; markdown: .demo/report.md; json: $bin report $promote --format json)"
exit "$status"
