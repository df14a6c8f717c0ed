"""A circuit breaker per (provider, model), with an injected clock.

The shape follows pybreaker (closed, open and half-open states, listener hooks),
but nothing here reads the wall clock: every breaker takes a ``Clock``, so tests
move time by hand and never sleep.

The states and every transition are pure functions over a frozen
:class:`BreakerData` in :mod:`tppc_router.routing.breaker_state` (re-exported here);
this module adds the lock, the clock and the listeners.

Subclass hooks (``tppc_router.state.shared_breaker`` keeps the data in Redis): a
subclass may use ``_lock``, ``_data``, ``_reported``, ``_listeners`` and ``_notify``
of :class:`CircuitBreaker`, and override ``_create`` of :class:`BreakerRegistry`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from tppc_router.clock import Clock, monotonic
from tppc_router.routing.breaker_state import (
    DEFAULT_PROBE_TIMEOUT_S,
    BreakerData,
    BreakerSnapshot,
    BreakerState,
    blocked,
    effective_state,
    next_probe_at,
    step_allow,
    step_block,
    step_failure,
    step_reset,
    step_success,
)
from tppc_router.masking import get_logger

__all__ = [
    "DEFAULT_PROBE_TIMEOUT_S",
    "BreakerData",
    "BreakerListener",
    "BreakerRegistry",
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "blocked",
    "effective_state",
    "next_probe_at",
    "step_allow",
    "step_block",
    "step_failure",
    "step_reset",
    "step_success",
]

logger = get_logger(__name__)


BreakerListener = Callable[["CircuitBreaker", BreakerState, BreakerState], None]


class CircuitBreaker:
    """The breaker of one (provider, model). Thread-safe.

    Listeners run while the breaker's (reentrant) lock is held, so they see
    transitions in order and may read the breaker; keep them quick. A listener
    that raises is logged and ignored. Transitions caused by time alone (open ->
    half-open) are reported on the next :meth:`allow` or ``record_*`` call.
    """

    def __init__(
        self,
        provider: str,
        model: str,
        *,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        probe_timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
        clock: Clock = monotonic,
        listeners: Sequence[BreakerListener] = (),
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown_s < 0:
            raise ValueError("cooldown_s must not be negative")
        if probe_timeout_s <= 0:
            raise ValueError("probe_timeout_s must be positive")
        self.provider = provider
        self.model = model
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.probe_timeout_s = probe_timeout_s
        self.clock = clock
        self._listeners: list[BreakerListener] = list(listeners)
        self._lock = threading.RLock()
        self._data = BreakerData()
        self._reported = BreakerState.CLOSED

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.provider!r}, {self.model!r}, state={self.state.value!r})"

    @property
    def data(self) -> BreakerData:
        """The current stored data (immutable)."""
        with self._lock:
            return self._data

    @property
    def state(self) -> BreakerState:
        """The effective state now: ``HALF_OPEN`` as soon as the cooldown is over."""
        with self._lock:
            return effective_state(self._data, self.clock())

    @property
    def retry_at(self) -> float | None:
        """Clock time when a probe will next be let through; ``None`` when closed."""
        with self._lock:
            return next_probe_at(self._data)

    def add_listener(self, listener: BreakerListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def allow(self) -> bool:
        """May a request go to this provider now? See :func:`step_allow`."""
        allowed = False

        def step(data: BreakerData, now: float) -> BreakerData:
            nonlocal allowed
            data, allowed = step_allow(data, now, probe_timeout_s=self.probe_timeout_s)
            return data

        self._apply(step)
        return allowed

    def record_success(self) -> None:
        """The call succeeded: a half-open breaker closes, counters reset."""
        self._apply(step_success)

    def record_failure(self, *, open_now: bool = False, cooldown_s: float | None = None) -> None:
        """The call failed. ``open_now`` opens at once (timeouts, auth errors);
        ``cooldown_s`` overrides the default cooldown if this failure opens it."""
        cooldown = self.cooldown_s if cooldown_s is None else cooldown_s

        def step(data: BreakerData, now: float) -> BreakerData:
            return step_failure(
                data, now, failure_threshold=self.failure_threshold, cooldown_s=cooldown, open_now=open_now
            )

        self._apply(step)

    def block_until(self, deadline: float) -> None:
        """Keep the provider out until clock time ``deadline``; never shortens."""
        self._apply(lambda data, now: step_block(data, now, deadline))

    def reset(self) -> None:
        """Start afresh (see :func:`step_reset`): closed, with no cooldown or rate-limit block."""
        self._apply(step_reset)

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            return BreakerSnapshot.of(self.provider, self.model, self._data, self.clock())

    def _apply(self, step: Callable[[BreakerData, float], BreakerData]) -> None:
        with self._lock:
            now = self.clock()
            before = effective_state(self._data, now)
            self._data = step(self._data, now)
            after = effective_state(self._data, now)
            transitions = [(self._reported, before), (before, after)]
            self._reported = after
            for old, new in transitions:
                if old is not new:
                    self._notify(old, new)

    def _notify(self, old: BreakerState, new: BreakerState) -> None:
        for listener in list(self._listeners):
            try:
                listener(self, old, new)
            except Exception:  # a metrics bug must not break routing
                logger.exception("breaker listener failed for %s/%s", self.provider, self.model)


class BreakerRegistry:
    """One breaker per (provider, model), created on first use. Thread-safe."""

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        probe_timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
        clock: Clock = monotonic,
        listeners: Sequence[BreakerListener] = (),
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.probe_timeout_s = probe_timeout_s
        self.clock = clock
        self._listeners: list[BreakerListener] = list(listeners)
        self._lock = threading.Lock()
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}

    def get(self, provider: str, model: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get((provider, model))
            if breaker is None:
                breaker = self._create(provider, model)
                self._breakers[(provider, model)] = breaker
            return breaker

    def _create(self, provider: str, model: str) -> CircuitBreaker:
        """Build the breaker of one (provider, model); a subclass may keep its data elsewhere
        (``tppc_router.state`` keeps it in Redis). Called with the registry's lock held."""
        return CircuitBreaker(
            provider,
            model,
            failure_threshold=self.failure_threshold,
            cooldown_s=self.cooldown_s,
            probe_timeout_s=self.probe_timeout_s,
            clock=self.clock,
            listeners=self._listeners,
        )

    def add_listener(self, listener: BreakerListener) -> None:
        """Attach a listener to every breaker, existing and future."""
        with self._lock:
            self._listeners.append(listener)
            breakers = list(self._breakers.values())
        for breaker in breakers:
            breaker.add_listener(listener)

    def snapshots(self) -> list[BreakerSnapshot]:
        """Snapshots of every breaker, sorted by (provider, model)."""
        with self._lock:
            breakers = [self._breakers[key] for key in sorted(self._breakers)]
        return [breaker.snapshot() for breaker in breakers]

    def for_provider(self, provider: str) -> list[CircuitBreaker]:
        with self._lock:
            return [b for (p, _), b in sorted(self._breakers.items()) if p == provider]

    def reset(self, provider: str, models: Sequence[str] = ()) -> None:
        """Give ``provider`` fresh breakers: every one it has here, and one per model in ``models``."""
        for model in sorted({*(b.model for b in self.for_provider(provider)), *models}):
            self.get(provider, model).reset()

    def forget(self, provider: str) -> None:
        """Drop every breaker of a provider (when it is removed from the config)."""
        with self._lock:
            for key in [k for k in self._breakers if k[0] == provider]:
                del self._breakers[key]
