"""Breaker state that several gateway instances share through Redis.

``router.state.backend: redis`` makes :class:`~tppc_router.routing.router.TppcRouter`
build a :class:`SharedBreakerRegistry`: every breaker operation is one atomic
Lua script in Redis (:class:`RedisStore`), time-boxed, with a local fallback
(:class:`FallbackStore`) so that Redis being down or slow never fails a request.
Importing this package does not import ``redis``.
"""

from tppc_router.state.build import backend_info, close_registry, registry_from_settings
from tppc_router.state.fallback import FallbackStore
from tppc_router.state.memory import MemoryStore
from tppc_router.state.redis_store import RedisStore
from tppc_router.state.shared_breaker import SharedBreakerRegistry, SharedCircuitBreaker
from tppc_router.state.store import BreakerKey, BreakerStore, StoreResult, StateUnavailableError

__all__ = [
    "BreakerKey",
    "BreakerStore",
    "FallbackStore",
    "MemoryStore",
    "RedisStore",
    "SharedBreakerRegistry",
    "SharedCircuitBreaker",
    "StateUnavailableError",
    "StoreResult",
    "backend_info",
    "close_registry",
    "registry_from_settings",
]
