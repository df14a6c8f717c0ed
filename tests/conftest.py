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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--litellm-proxy", action="store_true", default=False,
                     help="run the tests marked litellm_proxy (they need .venv-proxy: litellm[proxy] 1.106.2)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "litellm_proxy: needs a real LiteLLM proxy (.venv-proxy, --litellm-proxy)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --litellm-proxy the LiteLLM proxy tests are skipped: scripts/test.sh runs them in .venv-proxy."""
    if config.getoption("--litellm-proxy"):
        return
    skip = pytest.mark.skip(reason="runs in .venv-proxy: scripts/test.sh (pytest --litellm-proxy)")
    for item in items:
        if "litellm_proxy" in item.keywords:
            item.add_marker(skip)
