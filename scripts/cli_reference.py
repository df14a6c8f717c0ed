"""Write docs/cli.md from the CLI's own --help (tests/cli/test_cli_reference.py checks it has not drifted).

    .venv/bin/python scripts/cli_reference.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

from tppc_router.cli import LAZY_COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "cli.md"


def render() -> str:
    runner = CliRunner()
    parts = [
        "# CLI reference\n",
        "Generated from `tppc-router --help` by `scripts/cli_reference.py`; a test fails when it drifts.\n",
    ]
    names = ["", *sorted(set(main.list_commands(None)) | set(LAZY_COMMANDS))]  # type: ignore[arg-type]
    for name in names:
        args = [name, "--help"] if name else ["--help"]
        result = runner.invoke(main, args, prog_name="tppc-router", terminal_width=100)
        title = f"tppc-router {name}" if name else "tppc-router"
        parts.append(f"## {title}\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if TARGET.read_text(encoding="utf-8") == text else 1)
    TARGET.write_text(text, encoding="utf-8")
