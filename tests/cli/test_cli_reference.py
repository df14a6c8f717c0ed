"""docs/cli.md is the CLI's own --help, kept current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_has_not_drifted() -> None:
    """docs/cli.md equals what scripts/cli_reference.py renders from --help today (in a fresh process,
    since click caches help options on command objects other tests may have used)."""
    result = subprocess.run([sys.executable, "scripts/cli_reference.py", "--check"], cwd=ROOT, check=False)
    assert result.returncode == 0, "docs/cli.md is stale: run .venv/bin/python scripts/cli_reference.py"
