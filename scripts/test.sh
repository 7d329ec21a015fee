#!/usr/bin/env bash
# The test command: the pinned emulator, a build of everything (the end-to-end tests run the built
# `runbook` binary), then every test. The tests start and stop the emulator themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-emulator.sh
swift build --build-tests
swift test --skip-build "$@"
