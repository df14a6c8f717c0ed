"""Static checks that keep the codebase honest: ruff, and mypy in strict mode with the typing API file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean() -> None:
    """ruff reports nothing on the package and the tests."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "tppc_router", "tests"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    """mypy --strict passes on the package and on tests/typing/api.py (public signatures)."""
    result = subprocess.run([sys.executable, "-m", "mypy", "tppc_router", "tests/typing/api.py"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
