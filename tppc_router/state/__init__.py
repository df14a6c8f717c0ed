"""Breaker state that several gateway instances share through Redis.

``router.state.backend: redis`` makes :class:`~tppc_router.router.TppcRouter`
build a :class:`SharedBreakerRegistry`: every breaker operation is one atomic
Lua script in Redis (:class:`RedisStore`), time-boxed, with a local fallback
(:class:`FallbackStore`) so that Redis being down or slow never fails a request.
Importing this package does not import ``redis``.
"""

from .build import backend_info, close_registry, registry_from_settings
from .fallback import FallbackStore
from .memory import MemoryStore
from .redis_store import RedisStore
from .shared_breaker import SharedBreakerRegistry, SharedCircuitBreaker
from .store import BreakerKey, BreakerStore, Outcome, StateUnavailableError

__all__ = [
    "BreakerKey",
    "BreakerStore",
    "FallbackStore",
    "MemoryStore",
    "Outcome",
    "RedisStore",
    "SharedBreakerRegistry",
    "SharedCircuitBreaker",
    "StateUnavailableError",
    "backend_info",
    "close_registry",
    "registry_from_settings",
]
