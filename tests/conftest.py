"""Fixtures shared by the whole suite."""

from __future__ import annotations


import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["canary_guard"]  # tests/canary_guard.py (as "tests.canary_guard" it would need pythonpath=["."])


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TPPC_* or OPENAI_API_KEY from the caller's shell; litellm never fetches its cost map."""
    for name in list(os.environ):
        if name.startswith("TPPC_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


WriteConfig = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """``write_config(text, name="config.yaml")``: dedent ``text`` into a file under tmp_path, return its path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
