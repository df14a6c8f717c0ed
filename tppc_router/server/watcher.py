"""Pick up hand edits of the config file while the server runs.

Every ``interval`` seconds (0.5 by default) the watcher looks at the file's mtime,
size and inode, and when they change (or every tenth look regardless) hashes its
content. New content is validated like a management PUT and, under
``Runtime.write_lock``, applied with :meth:`Runtime.apply`. An invalid edit is
refused with one log line per problem and the previous config keeps serving.
Content the management API wrote itself (``ConfigStore.known_hash``) is skipped.
A changed file must hold still for ``settle`` seconds (debounce) before it is judged,
and an empty file, or one that drops every provider without saying ``providers: []``,
is refused (a half-saved file never takes every provider away). The router is
rebuilt in a worker thread, off the event loop.
Outcomes are counted in ``runtime.config_reloads``: ``applied``,
``rejected``, ``unchanged`` (the text changed but not what it means).
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from starlette.concurrency import run_in_threadpool

from tppc_router.configfile.store import ConfigStore, store_for, text_hash
from tppc_router.config.loader import parse_yaml
from tppc_router.config.schema import Settings
from tppc_router.errors import ConfigError
from tppc_router.server.mgmt_auth import hash_secret_on_load
from tppc_router.server.runtime import Runtime
from tppc_router.masking import get_logger

__all__ = ["POLL_INTERVAL", "SETTLE", "ConfigWatcher", "serves_nothing_implicitly", "start_watcher", "stop_watcher"]

logger = get_logger("tppc_router.server.watcher")

POLL_INTERVAL = 0.5  # seconds between looks unless runtime.watch_interval says otherwise (0: no watching)
SETTLE = 0.1  # seconds a changed file must hold still before it is read for good
_REHASH_EVERY = 10  # looks: catch an edit that kept the size and landed within the mtime granularity


class ConfigWatcher:
    """Watches one runtime's config file; :meth:`check` is one look, :meth:`run` looks forever."""

    def __init__(self, runtime: Runtime, *, interval: float = POLL_INTERVAL, store: ConfigStore | None = None,
                 settle: float = SETTLE):
        self.runtime = runtime
        self.interval = interval
        self.settle = settle
        self.store = store or store_for(runtime)
        self._stamp: tuple[int, int, int] | None = None
        self._seen: str | None = None  # hash of the content last judged (applied or refused)
        self._looks = 0

    def __repr__(self) -> str:
        return f"ConfigWatcher({self.store.source!r}, interval={self.interval})"

    def _count(self, outcome: str) -> None:
        self.runtime.config_reloads[outcome] += 1

    def _changed_on_disk(self) -> bool:
        path = self.store.path
        if path is None:
            return False
        try:
            info = os.stat(path)
        except OSError:
            return False  # mid-replace, or removed: look again next time
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        self._looks += 1
        if stamp == self._stamp and self._looks % _REHASH_EVERY:
            return False
        self._stamp = stamp
        return True

    async def check(self) -> str | None:
        """Look once. Returns ``applied``, ``rejected``, ``unchanged``, or None when nothing new."""
        if not self._changed_on_disk():
            return None
        try:
            digest = text_hash(await run_in_threadpool(self.store.read))
        except (OSError, UnicodeError):
            return None
        if digest in (self._seen, self.store.known_hash):
            self._seen = digest
            return None
        if not await self._settled():
            return None  # still being written: judged at a later look, once it holds still
        async with self.runtime.write_lock:
            return await self._judge()

    async def _settled(self) -> bool:
        """Debounce: wait ``settle`` seconds; True when the file did not change meanwhile."""
        before = self._stamp
        await asyncio.sleep(self.settle)
        path = self.store.path
        try:
            info = os.stat(path) if path is not None else None
        except OSError:
            return False
        if info is not None and (info.st_mtime_ns, info.st_size, info.st_ino) != before:
            self._stamp = None  # look again next time
            return False
        return True

    async def _judge(self) -> str | None:
        try:
            text = await run_in_threadpool(self.store.read)
        except (OSError, UnicodeError) as exc:
            logger.warning("config file %s cannot be read: %s", self.store.source, exc)
            return None
        digest = text_hash(text)
        if digest in (self._seen, self.store.known_hash):  # the management API wrote it meanwhile
            self._seen = digest
            return None
        self._seen = digest
        try:
            settings = await run_in_threadpool(self.store.validate, text)
        except ConfigError as exc:
            self._refuse(exc.problems)
            return "rejected"
        emptied = serves_nothing_implicitly(text, settings, self.runtime.file_settings)
        if emptied is not None:
            self._refuse([emptied])
            return "rejected"
        if settings == self.runtime.file_settings:
            self.store.known_hash = digest
            self._count("unchanged")
            return "unchanged"
        try:
            await asyncio.to_thread(self.runtime.apply, settings)  # building the router: off the event loop
        except Exception as exc:  # noqa: BLE001 - a refused reload must not stop the watcher
            self._refuse([f"<router>: the router refused the config ({type(exc).__name__})"])
            return "rejected"
        self.store.known_hash = digest
        self._count("applied")
        logger.info("config file %s changed by hand: applied (%d provider(s))",
                    self.store.source, len(settings.tppc.providers))
        await run_in_threadpool(hash_secret_on_load, self.runtime)
        return "applied"

    def _refuse(self, problems: list[str]) -> None:
        self._count("rejected")
        logger.error("config file %s changed by hand but is invalid; still serving the previous config "
                     "(%d problem(s)):", self.store.source, len(problems))
        for problem in problems:
            logger.error("config file %s: %s", self.store.source, problem)

    async def run(self) -> None:
        """Look every ``interval`` seconds until cancelled."""
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("config watcher: unexpected error; still watching %s", self.store.source)
            await asyncio.sleep(self.interval)


def serves_nothing_implicitly(text: str, new: Settings, current: Settings | None) -> str | None:
    """Why ``text`` must not replace a config that serves providers, or None: an empty file, or one that
    serves no provider without saying ``providers: []`` (a truncated or half-saved file, most likely)."""
    if not text.strip():
        return "<file>: the file is empty; still serving the previous config (write `providers: []` to serve none)"
    if current is None or not (current.tppc.providers or current.packycode.enabled):
        return None
    if new.tppc.providers or new.packycode.enabled:
        return None
    try:
        data = parse_yaml(text)
    except ConfigError:
        return None
    section = data.get("tppc")
    if isinstance(section, dict) and isinstance(section.get("providers"), list):
        return None  # it says so explicitly
    return ("tppc.providers: missing, so no provider would serve; still serving the previous config "
            "(write `providers: []` to serve none)")


def start_watcher(runtime: Runtime, *, interval: float = POLL_INTERVAL) -> asyncio.Task[None]:
    """Start watching ``runtime.config_path`` in the running loop (a no-op task without a file).

    Cancel the task to stop. The watcher is kept as ``runtime.watcher`` while it runs.
    """
    if runtime.config_path is None:
        return asyncio.get_running_loop().create_task(asyncio.sleep(0), name="tppc-config-watcher")
    watcher = ConfigWatcher(runtime, interval=interval)
    runtime.watcher = watcher
    return asyncio.get_running_loop().create_task(watcher.run(), name="tppc-config-watcher")


async def stop_watcher(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
