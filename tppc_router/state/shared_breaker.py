"""A circuit breaker whose data lives in a store that several instances share.

:class:`SharedCircuitBreaker` is a :class:`~tppc_router.routing.breaker.CircuitBreaker`
(same methods, same listeners) whose every ``allow``/``record_*``/``block_until``
is one atomic operation on a :class:`~tppc_router.state.store.BreakerStore`, so
an instance sees what the others did on its very next request.

Two clocks. The store keeps *wall-clock* deadlines (``wall``, ``time.time``):
monotonic clocks of different processes share no origin. Callers keep using the
breaker's ``clock`` (the router's, monotonic): :attr:`retry_at` is converted to
it and :meth:`block_until` takes a deadline on it, so the engine and
``apply_decision`` need not know where the data lives. ``data``, ``state`` and
``retry_at`` read the data the last operation returned (no round trip);
:meth:`snapshot` reads the store first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from tppc_router.routing.breaker import (
    DEFAULT_PROBE_TIMEOUT_S,
    BreakerListener,
    BreakerRegistry,
    BreakerSnapshot,
    BreakerState,
    CircuitBreaker,
    effective_state,
    next_probe_at,
)
from tppc_router.clock import Clock, monotonic

from tppc_router.state.fallback import FallbackStore
from tppc_router.state.store import BreakerKey, BreakerStore, StoreResult

__all__ = ["SharedBreakerRegistry", "SharedCircuitBreaker"]


class SharedCircuitBreaker(CircuitBreaker):
    """The breaker of one (provider, model), its data in ``store`` on wall-clock time."""

    def __init__(
        self,
        provider: str,
        model: str,
        *,
        store: BreakerStore,
        wall: Clock = time.time,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        probe_timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
        clock: Clock = monotonic,
        listeners: Sequence[BreakerListener] = (),
    ) -> None:
        super().__init__(
            provider,
            model,
            failure_threshold=failure_threshold,
            cooldown_s=cooldown_s,
            probe_timeout_s=probe_timeout_s,
            clock=clock,
            listeners=listeners,
        )
        self.store = store
        self.wall = wall
        self.key = BreakerKey(provider, model)

    # -- reads (the last data seen; no round trip) --------------------------------------

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return effective_state(self._data, self.wall())

    @property
    def retry_at(self) -> float | None:
        """On :attr:`clock`, like :class:`CircuitBreaker`: when a probe will next be let through."""
        with self._lock:
            at = next_probe_at(self._data)
            return None if at is None else at - self.wall() + self.clock()

    # -- operations (one store round trip each) ----------------------------------------

    def allow(self) -> bool:
        return self._run(lambda now: self.store.allow(self.key, now, probe_timeout_s=self.probe_timeout_s)).allowed

    def record_success(self) -> None:
        self._run(lambda now: self.store.success(self.key, now))

    def record_failure(self, *, open_now: bool = False, cooldown_s: float | None = None) -> None:
        cooldown = self.cooldown_s if cooldown_s is None else cooldown_s
        self._run(
            lambda now: self.store.failure(
                self.key, now, failure_threshold=self.failure_threshold, cooldown_s=cooldown, open_now=open_now
            )
        )

    def block_until(self, deadline: float) -> None:
        """Keep the provider out until ``deadline`` on :attr:`clock` (stored as wall-clock time)."""
        remaining = deadline - self.clock()
        self._run(lambda now: self.store.block(self.key, now, now + remaining))

    def reset(self) -> None:
        """Start afresh in the store, for every instance (see :func:`step_reset`)."""
        self._run(lambda now: self.store.reset(self.key, now))

    def refresh(self) -> None:
        """Read the store (what the other instances did) without changing anything."""
        self._run(lambda now: self.store.load(self.key, now))

    def snapshot(self) -> BreakerSnapshot:
        self.refresh()
        with self._lock:
            return BreakerSnapshot.of(self.provider, self.model, self._data, self.wall())

    def _run(self, op: Callable[[float], StoreResult]) -> StoreResult:
        with self._lock:
            now = self.wall()
            outcome = op(now)
            self._data = outcome.data
            after = effective_state(outcome.data, now)
            transitions = [(self._reported, outcome.before), (outcome.before, after)]
            self._reported = after
            for old, new in transitions:
                if old is not new:
                    self._notify(old, new)
        return outcome


class SharedBreakerRegistry(BreakerRegistry):
    """A :class:`BreakerRegistry` whose breakers keep their data in ``store``.

    ``url`` (already masked) is what :meth:`backend_info` reports. :meth:`close`
    stops the store's health check and closes its connections.
    """

    def __init__(
        self,
        store: BreakerStore,
        *,
        url: str | None = None,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        probe_timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
        clock: Clock = monotonic,
        wall: Clock = time.time,
        listeners: Sequence[BreakerListener] = (),
    ) -> None:
        super().__init__(
            failure_threshold=failure_threshold,
            cooldown_s=cooldown_s,
            probe_timeout_s=probe_timeout_s,
            clock=clock,
            listeners=listeners,
        )
        self.store = store
        self.url = url
        self.wall = wall

    def _create(self, provider: str, model: str) -> CircuitBreaker:
        return SharedCircuitBreaker(
            provider,
            model,
            store=self.store,
            wall=self.wall,
            failure_threshold=self.failure_threshold,
            cooldown_s=self.cooldown_s,
            probe_timeout_s=self.probe_timeout_s,
            clock=self.clock,
            listeners=self._listeners,
        )

    @property
    def reachable(self) -> bool:
        """Whether the shared store answers (a plain store without fallback always counts as reachable)."""
        return self.store.reachable if isinstance(self.store, FallbackStore) else True

    def backend_info(self) -> dict[str, Any]:
        return {"backend": "redis", "reachable": self.reachable, "url": self.url}

    def close(self) -> None:
        close = getattr(self.store, "close", None)
        if callable(close):
            close()
