"""The in-process breaker store: a dict of :class:`BreakerData` and the pure step functions.

It is the reference the Redis store is tested against, and the local state a
:class:`~tppc_router.state.fallback.FallbackStore` serves from while Redis is away.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tppc_router.routing.breaker import (
    BreakerData,
    effective_state,
    step_allow,
    step_block,
    step_failure,
    step_reset,
    step_success,
)

from tppc_router.state.store import BreakerKey, StoreResult

__all__ = ["MemoryStore"]


class MemoryStore:
    """Breaker data per key, in this process. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[BreakerKey, BreakerData] = {}

    def allow(self, key: BreakerKey, now: float, *, probe_timeout_s: float) -> StoreResult:
        return self._step(key, now, lambda data: step_allow(data, now, probe_timeout_s=probe_timeout_s))

    def success(self, key: BreakerKey, now: float) -> StoreResult:
        return self._step(key, now, lambda data: (step_success(data, now), False))

    def failure(
        self, key: BreakerKey, now: float, *, failure_threshold: int, cooldown_s: float, open_now: bool
    ) -> StoreResult:
        def step(data: BreakerData) -> tuple[BreakerData, bool]:
            new = step_failure(data, now, failure_threshold=failure_threshold, cooldown_s=cooldown_s, open_now=open_now)
            return new, False

        return self._step(key, now, step)

    def block(self, key: BreakerKey, now: float, deadline: float) -> StoreResult:
        return self._step(key, now, lambda data: (step_block(data, now, deadline), False))

    def load(self, key: BreakerKey, now: float) -> StoreResult:
        return self._step(key, now, lambda data: (data, False))

    def reset(self, key: BreakerKey, now: float) -> StoreResult:
        return self._step(key, now, lambda data: (step_reset(data, now), False))

    def put(self, key: BreakerKey, data: BreakerData) -> None:
        """Replace the data of ``key`` (the fallback store mirrors what Redis said here)."""
        with self._lock:
            self._data[key] = data

    def items(self) -> list[tuple[BreakerKey, BreakerData]]:
        """Every key and its data, sorted by key."""
        with self._lock:
            return sorted(self._data.items())

    def _step(self, key: BreakerKey, now: float, step: Callable[[BreakerData], tuple[BreakerData, bool]]) -> StoreResult:
        with self._lock:
            data = self._data.get(key, BreakerData())
            new, allowed = step(data)
            self._data[key] = new
            return StoreResult(effective_state(data, now), new, allowed)
