#!/usr/bin/env bash
# Test prerequisites the Python packages cannot bring: Debian's Chromium for the Web UI test,
# bubblewrap (the sandbox every agent command and gate runs in), and GitHub's published
# OpenAPI description (npm's @octokit/openapi, pinned in tests/openapi/package-lock.json)
# for the forge contract test.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/debian.sh

need() {
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "tests/setup.sh: $* missing; install Debian's '$*' package(s)" >&2
    exit 1
  fi
  apt_install tests/setup.sh "$@"
}

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ "${#missing[@]}" -gt 0 ]; then
  need "${missing[@]}"
fi

# The OpenAPI description, reinstalled whenever the lock file changes.
OPENAPI=tests/openapi
STAMP="$OPENAPI/node_modules/.installed-$(sha256sum "$OPENAPI/package-lock.json" | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    need nodejs npm
  fi
  echo "tests/setup.sh: installing GitHub's OpenAPI description (@octokit/openapi)..." >&2
  npm ci --prefix "$OPENAPI" --no-audit --no-fund --loglevel=error >/dev/null
  rm -f "$OPENAPI"/node_modules/.installed-*
  touch "$STAMP"
fi
