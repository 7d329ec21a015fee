#!/usr/bin/env bash
# Runs the 1,000-step chain in runbook (release build) and in DBOS Transact (SQLite system database) on this
# machine, in the same directory, and prints microseconds per step for both and the ratio DBOS/runbook.
#
#   Benchmarks/compare.sh [--repetitions N] [--dir PATH]
#
# Needs: swift, python3 with the packages of Benchmarks/peers/requirements.txt (set PYTHON=/path/to/venv/python
# to use a virtualenv), e.g.  python3 -m venv .venv && .venv/bin/pip install -r Benchmarks/peers/requirements.txt
#                             PYTHON=.venv/bin/python Benchmarks/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=5
DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repetitions) REPS="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    *) echo "usage: $0 [--repetitions N] [--dir PATH]" >&2; exit 2 ;;
  esac
done
PYTHON="${PYTHON:-python3}"
CLEAN=""
if [ -z "$DIR" ]; then DIR="$(mktemp -d /tmp/runbook-compare-XXXXXX)"; CLEAN="$DIR"; fi
trap '[ -n "$CLEAN" ] && rm -rf "$CLEAN"' EXIT

swift build -c release --product runbook-bench >&2
BIN="$(swift build -c release --show-bin-path)/runbook-bench"

RUNBOOK_JSON="$("$BIN" --json-only --only chain --repetitions "$REPS" --dir "$DIR")"
DBOS_JSON="$("$PYTHON" Benchmarks/peers/dbos_chain.py --steps 1000 --repetitions "$REPS" --dir "$DIR" | tail -n 1)"

echo "$RUNBOOK_JSON"
echo "$DBOS_JSON"
RUNBOOK_JSON="$RUNBOOK_JSON" DBOS_JSON="$DBOS_JSON" "$PYTHON" - <<'PY'
import json, os
cases = {}
for line in os.environ["RUNBOOK_JSON"].splitlines():
    o = json.loads(line)
    cases[o["case"]] = o
dbos = json.loads(os.environ["DBOS_JSON"])
chain, floor = cases["chain"], cases["floor"]
ratio = dbos["median"] / chain["median"]
print(f"floor (one WAL+FULL INSERT commit): {floor['median']:8.1f} us")
print(f"runbook chain:                      {chain['median']:8.1f} us/step  ({chain['median'] / floor['median']:.2f}x floor)")
print(f"DBOS {dbos['dbos_version']} chain (journal_mode={dbos.get('journal_mode')}): {dbos['median']:8.1f} us/step  ({dbos['median'] / floor['median']:.2f}x floor)")
print(f"DBOS / runbook per step: {ratio:.1f}x  (target >= 10x: {'met' if ratio >= 10 else 'MISSED'})")
print(json.dumps({"case": "compare_chain", "runbook_us_per_step": chain["median"], "dbos_us_per_step": dbos["median"],
                  "floor_us": floor["median"], "dbos_over_runbook": ratio, "met": ratio >= 10}))
PY
