"""Redis first, local state when Redis is away: a store that never fails a request.

:class:`FallbackStore` sends every operation to the remote store (Redis) and
mirrors each answer into a local :class:`MemoryStore`. When an operation fails
or times out, it logs one warning, marks the remote unreachable and serves every
later operation from the mirror, which continues from the last state Redis
reported. No request waits for Redis while it is away: only the operation that
found it gone paid (at most ``op_timeout``).

A daemon thread pings the remote every ``interval`` seconds (1 s). While Redis is
reachable, a failed ping marks it unreachable even without traffic; while it is
away, a successful ping brings it back: breakers this instance opened meanwhile
are written to Redis (a block never shortens a deadline), one line is logged, and
sharing resumes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from tppc_router.routing.breaker import BreakerState, blocked, effective_state
from tppc_router.clock import Clock
from tppc_router.masking import get_logger, mask_text

from tppc_router.state.memory import MemoryStore
from tppc_router.state.store import BreakerKey, BreakerStore, StoreResult

__all__ = ["FallbackStore", "RemoteStore"]

logger = get_logger("tppc_router.state")

DEFAULT_INTERVAL_S = 1.0


class RemoteStore(BreakerStore, Protocol):
    """A :class:`BreakerStore` that can be pinged and reconnected (:class:`RedisStore`)."""

    def ping(self) -> None: ...

    def reset_connections(self) -> None: ...

    def close(self) -> None: ...


class FallbackStore:
    """A :class:`BreakerStore`: the remote store, or the local mirror while it is away."""

    def __init__(
        self,
        remote: RemoteStore,
        *,
        where: str = "Redis",
        interval: float = DEFAULT_INTERVAL_S,
        wall: Clock | None = None,
        local: MemoryStore | None = None,
    ) -> None:
        self.remote = remote
        self.local = local or MemoryStore()
        self.where = where  # how log lines name the remote: a masked URL
        self.interval = interval
        self.wall: Clock = wall or time.time
        self._lock = threading.Lock()
        self._reachable = True
        self.outages = 0  # times the remote became unreachable (each logged once)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def reachable(self) -> bool:
        """Whether operations go to the remote store (``False`` while it is away)."""
        return self._reachable

    # -- the store operations ---------------------------------------------------------

    def allow(self, key: BreakerKey, now: float, *, probe_timeout_s: float) -> StoreResult:
        return self._call(key, lambda store: store.allow(key, now, probe_timeout_s=probe_timeout_s))

    def success(self, key: BreakerKey, now: float) -> StoreResult:
        return self._call(key, lambda store: store.success(key, now))

    def failure(
        self, key: BreakerKey, now: float, *, failure_threshold: int, cooldown_s: float, open_now: bool
    ) -> StoreResult:
        return self._call(
            key,
            lambda store: store.failure(
                key, now, failure_threshold=failure_threshold, cooldown_s=cooldown_s, open_now=open_now
            ),
        )

    def block(self, key: BreakerKey, now: float, deadline: float) -> StoreResult:
        return self._call(key, lambda store: store.block(key, now, deadline))

    def load(self, key: BreakerKey, now: float) -> StoreResult:
        return self._call(key, lambda store: store.load(key, now))

    def reset(self, key: BreakerKey, now: float) -> StoreResult:
        return self._call(key, lambda store: store.reset(key, now))

    def _call(self, key: BreakerKey, op: Callable[[BreakerStore], StoreResult]) -> StoreResult:
        if self._reachable:
            try:
                outcome = op(self.remote)
            except Exception as exc:  # noqa: BLE001 - whatever Redis does, the request goes on
                self._lost(exc)
            else:
                self.local.put(key, outcome.data)
                return outcome
        return op(self.local)

    # -- reachability -----------------------------------------------------------------

    def check(self) -> bool:
        """One health check (the background thread runs this every ``interval``).
        Returns whether the remote is reachable afterwards."""
        if self._reachable:
            try:
                self.remote.ping()
            except Exception as exc:  # noqa: BLE001
                self._lost(exc)
            return self._reachable
        self.remote.reset_connections()  # every pooled socket died with the old server
        try:
            self.remote.ping()
        except Exception:  # noqa: BLE001 - still away; said so once already
            return False
        with self._lock:
            if self._reachable:
                return True
            self._reachable = True
        logger.warning("shared breaker state: %s is reachable again; sharing state resumed", self.where)
        self._push_local()
        return self._reachable

    def _lost(self, exc: BaseException) -> None:
        with self._lock:
            if not self._reachable:
                return
            self._reachable = False
            self.outages += 1
        logger.warning(
            "shared breaker state: %s is unreachable (%s); using this instance's own breaker state "
            "until it answers again (checking every %g s)",
            self.where,
            mask_text(f"{type(exc).__name__}: {exc}"),
            self.interval,
        )

    def _push_local(self) -> None:
        """Write breakers that opened here while the remote was away, so the others skip them too."""
        now = self.wall()
        for key, data in self.local.items():
            held = effective_state(data, now) is BreakerState.OPEN or blocked(data, now)
            if not held or data.opened_until is None:
                continue
            try:
                self.remote.block(key, now, data.opened_until)
            except Exception as exc:  # noqa: BLE001
                self._lost(exc)
                return

    # -- background thread ------------------------------------------------------------

    def start(self) -> FallbackStore:
        """Start the background health check (a daemon thread); idempotent."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="tppc-state-health", daemon=True)
                self._thread.start()
        return self

    def close(self) -> None:
        """Stop the background thread and close the remote's connections."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(1.0, 4 * self.interval))
        self.remote.close()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:
                logger.debug("shared breaker state: health check failed", exc_info=True)
