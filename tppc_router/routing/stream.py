"""Failover for streams.

Before content reaches the caller, the stream's preamble is buffered and any
failure fails over transparently. After that, a failure ends the stream with a
:class:`StreamInterruptedError` carrying the text delivered so far: a stream is
never completed as if it were whole.

A stream that ends (cleanly, or with a broken connection) once everything it
started is done (see ``StreamTracker.whole_without_terminal``) *is* whole: it ends
normally, with a synthesized terminal event when the caller gave ``synthesize``
(a ``response.completed`` built from what was delivered). Library and gateway do
the same here.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from tppc_router.routing.engine import Engine, Target, TargetAttempt
from tppc_router.errors import Attempt, Outcome, ProviderError, StreamInterruptedError
from tppc_router.routing.classify import is_provider_failure
from tppc_router.routing.failover import FailureKind, classify
from tppc_router.routing.trackers import StreamTracker
from tppc_router.masking import get_logger

__all__ = ["FailoverStream", "StreamEnd", "open_stream"]

logger = get_logger("tppc_router.routing.failover")
T = TypeVar("T")


async def _close(iterator: Any) -> None:
    for name in ("aclose", "close"):
        closer = getattr(iterator, name, None)
        if callable(closer):
            try:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                logger.debug("closing a broken upstream stream failed", exc_info=True)
            return


StreamEnd = Callable[["FailoverStream[Any]", str, "BaseException | None"], None]
"""Called once when a stream ends: (stream, outcome, error); outcome is ``"ok"``,
``"interrupted"``, ``"error"`` (our own bug) or ``"closed"`` (the caller stopped early)."""


class _Opened(Generic[T]):
    def __init__(self, iterator: AsyncIterator[T], buffered: list[T], tracker: StreamTracker[T], started: float) -> None:
        self.iterator = iterator
        self.buffered = buffered
        self.tracker = tracker
        self.started = started


class FailoverStream(Generic[T]):
    """An async iterator over the serving provider's stream.

    ``provider``, ``target`` and ``attempts`` say who served it and what was tried.
    """

    def __init__(self, engine: Engine, opened: _Opened[T], target: Target, attempts: list[Attempt]) -> None:
        self._engine = engine
        self.on_item: Callable[[T], None] | None = None  # called for each item after the preamble
        self._iterator = opened.iterator
        self._buffer: deque[T] = deque(opened.buffered)
        self.tracker = opened.tracker
        self.target = target
        self.provider = target.provider
        self.attempts = attempts
        self.started = opened.started
        self._done = False
        self._ok = False
        self.synthesize: Callable[[int], T] | None = None  # a terminal event for a whole stream that lacked one
        self.on_end: StreamEnd | None = None

    def _end(self, outcome: str, error: BaseException | None = None) -> None:
        self._done = True
        hook, self.on_end = self.on_end, None
        if hook is not None:
            hook(self, outcome, error)

    def _succeeded(self) -> None:
        """Once per stream: the breaker hears success and ``on_end`` hears ``ok``."""
        if not self._ok:
            self._ok = True
            self._engine.breakers.get(self.target.provider, self.target.model).record_success()
            hook, self.on_end = self.on_end, None
            if hook is not None:
                hook(self, "ok", None)

    def _complete(self) -> T | None:
        """The stream is whole: returns a synthesized terminal event, if one is due."""
        self._done = True
        item: T | None = None
        if not self.tracker.terminal and self.synthesize is not None:
            item = self.synthesize(getattr(self.tracker, "next_sequence", 0))
            self.tracker.feed(item)
        self._succeeded()
        return item

    def __aiter__(self) -> FailoverStream[T]:
        return self

    def _interrupt(self, kind: FailureKind, reason: str) -> StreamInterruptedError:
        self._done = True
        breaker = self._engine.breakers.get(self.target.provider, self.target.model)
        if kind in (FailureKind.STREAM_IDLE, FailureKind.TIMEOUT):
            breaker.record_failure(open_now=True)
        else:
            breaker.record_failure()
        attempt = Attempt(self.provider, self.target.model, Outcome.INTERRUPTED, None, reason,
                          self._engine.clock() - self.started)
        self.attempts.append(attempt)
        self._engine.observer.on_attempt(attempt)
        logger.warning("stream from %s interrupted after content was sent: %s", self.provider, reason)
        error = StreamInterruptedError(
            f"stream from provider {self.provider!r} was interrupted after content was sent: {reason}",
            provider=self.provider,
            text=self.tracker.text,
            cause_kind=kind.value,
        )
        self._end("interrupted", error)
        return error

    async def __anext__(self) -> T:
        if self._buffer:
            return self._buffer.popleft()
        if self._done:
            raise StopAsyncIteration
        idle = self._engine.policy.stream_idle_timeout_s
        try:
            async with asyncio.timeout(idle):  # no task per event, unlike wait_for
                item = await self._iterator.__anext__()
        except StopAsyncIteration:
            if self.tracker.terminal or self.tracker.whole_without_terminal():
                return self._last(self._complete())
            self._done = True
            raise self._interrupt(FailureKind.STREAM_BROKEN, "the stream ended before it was complete") from None
        except TimeoutError:
            await _close(self._iterator)
            raise self._interrupt(FailureKind.STREAM_IDLE, f"no event for {idle:g} s") from None
        except asyncio.CancelledError:
            await _close(self._iterator)
            self._end("closed")
            raise
        except Exception as exc:
            await _close(self._iterator)
            if not is_provider_failure(exc):  # our own bug: the request fails, the provider is not charged
                self._end("error", exc)
                raise
            if self.tracker.terminal or self.tracker.whole_without_terminal():
                # Everything was delivered (only the terminal event may be missing: litellm raises then).
                return self._last(self._complete())
            failure = classify(exc)
            raise self._interrupt(failure.kind, failure.message) from exc
        self.tracker.feed(item)
        if self.tracker.terminal and self.tracker.failure is None:
            self._succeeded()  # the call is over for the caller even if it stops reading here
        if self.on_item is not None:
            self.on_item(item)
        return item

    def _last(self, item: T | None) -> T:
        if item is None:
            raise StopAsyncIteration
        if self.on_item is not None:
            self.on_item(item)
        return item

    async def aclose(self) -> None:
        if not self._done:
            self._end("closed")
        self._done = True
        await _close(self._iterator)


def _timeout_error(target: Target, kind: FailureKind, seconds: float) -> ProviderError:
    what = {
        FailureKind.FIRST_BYTE_TIMEOUT: "no response headers or first event",
        FailureKind.FIRST_TOKEN_TIMEOUT: "no output",
        FailureKind.STREAM_IDLE: "no event",
    }[kind]
    return ProviderError(f"{target.provider}: {what} within {seconds:g} s", provider=target.provider, kind=kind.value,
                         status_code=504)


async def open_stream(
    engine: Engine,
    group: str,
    targets: Sequence[Target],
    open_fn: Callable[[TargetAttempt], Awaitable[AsyncIterator[T]]],
    tracker_factory: Callable[[Target], StreamTracker[T]],
    *,
    prefer: str | None = None,
    on_leave: Callable[[Target], None] | None = None,
    attempts: list[Attempt] | None = None,
) -> FailoverStream[T]:
    """Open a stream on the first provider that starts sending content."""
    policy = engine.policy
    clock = engine.clock

    async def attempt(ta: TargetAttempt) -> _Opened[T]:
        started = clock()
        first_byte_deadline = started + policy.first_byte_timeout_s
        try:
            async with asyncio.timeout(max(0.0, first_byte_deadline - clock())):
                iterator = await open_fn(ta)
        except TimeoutError:
            raise _timeout_error(ta.target, FailureKind.FIRST_BYTE_TIMEOUT, policy.first_byte_timeout_s) from None
        tracker = tracker_factory(ta.target)
        buffered: list[T] = []
        try:
            while not tracker.content_started:
                if not buffered:
                    kind, seconds, deadline = (FailureKind.FIRST_BYTE_TIMEOUT, policy.first_byte_timeout_s,
                                               first_byte_deadline)
                elif policy.first_token_timeout_s is not None:
                    kind, seconds = FailureKind.FIRST_TOKEN_TIMEOUT, policy.first_token_timeout_s
                    deadline = started + seconds
                else:
                    kind, seconds = FailureKind.STREAM_IDLE, policy.stream_idle_timeout_s
                    deadline = clock() + seconds
                deadline = min(deadline, ta.deadline)
                try:
                    async with asyncio.timeout(max(0.0, deadline - clock())):
                        item = await iterator.__anext__()
                except StopAsyncIteration:
                    if tracker.terminal:
                        break
                    raise ProviderError(f"{ta.target.provider}: the stream ended before any content",
                                        provider=ta.target.provider, kind=FailureKind.STREAM_BROKEN.value,
                                        status_code=502) from None
                except TimeoutError:
                    raise _timeout_error(ta.target, kind, seconds) from None
                tracker.feed(item)
                if tracker.failure is not None:
                    raise tracker.failure
                buffered.append(item)
        except BaseException:
            await _close(iterator)
            raise
        return _Opened(iterator, buffered, tracker, started)

    opened, target, tried = await engine.run(group, targets, attempt, prefer=prefer, on_leave=on_leave,
                                             record_success=False, attempts=attempts)
    engine.observer.on_stream_start(target.provider, group, clock() - opened.started)
    return FailoverStream(engine, opened, target, tried)
