"""The config file watcher: hand edits are applied, invalid ones refused, our own writes skipped."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from tppc_router.configfile.store import store_for
from tppc_router.config.loader import load_settings
from tppc_router.configfile.edits import patch_provider
from tppc_router.routing.router import TppcRouter
from tppc_router.server.mgmt_auth import is_bcrypt_hash
from tppc_router.server.runtime import Runtime
from tppc_router.server.watcher import ConfigWatcher, start_watcher, stop_watcher

KEY = "sk-canary-watch-1a2b3c4d"
CONFIG = f"""\
# watched config
tppc:
  models: [gpt-5]
  providers:
    - name: alpha   # main
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


def edit(path: Path, old: str, new: str) -> None:
    """A hand edit: rewrite the file in place (same inode), as most editors' "save" does."""
    path.write_text(path.read_text().replace(old, new))


async def test_first_look_at_the_loaded_file_changes_nothing(runtime: Runtime) -> None:
    """The file the server started from is recognised as unchanged; the router is not rebuilt."""
    reloads = runtime.router.reloads
    assert await ConfigWatcher(runtime).check() == "unchanged"
    assert runtime.router.reloads == reloads
    assert await ConfigWatcher(runtime).check() is None


async def test_valid_hand_edit_is_applied(runtime: Runtime, path: Path) -> None:
    """A valid edit is applied live and counted."""
    watcher = ConfigWatcher(runtime)
    await watcher.check()
    edit(path, "https://alpha.invalid/v1", "https://alpha2.invalid/v1")
    reloads = runtime.router.reloads
    assert await watcher.check() == "applied"
    assert runtime.router.targets("gpt-5")[0].base_url == "https://alpha2.invalid/v1"
    assert runtime.config_reloads["applied"] == 1 and runtime.router.reloads == reloads + 1


async def test_invalid_hand_edit_is_refused_with_each_problem_logged(
    runtime: Runtime, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An invalid edit logs one line per problem, keeps the old config serving, and is not re-logged."""
    watcher = ConfigWatcher(runtime)
    await watcher.check()
    reloads, settings = runtime.router.reloads, runtime.file_settings
    edit(path, "base-url: https://alpha.invalid/v1", "base-url: nope")
    edit(path, "models: [gpt-5]", "models: [gpt-5, a/b]")
    with caplog.at_level(logging.ERROR, logger="tppc_router.server.watcher"):
        assert await watcher.check() == "rejected"
    lines = [r.getMessage() for r in caplog.records]
    assert any("still serving the previous config (2 problem(s))" in line for line in lines)
    assert any(line.endswith("tppc.models[1]: must be a non-empty model name without '/'") for line in lines)
    assert any("tppc.providers[0].base-url: must be an http(s) URL" in line for line in lines)
    assert runtime.router.reloads == reloads and runtime.file_settings is settings
    assert KEY not in caplog.text
    caplog.clear()
    assert await watcher.check() is None
    assert not caplog.records


async def test_yaml_syntax_error_is_refused(runtime: Runtime, path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A hand edit that is not YAML is refused with the line it breaks on."""
    watcher = ConfigWatcher(runtime)
    await watcher.check()
    edit(path, "models: [gpt-5]", "models: [gpt-5")
    assert await watcher.check() == "rejected"
    assert "<yaml>:" in caplog.text
    assert runtime.router.targets("gpt-5")


async def test_own_writes_are_not_reapplied(runtime: Runtime) -> None:
    """Content the store wrote itself is skipped: no rebuild, nothing counted."""
    watcher = ConfigWatcher(runtime)
    await watcher.check()
    store = store_for(runtime)
    proposal = store.propose(lambda doc: patch_provider(doc, {"order": 3}, os.environ, name="alpha"))
    store.commit(proposal.new_text, expected=proposal.old_text)
    reloads = runtime.router.reloads
    assert await watcher.check() is None
    assert runtime.router.reloads == reloads
    assert runtime.config_reloads["applied"] == 0


async def test_comment_only_edit_changes_nothing(runtime: Runtime, path: Path) -> None:
    """An edit that changes no setting (a comment) does not rebuild the router."""
    watcher = ConfigWatcher(runtime)
    await watcher.check()
    reloads = runtime.router.reloads
    edit(path, "# main", "# the main provider")
    assert await watcher.check() == "unchanged"
    assert runtime.router.reloads == reloads


async def test_file_missing_for_a_moment_is_ignored(runtime: Runtime, path: Path) -> None:
    """A file that is briefly gone (an editor's replace) is looked at again later, not refused."""
    watcher = ConfigWatcher(runtime)
    await watcher.check()
    text = path.read_text()
    path.unlink()
    assert await watcher.check() is None
    path.write_text(text.replace("alpha.invalid", "alpha3.invalid"))
    assert await watcher.check() == "applied"


async def test_edit_with_same_size_and_mtime_is_caught_by_rehash(runtime: Runtime, path: Path) -> None:
    """An edit that keeps size, inode and mtime is still found within ten looks."""
    watcher = ConfigWatcher(runtime)
    await watcher.check()
    info = path.stat()
    edit(path, "alpha.invalid", "alpha.example")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    outcomes = [await watcher.check() for _ in range(10)]
    assert outcomes.count("applied") == 1


async def test_plaintext_secret_in_a_hand_edit_is_hashed(runtime: Runtime, path: Path) -> None:
    """A plaintext management secret added by hand is hashed and written back."""
    watcher = ConfigWatcher(runtime)
    await watcher.check()
    path.write_text(path.read_text() + 'remote-management:\n  secret-key: "mgmt-canary-hand-9f8e"\n')
    assert await watcher.check() == "applied"
    assert "mgmt-canary-hand-9f8e" not in path.read_text()
    assert runtime.file_settings is not None and runtime.file_settings.remote_management.secret_key is not None
    assert is_bcrypt_hash(runtime.file_settings.remote_management.secret_key.get_secret_value())
    assert await watcher.check() is None


async def test_started_watcher_applies_an_edit_quickly(runtime: Runtime, path: Path) -> None:
    """start_watcher's task picks an edit up within a second and stops when cancelled."""
    task = start_watcher(runtime, interval=0.05)
    await asyncio.sleep(0.2)
    edit(path, "alpha.invalid", "alpha4.invalid")
    for _ in range(20):
        await asyncio.sleep(0.05)
        if runtime.router.targets("gpt-5")[0].base_url == "https://alpha4.invalid/v1":
            break
    assert runtime.router.targets("gpt-5")[0].base_url == "https://alpha4.invalid/v1"
    await stop_watcher(task)
    assert task.cancelled()


async def test_watcher_keeps_going_after_an_unexpected_error(
    runtime: Runtime, path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error in one look is logged and the next look still happens."""
    task = start_watcher(runtime, interval=0.02)
    watcher = runtime.watcher
    assert isinstance(watcher, ConfigWatcher)
    calls = [0]
    original = watcher.check

    async def flaky() -> str | None:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("boom")
        return await original()

    monkeypatch.setattr(watcher, "check", flaky)
    await asyncio.sleep(0.2)
    await stop_watcher(task)
    assert calls[0] > 2
    assert "unexpected error" in caplog.text


async def test_no_file_means_no_watching() -> None:
    """Without a config file the watcher task ends at once."""
    runtime = Runtime(router=TppcRouter(load_settings(text=CONFIG)))
    task = start_watcher(runtime)
    await asyncio.wait_for(task, 1)
    assert task.done() and runtime.watcher is None
