"""Run the async core from sync code: one event loop on a daemon thread.

``TppcRouter.completion`` and friends call the async implementation through
here, so sync and async callers share one failover engine and one set of
breakers, and sync streams are plain iterators.
"""

from __future__ import annotations

import asyncio
import threading
from contextvars import ContextVar
from concurrent.futures import ThreadPoolExecutor
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["BLOCKING_OK", "Portal", "SyncStream"]

T = TypeVar("T")
_SYNC_WORKERS = 64  # concurrent sync (non-streaming) calls in flight per router

# True while a coroutine runs on its caller's own thread (Portal.run): a sync litellm call may
# then block right there instead of hopping to a worker thread; nothing else shares that loop.
BLOCKING_OK: ContextVar[bool] = ContextVar("tppc_router_blocking_ok", default=False)
_caller = threading.local()


class Portal:
    """A background event loop that sync callers submit coroutines to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                # Sync calls run litellm's sync path on these threads: size it for many callers.
                loop.set_default_executor(ThreadPoolExecutor(_SYNC_WORKERS, thread_name_prefix="tppc-router-sync"))
                thread = threading.Thread(target=loop.run_forever, name="tppc-router-portal", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the portal loop and wait for its result."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = self._ensure()
        if running is loop:
            coro.close()
            raise RuntimeError("sync TppcRouter methods cannot be called from the router's own loop")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the calling thread's own event loop (one per thread, kept): a sync,
        non-streaming call then costs no thread hop. From a thread that already runs a loop it
        goes to the portal loop instead (:meth:`call`)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return self.call(coro)
        loop: asyncio.AbstractEventLoop | None = getattr(_caller, "loop", None)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            _caller.loop = loop
        token = BLOCKING_OK.set(True)
        try:
            return loop.run_until_complete(coro)
        finally:
            BLOCKING_OK.reset(token)

    def iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        """Drive an async iterator from sync code, one item at a time."""
        while True:
            try:
                yield self.call(_anext(iterator))
            except StopAsyncIteration:
                return

    def close(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)


async def _anext(iterator: AsyncIterator[T]) -> T:
    return await iterator.__anext__()


class SyncStream(Iterator[T]):
    """A sync view of an async stream; attributes (``provider``, ``attempts``…)
    are read through to the async stream."""

    def __init__(self, portal: Portal, stream: AsyncIterator[T]) -> None:
        self._portal = portal
        self._stream = stream
        self._items = portal.iterate(stream)

    def __iter__(self) -> SyncStream[T]:
        return self

    def __next__(self) -> T:
        return next(self._items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def close(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if callable(closer):
            self._portal.call(closer())
