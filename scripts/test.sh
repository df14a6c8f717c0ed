#!/usr/bin/env bash
# Set up everything the tests need from the project's own files, then run the whole suite:
#   1. .venv (litellm as a fresh install gets it): every test except the LiteLLM proxy ones;
#   2. .venv-proxy (litellm[proxy] 1.106.2, tests/requirements-proxy.txt): the LiteLLM proxy acceptance
#      tests and a representative subset of the library/gateway tests, so both litellm versions are tested.
# With arguments, only run 1 with them (e.g. scripts/test.sh tests/routing -x).
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
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
status=0
.venv/bin/python -m pytest || status=$?
bash scripts/setup.sh proxy
# litellm 1.106.2: the proxy tests, and the library/gateway tests most tied to litellm's Router and types.
.venv-proxy/bin/python -m pytest --litellm-proxy \
  tests/acceptance/test_litellm_proxy.py tests/routing tests/config/test_export.py \
  tests/server/test_gateway_responses.py tests/server/test_gateway_chat.py tests/server/test_gateway_errors.py \
  tests/server/test_gateway_litellm_logging.py || status=$?
exit "$status"
