#!/usr/bin/env bash
# The test command: the pinned emulator, a build of everything (the end-to-end tests run the built
# `runbook` binary), then every test. The tests start and stop the emulator and PostgreSQL themselves.
#
# The suites that SIGKILL the binary at chosen moments and time orphans' deaths, and those that measure a
# write outage across a restart of about 0.1 s, run in a second pass, on their own: next to the PostgreSQL
# crash suites (minutes of real servers) on a two-core machine their moments drifted by seconds (a canary
# writer meant to write every 50 ms then wrote less often than the server was down). The shared-store suite
# kills drivers at moments within a run of a few seconds, so it goes there too. Arguments (e.g.
# --filter NAME) run one pass with them instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-emulator.sh
# chromium: the browser the report test renders the HTML report in (headless).
scripts/ensure-packages.sh chromium fonts-dejavu-core
swift build --build-tests
if [ $# -gt 0 ]; then
  exec swift test --skip-build "$@"
fi
timed='ProcessHardeningTests|CLIEndToEndTests|WriteOutageTests|PostgresStoreEndToEndTests'
status=0
swift test --skip-build --skip "$timed" || status=$?
swift test --skip-build --filter "$timed" || status=$?
exit $status
