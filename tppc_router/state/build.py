"""From ``router.state`` to a breaker registry, and what the router reports about it."""

from __future__ import annotations

import time
from typing import Any

from tppc_router.routing.breaker import BreakerRegistry
from tppc_router.clock import Clock, monotonic
from tppc_router.config.schema import Settings
from tppc_router.masking import mask_redis_url

from tppc_router.state.fallback import FallbackStore
from tppc_router.state.shared_breaker import SharedBreakerRegistry

__all__ = ["backend_info", "close_registry", "mask_redis_url", "registry_from_settings"]


def registry_from_settings(
    settings: Settings,
    *,
    failure_threshold: int,
    cooldown_s: float,
    clock: Clock = monotonic,
    wall: Clock = time.time,
) -> BreakerRegistry:
    """The breaker registry ``router.state`` asks for.

    ``memory`` (the default): a plain :class:`BreakerRegistry`, nothing shared.
    ``redis``: a :class:`SharedBreakerRegistry` on ``router.state.url`` under
    ``router.state.prefix``, every operation time-boxed to ``op-timeout``, with
    local fallback and a background health check. Importing redis happens here;
    without it this raises a :class:`~tppc_router.errors.ConfigError` with the
    install hint. Nothing connects yet: an unreachable Redis never fails this.
    """
    section = settings.router.state
    if section.backend != "redis":
        return BreakerRegistry(failure_threshold=failure_threshold, cooldown_s=cooldown_s, clock=clock)
    from tppc_router.state.redis_store import RedisStore

    where = mask_redis_url(section.url)
    remote = RedisStore.from_url(section.url, prefix=section.prefix, op_timeout=section.op_timeout)
    store = FallbackStore(remote, where=where, wall=wall).start()
    return SharedBreakerRegistry(
        store, url=where, failure_threshold=failure_threshold, cooldown_s=cooldown_s, clock=clock, wall=wall
    )


def backend_info(registry: BreakerRegistry) -> dict[str, Any]:
    """``{"backend": "memory"|"redis", "reachable": bool, "url": masked URL or None}``."""
    if isinstance(registry, SharedBreakerRegistry):
        return registry.backend_info()
    return {"backend": "memory", "reachable": True, "url": None}


def close_registry(registry: BreakerRegistry) -> None:
    """Stop a shared registry's health check and close its connections (nothing for memory)."""
    if isinstance(registry, SharedBreakerRegistry):
        registry.close()
