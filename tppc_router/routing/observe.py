"""Observers of the engine: logs and per-provider counters.

The router always has :class:`ProviderStats` (what ``provider_states()`` reports)
and :class:`FailoverLog`; the server adds Prometheus metrics the same way.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tppc_router.errors import Attempt, Outcome
from tppc_router.masking import get_logger

__all__ = ["CompositeObserver", "FailoverLog", "ProviderCounters", "ProviderStats"]

logger = get_logger("tppc_router.routing.failover")


class FailoverLog:
    """Logs every failover: from, to, why, how long it took."""

    def on_stream_start(self, provider: str, group: str, seconds: float) -> None:
        pass

    def on_attempt(self, attempt: Attempt) -> None:
        if attempt.outcome not in (Outcome.OK, Outcome.SKIPPED):
            logger.info("attempt failed: %s", attempt.describe(), extra={
                "event": "attempt_failed", "provider": attempt.provider, "model": attempt.model,
                "outcome": attempt.outcome.value, "status": attempt.status, "reason": attempt.reason,
                "duration_ms": round(attempt.duration_s * 1000, 1)})

    def on_failover(self, group: str, from_provider: str, to_provider: str | None, reason: str, seconds: float) -> None:
        fields = {"event": "failover", "group": group, "provider": from_provider, "from": from_provider,
                  "to": to_provider, "reason": reason, "duration_ms": round(seconds * 1000, 1)}
        if to_provider is None:
            logger.warning("no provider left for %s after %s failed (%s, %.0f ms)", group, from_provider, reason,
                           seconds * 1000, extra=fields)
        else:
            logger.warning("failover for %s: %s -> %s (%s, %.0f ms)", group, from_provider, to_provider, reason,
                           seconds * 1000, extra=fields)


@dataclass
class _Counts:
    outcomes: Counter[str] = field(default_factory=Counter)
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=100))
    last_error: str = ""
    last_latency_ms: float | None = None
    failovers_from: int = 0


@dataclass(frozen=True, slots=True)
class ProviderCounters:
    """One provider's counters at one moment (see :class:`ProviderStats`)."""

    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    error_rate: float = 0.0
    last_error: str = ""
    last_latency_ms: float | None = None
    failovers_from: int = 0


class ProviderStats:
    """Per-provider counters for ``TppcRouter.provider_states()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, _Counts] = {}

    def _get(self, provider: str) -> _Counts:
        return self._counts.setdefault(provider, _Counts())

    def on_attempt(self, attempt: Attempt) -> None:
        if attempt.outcome is Outcome.SKIPPED:
            return
        with self._lock:
            counts = self._get(attempt.provider)
            counts.outcomes[attempt.outcome.value] += 1
            counts.recent.append(attempt.outcome is Outcome.OK)
            counts.last_latency_ms = round(attempt.duration_s * 1000, 1)
            if attempt.outcome is not Outcome.OK:
                counts.last_error = f"{attempt.outcome.value}: {attempt.reason}"[:300]

    def on_failover(self, group: str, from_provider: str, to_provider: str | None, reason: str, seconds: float) -> None:
        with self._lock:
            self._get(from_provider).failovers_from += 1

    def on_stream_start(self, provider: str, group: str, seconds: float) -> None:
        pass

    def snapshot(self, provider: str) -> ProviderCounters:
        with self._lock:
            counts = self._counts.get(provider, _Counts())
            recent = list(counts.recent)
            return ProviderCounters(
                requests=sum(counts.outcomes.values()),
                outcomes=dict(counts.outcomes),
                error_rate=round(1 - sum(recent) / len(recent), 3) if recent else 0.0,
                last_error=counts.last_error,
                last_latency_ms=counts.last_latency_ms,
                failovers_from=counts.failovers_from,
            )


class CompositeObserver:
    """Fans engine events out to several observers."""

    def __init__(self, observers: Sequence[Any]) -> None:
        self.observers = list(observers)

    def add(self, observer: Any) -> None:
        self.observers.append(observer)

    def on_attempt(self, attempt: Attempt) -> None:
        for observer in self.observers:
            observer.on_attempt(attempt)

    def on_failover(self, group: str, from_provider: str, to_provider: str | None, reason: str, seconds: float) -> None:
        for observer in self.observers:
            observer.on_failover(group, from_provider, to_provider, reason, seconds)

    def on_stream_start(self, provider: str, group: str, seconds: float) -> None:
        for observer in self.observers:
            hook = getattr(observer, "on_stream_start", None)
            if hook is not None:
                hook(provider, group, seconds)

    def on_call_done(self, record: Any) -> None:
        """A logical call is over (a :class:`~tppc_router.routing.pipeline.CallRecord`): for the
        observers that have an ``on_call_done`` hook (callbacks, metrics)."""
        for observer in self.observers:
            hook = getattr(observer, "on_call_done", None)
            if hook is not None:
                hook(record)
