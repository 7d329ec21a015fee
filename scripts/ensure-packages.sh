#!/usr/bin/env bash
# Installs the Debian packages given (only those missing) when running as root with apt; otherwise names
# them and exits 2. On a machine without dpkg it checks nothing (the build or the tests then say what fails).
set -euo pipefail
command -v dpkg >/dev/null 2>&1 || exit 0
missing=()
for package in "$@"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${missing[*]}…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "runbook needs these Debian packages: sudo apt-get install ${missing[*]}" >&2
  exit 2
fi
