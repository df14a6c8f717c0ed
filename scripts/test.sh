#!/usr/bin/env bash
# Set up everything the tests need from the project's own files, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# Codex CLI (the acceptance client) from package.json / package-lock.json.
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# A real Redis for the shared-state tests (Debian package redis-server).
if ! command -v redis-server >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
      || echo "warning: could not install redis-server; Redis tests will fail in CI" >&2
  fi
fi
# The acceptance (Codex CLI) and Redis tests fail rather than skip when their tools are missing.
export CI="${CI:-true}"
exec .venv/bin/python -m pytest "$@"
