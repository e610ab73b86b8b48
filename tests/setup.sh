#!/usr/bin/env bash
# Test prerequisites the Python packages cannot bring: Debian's Chromium for the Web UI test.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "tests/setup.sh: Chromium is missing; install Debian's 'chromium' package" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "tests/setup.sh: installing Debian's chromium for the Web UI test..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
