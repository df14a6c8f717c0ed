"""What a breaker store is: the six operations, their result, and the one error.

A store keeps one :class:`~tppc_router.routing.breaker.BreakerData` per
:class:`BreakerKey` and applies the breaker transitions to it atomically. Every
``now`` and deadline a store sees is *wall-clock* time (``time.time``): stores
may be shared by processes whose monotonic clocks have nothing in common.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

from tppc_router.routing.breaker import BreakerData, BreakerState
from tppc_router.errors import TppcRouterError

__all__ = ["BreakerKey", "BreakerStore", "StateUnavailableError", "StoreResult"]


class BreakerKey(NamedTuple):
    """Which breaker: a provider name and the model asked of it (never a key or a URL)."""

    provider: str
    model: str


@dataclass(frozen=True, slots=True)
class StoreResult:
    """The result of one store operation.

    ``before`` is the effective state just before the operation (as the store saw
    it, which may include other instances' changes), ``data`` the data after it,
    and ``allowed`` whether :meth:`BreakerStore.allow` let the request through
    (always ``False`` for the other operations).
    """

    before: BreakerState
    data: BreakerData
    allowed: bool = False


class BreakerStore(Protocol):
    """Atomic read-modify-write of breaker data, with the semantics of the pure
    ``step_*`` functions of :mod:`tppc_router.routing.breaker`."""

    def allow(self, key: BreakerKey, now: float, *, probe_timeout_s: float) -> StoreResult: ...

    def success(self, key: BreakerKey, now: float) -> StoreResult: ...

    def failure(
        self, key: BreakerKey, now: float, *, failure_threshold: int, cooldown_s: float, open_now: bool
    ) -> StoreResult: ...

    def block(self, key: BreakerKey, now: float, deadline: float) -> StoreResult: ...

    def load(self, key: BreakerKey, now: float) -> StoreResult: ...

    def reset(self, key: BreakerKey, now: float) -> StoreResult: ...


class StateUnavailableError(TppcRouterError):
    """The shared state store did not answer in time, or answered with an error.

    Never reaches a caller of the router: the fallback store catches it and uses
    local state instead.
    """

    status_code = 503
    type = "state_unavailable"
    code = "state_unavailable"
