"""A live reload never takes every provider away by accident: empty or truncated files, debounce."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tppc_router.config.loader import load_settings
from tppc_router.server.watcher import ConfigWatcher
from tppc_router.routing.router import TppcRouter
from tppc_router.server.runtime import Runtime

KEY = "sk-canary-watch-safe-1a2b3c4d"
CONFIG = f"""\
tppc:
  models: [gpt-5]
  providers:
    - name: alpha
      base-url: https://alpha.invalid/v1
      api-key: {KEY}
"""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    target = tmp_path / "config.yaml"
    target.write_text(CONFIG)
    return target


@pytest.fixture
def runtime(path: Path) -> Runtime:
    return Runtime(router=TppcRouter(load_settings(path)), config_path=path)


def _served(runtime: Runtime) -> list[str]:
    return [p.name for p in runtime.settings.tppc.providers]


@pytest.mark.parametrize("text", ["", "\n  \n", "# everything commented out\n", "tppc:\n  models: [gpt-5]\n"])
async def test_empty_or_truncated_file_is_refused(runtime: Runtime, path: Path, text: str) -> None:
    """An empty file, or one without tppc.providers, is refused; the previous providers keep serving."""
    watcher = ConfigWatcher(runtime, settle=0)
    await watcher.check()
    path.write_text(text)
    assert await watcher.check() == "rejected"
    assert _served(runtime) == ["alpha"]


async def test_explicit_empty_provider_list_is_applied(runtime: Runtime, path: Path) -> None:
    """``providers: []`` says it on purpose: applied."""
    watcher = ConfigWatcher(runtime, settle=0)
    await watcher.check()
    path.write_text("tppc:\n  models: [gpt-5]\n  providers: []\n")
    assert await watcher.check() == "applied"
    assert _served(runtime) == []


async def test_a_file_still_being_written_waits(runtime: Runtime, path: Path) -> None:
    """A file that changes during the settle time is not judged on that look; once still, it is applied."""
    watcher = ConfigWatcher(runtime, settle=0.2)
    await watcher.check()
    path.write_text(CONFIG.replace("alpha", "beta"))

    async def keep_writing() -> None:
        await asyncio.sleep(0.05)
        path.write_text(CONFIG.replace("alpha", "gamma") + "# more\n")

    writer = asyncio.create_task(keep_writing())
    assert await watcher.check() is None
    await writer
    assert await watcher.check() == "applied"
    assert _served(runtime) == ["gamma"]
