#!/usr/bin/env bash
# Installs what the local AWS emulator needs if it is not there yet: the pinned moto[server] in python3, and
# PostgreSQL's server programs (Debian postgresql) for the real database behind every RDS instance.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import moto, flask, flask_cors; assert moto.__version__ == "5.2.1"' 2>/dev/null; then
  echo "installing the local AWS emulator (moto[server]==5.2.1) into $(command -v python3)…" >&2
  python3 -m pip install --quiet --disable-pip-version-check -r Tests/Emulator/requirements.txt
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && [ -z "${RUNBOOK_PG_BINDIR:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing PostgreSQL's server programs (Debian postgresql) for the emulator's databases…" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "the emulator runs a real PostgreSQL server per RDS instance: install Debian's postgresql package (sudo apt-get install postgresql)" >&2
    exit 2
  fi
fi
