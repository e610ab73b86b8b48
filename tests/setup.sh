#!/usr/bin/env bash
# Test prerequisites the Python packages cannot bring: Debian's Chromium for the Web UI test,
# bubblewrap (the sandbox every agent command and gate runs in), and GitHub's published
# OpenAPI description (npm's @octokit/openapi, pinned in tests/openapi/package-lock.json)
# for the forge contract test.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
APT_UPDATED=""

apt_install() {
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "tests/setup.sh: $* missing; install Debian's '$*' package(s)" >&2
    exit 1
  fi
  echo "tests/setup.sh: installing Debian's $*..." >&2
  if [ -z "$APT_UPDATED" ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# The OpenAPI description, reinstalled whenever the lock file changes.
OPENAPI=tests/openapi
STAMP="$OPENAPI/node_modules/.installed-$(sha256sum "$OPENAPI/package-lock.json" | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  echo "tests/setup.sh: installing GitHub's OpenAPI description (@octokit/openapi)..." >&2
  npm ci --prefix "$OPENAPI" --no-audit --no-fund --loglevel=error >/dev/null
  rm -f "$OPENAPI"/node_modules/.installed-*
  touch "$STAMP"
fi
