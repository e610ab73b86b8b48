#!/usr/bin/env bash
# Test prerequisites the Python packages cannot bring: Debian's Chromium for the Web UI
# test, and bubblewrap, the sandbox every agent command and gate runs in.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "tests/setup.sh: missing Debian packages: ${missing[*]}; install them" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "tests/setup.sh: installing Debian's ${missing[*]} for the tests..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
