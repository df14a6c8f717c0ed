#!/usr/bin/env bash
# Create .venv and install tppc-router (with test extras when given "test").
# "proxy": create .venv-proxy instead, with the test extras and litellm[proxy] 1.106.2 (tests/requirements-proxy.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ "${1:-}" = "proxy" ]; then
  [ -x .venv-proxy/bin/python ] || "$PY" -m venv .venv-proxy
  .venv-proxy/bin/python -m pip install -q --upgrade pip
  .venv-proxy/bin/python -m pip install -q -e '.[test]' -r tests/requirements-proxy.txt
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "${1:-}" = "test" ]; then
  .venv/bin/python -m pip install -q -e '.[test]'
else
  .venv/bin/python -m pip install -q -e .
fi
