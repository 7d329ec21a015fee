#!/usr/bin/env bash
# The main job on this machine, with nothing but the repository: build runbook, start the local AWS
# emulator on a loopback port (with a real PostgreSQL server behind every RDS instance), provision the
# multi-region DR topology, drill a Multi-AZ failover with a canary writer, then while an application writes:
# switch over to the other region, reprotect, fail back, reprotect, and promote the secondary region as in
# an outage; print what was measured from the databases and write the promotion's report. Never talks to real AWS: every AWS call goes to the emulator it starts.
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
rm -f "$demo"/runbook.sqlite "$demo"/runbook.sqlite-wal "$demo"/runbook.sqlite-shm  # each demo starts a fresh emulator: no earlier runs
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
# Each run's progress goes to .demo/NAME.out; what is shown is its summary (the lines after its progress).
runbook_run() {
  local label=$1; shift
  echo
  echo "== runbook run $*"
  set +e
  "$bin" run "$@" > "$demo/$label.out" 2>&1
  local code=$?
  set -e
  sed -n '/^$/,$p' "$demo/$label.out"
  [ $code -eq 0 ] || { echo "(exit $code; the whole output is in .demo/$label.out)"; exit $code; }
}
# The emulator publishes the replica's real ReplicaLag every 5 s; publish a datapoint now (0 s: it has just
# caught up) so promote-secondary's metric pre-check need not wait for it.
lag_datapoint() {
  python3 - "$endpoint" "$name" <<'PY'
import sys, boto3
cw = boto3.client("cloudwatch", endpoint_url=sys.argv[1], region_name="us-west-2",
                  aws_access_key_id="demo", aws_secret_access_key="demo")
cw.put_metric_data(Namespace="AWS/RDS", MetricData=[{"MetricName": "ReplicaLag", "Value": 0.0, "Unit": "Seconds",
    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": sys.argv[2] + "-replica"}]}])
PY
}

runbook_run provision provision --param name="$name" --param poll_interval=100ms
lag_datapoint
runbook_run drill drill --param name="$name" --param poll_interval=100ms --param measure_writes=true

echo
echo "== an application commits a row every 100 ms through the PRIMARY failover record (scripts/demo_workload.py)"
rm -f "$demo/workload.stop" "$demo/workload.json"
python3 scripts/demo_workload.py setup "$endpoint" "$name" "$demo/app.secret"
python3 scripts/demo_workload.py write "$endpoint" financial-db.internal "$demo/app.secret" "$demo/workload.json" "$demo/workload.stop" &
workload=$!
trap 'touch "$demo/workload.stop"; kill $emulator 2>/dev/null || true' EXIT
sleep 2
runbook_run switchover switchover --param name="$name" --param poll_interval=100ms --yes --reason "DEMO-1 planned switchover to us-west-2"
runbook_run reprotect reprotect --param name="$name" --param poll_interval=100ms --yes
runbook_run failback switchover --param name="$name" --param poll_interval=100ms --yes --reason "DEMO-2 failback to us-east-1"
runbook_run reprotect-back reprotect --param name="$name" --param poll_interval=100ms --yes
lag_datapoint
runbook_run promote promote-secondary --param name="$name" --param poll_interval=100ms --yes --reason "DEMO-3 us-east-1 lost: failover"
sleep 1
touch "$demo/workload.stop"
wait $workload || true
promote=$(head -1 "$demo/promote.out" | awk '{print $2}')
echo
echo "== runbook runs"
"$bin" runs
echo
"$bin" audit verify
echo "state: $RUNBOOK_DB (try: RUNBOOK_DB=$RUNBOOK_DB $bin history $promote)"
echo
echo "== measured from the databases"
figure() { grep -E "^  $2 = " "$demo/$1.out" | tail -1 | sed 's/^  //'; }
echo "drill:             $(figure drill recovery_seconds), $(figure drill write_outage_seconds), $(figure drill lost_rows)"
for leg in switchover failback; do
  printf "%-18s %s, %s, %s, %s\n" "$leg:" "$(figure $leg new_writer)" "$(figure $leg rpo_bytes)" "$(figure $leg write_outage_seconds)" "$(figure $leg tool_overhead_seconds)"
done
echo "promote-secondary: $(figure promote fenced), $(figure promote rpo_bytes), $(figure promote rpo_seconds), $(figure promote rpo_basis)"
python3 scripts/demo_workload.py check "$endpoint" financial-db.internal "$demo/app.secret" "$demo/workload.json"
"$bin" report "$promote" --output "$demo/report.html" --force > /dev/null
"$bin" report "$promote" --format markdown --output "$demo/report.md" --force > /dev/null
echo
echo "== the report of the promotion, for the auditor"
sed -n '/^## Recovery objectives/,/^## Timeline/p' "$demo/report.md" | sed '$d'
echo "report: .demo/report.html (open it in a browser; markdown: .demo/report.md; json: $bin report $promote --format json)"
exit 0
