#!/usr/bin/env bash
# Installs what the local AWS emulator and the build need if it is not there yet: the pinned moto[server] in
# python3, PostgreSQL's server programs (Debian postgresql) for the real database behind every RDS instance, and
# the SQLite headers the store builds against.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import moto, flask, flask_cors; assert moto.__version__ == "5.2.1"' 2>/dev/null; then
  echo "installing the local AWS emulator (moto[server]==5.2.1) into $(command -v python3)…" >&2
  python3 -m pip install --quiet --disable-pip-version-check -r Tests/Emulator/requirements.txt
fi
# libsqlite3-dev: the store's build; postgresql: a real server behind every RDS instance; openssl: TLS.
if [ -z "${RUNBOOK_PG_BINDIR:-}" ]; then
  scripts/ensure-packages.sh libsqlite3-dev postgresql openssl
fi
