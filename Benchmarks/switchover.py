#!/usr/bin/env python3
"""What runbook adds to a switchover's write outage, against the emulator with its data plane.

Every RDS status change takes SECONDS of wall-clock time whatever the polling (moto's state manager,
progression: time), so AWS's share of the outage is fixed and the tool's share is what remains:
tool_overhead_seconds = write_outage_seconds - recovery_seconds (the fence to the first write on the new
writer, less the promotion as AWS reports it). Runs RUNS switchovers, a reprotect after each (so each
switchover has a standby to promote), and prints every run's figures, then the median and range.

Usage: Benchmarks/switchover.py [RUNS] [SECONDS] [OUTAGE_POLL]   (defaults: 5 runs, 10 s per status change, 1s)
Needs a built runbook (swift build) and the emulator's requirements (scripts/ensure-emulator.sh).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_emulator(directory):
    port_file = os.path.join(directory, "port")
    log = open(os.path.join(directory, "emulator.log"), "w")
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests/Emulator/emulator.py"), "--port", "0",
                                "--port-file", port_file, "--parent-pid", str(os.getpid())], stdout=log, stderr=log)
    for _ in range(150):
        if os.path.exists(port_file) and open(port_file).read().strip():
            return process, "http://127.0.0.1:" + open(port_file).read().strip()
        time.sleep(0.2)
    raise SystemExit("the emulator did not start; see " + log.name)


def transitions(endpoint, progression):
    for model in ("rds::dbinstance", "rds::dbsnapshot"):
        body = json.dumps({"model_name": model, "transition": progression}).encode()
        request = urllib.request.Request(endpoint + "/moto-api/state-manager/set-transition", data=body, method="POST")
        urllib.request.urlopen(request).read()


def run(binary, env, args):
    result = subprocess.run([binary] + args + ["--json"], env=env, capture_output=True, text=True)
    try:
        outcome = json.loads(result.stdout[result.stdout.index("{"):])
    except ValueError:
        raise SystemExit(f"runbook {' '.join(args)} printed no result (exit {result.returncode}): {result.stderr}")
    if outcome.get("status") != "succeeded":
        raise SystemExit(f"runbook {' '.join(args)} ended {outcome.get('status')}: {outcome.get('message')}")
    return {step["id"]: step.get("outputs", {}) for step in outcome["steps"]}


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    outage_poll = sys.argv[3] if len(sys.argv) > 3 else "1s"
    binary = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True).stdout.strip() + "/runbook"
    directory = tempfile.mkdtemp(prefix="runbook-bench-switchover-")
    emulator, endpoint = start_emulator(directory)
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
               AWS_REGION="us-east-1", RUNBOOK_DB=os.path.join(directory, "runbook.sqlite"), RUNBOOK_PATH=os.path.join(ROOT, "Runbooks"))
    env.pop("AWS_PROFILE", None)
    name = "bench-%d" % os.getpid()
    common = ["--param", f"name={name}", "--param", "poll_interval=1s"]
    try:
        run(binary, env, ["run", "provision"] + common)
        transitions(endpoint, {"progression": "time", "seconds": seconds})
        rows = []
        for i in range(runs):
            report = run(binary, env, ["run", "switchover", "--yes", "--param", f"outage_poll_interval={outage_poll}"] + common)["report"]
            rows.append({k: float(report[k]) for k in ("write_outage_seconds", "recovery_seconds", "tool_overhead_seconds")})
            print(f"run {i + 1}: {report['old_writer']} -> {report['new_writer']}: write_outage {report['write_outage_seconds']} s, "
                  f"recovery (AWS) {report['recovery_seconds']} s, tool overhead {report['tool_overhead_seconds']} s, rpo_bytes {report['rpo_bytes']}",
                  flush=True)
            run(binary, env, ["run", "reprotect", "--yes"] + common)
        print(f"\n{runs} switchovers, every status change taking {seconds} s, the promotion polled every {outage_poll}:")
        for key in ("write_outage_seconds", "recovery_seconds", "tool_overhead_seconds"):
            values = [row[key] for row in rows]
            print(f"  {key}: median {statistics.median(values):.3f}, range {min(values):.3f} - {max(values):.3f}")
        beyond = [row["write_outage_seconds"] - seconds for row in rows]
        print(f"  outage beyond AWS's own {seconds} s: median {statistics.median(beyond):.3f}, range {min(beyond):.3f} - {max(beyond):.3f}")
    finally:
        emulator.terminate()
        emulator.wait()


if __name__ == "__main__":
    main()
