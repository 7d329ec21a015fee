#!/usr/bin/env bash
# Installs the pinned local AWS emulator (moto[server]) into python3 if it is not there yet.
set -euo pipefail
cd "$(dirname "$0")/.."
if python3 -c 'import moto, flask, flask_cors; assert moto.__version__ == "5.2.1"' 2>/dev/null; then
  exit 0
fi
echo "installing the local AWS emulator (moto[server]==5.2.1) into $(command -v python3)…" >&2
python3 -m pip install --quiet --disable-pip-version-check -r Tests/Emulator/requirements.txt
