#!/usr/bin/env bash
# Runs runbook-bench against a throwaway PostgreSQL cluster on this machine: initdb in a temporary directory
# (as the `postgres` OS user when run as root: PostgreSQL refuses root), a free loopback port, default
# durability (fsync=on, synchronous_commit=on), stopped and removed at the end whatever happens.
#
#   Benchmarks/postgres.sh [runbook-bench options…]      e.g. --repetitions 5 --only chain,fanout,resume
#
# Uses the release build in .build/release (built first if missing). To measure your own server instead:
#   runbook-bench --db postgres://USER@HOST:PORT/DB     (the role needs CREATEDB; PGPASSWORD or ~/.pgpass)
set -euo pipefail
cd "$(dirname "$0")/.."

bindir="${RUNBOOK_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$bindir/postgres" ] || { echo "postgres.sh: no PostgreSQL server found (apt-get install postgresql, or set RUNBOOK_PG_BINDIR)" >&2; exit 2; }
build="${RUNBOOK_BENCH_CONFIGURATION:-release}"   # debug only to try the script: debug figures mean nothing
[ -x ".build/$build/runbook-bench" ] || swift build -c "$build" --product runbook-bench >&2
[ -x ".build/$build/runbook" ] || swift build -c "$build" --product runbook >&2

as_server=()
if [ "$(id -u)" = 0 ]; then as_server=(runuser -u postgres --); fi
cluster="$(mktemp -d /tmp/runbook-bench-pg.XXXXXX)"
[ "$(id -u)" = 0 ] && chown postgres: "$cluster"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
stop() {
    "${as_server[@]}" "$bindir/pg_ctl" -D "$cluster/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$cluster"
}
trap stop EXIT

"${as_server[@]}" "$bindir/initdb" -D "$cluster/data" -U postgres --auth=trust >/dev/null
"${as_server[@]}" "$bindir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w \
    -o "-p $port -k $cluster -c listen_addresses=127.0.0.1" start >/dev/null
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $cluster/data" >&2

".build/$build/runbook-bench" --db "postgres://postgres@127.0.0.1:$port/postgres" "$@"
