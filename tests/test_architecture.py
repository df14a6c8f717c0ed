"""docs/architecture.md draws the tree: every module of tppc_router is named there, and no named module is gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tppc_router"
DOC = ROOT / "docs" / "architecture.md"
ROOMS = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())


def modules() -> set[str]:
    """Every module as a path under tppc_router/ (``routing/engine.py``), packages' __init__/__main__ aside."""
    return {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}


def named_in_doc() -> set[str]:
    """Every ``path.py`` the page names in backticks."""
    return set(re.findall(r"`([A-Za-z0-9_/]+\.py)`", DOC.read_text(encoding="utf-8")))


def test_every_module_is_named_in_architecture_md() -> None:
    """A module added to tppc_router/ must get its line in docs/architecture.md."""
    assert sorted(modules() - named_in_doc()) == []


def test_no_module_named_in_architecture_md_is_gone() -> None:
    """A room path the page names (``server/gateway.py``) exists: moved or removed modules leave the page too."""
    stale = {path for path in named_in_doc() if path.split("/", 1)[0] in ROOMS and path not in modules()}
    assert sorted(stale) == []
