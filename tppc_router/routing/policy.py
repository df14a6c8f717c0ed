"""Map the ``router:`` config section onto the engine's :class:`RouterPolicy`."""

from __future__ import annotations

from tppc_router.config.schema import Settings
from tppc_router.routing.failover import RouterPolicy

__all__ = ["policy_from_settings"]


def policy_from_settings(settings: Settings) -> RouterPolicy:
    r = settings.router
    return RouterPolicy(
        same_provider_retries=r.same_provider_retries,
        retry_backoff_s=r.retry_backoff,
        rate_limit_backoff_s=r.rate_limit_backoff,
        auth_cooldown_s=r.auth_cooldown,
        not_found_cooldown_s=r.not_found_cooldown,
        failure_threshold=r.failure_threshold,
        cooldown_s=r.cooldown,
        total_budget_s=r.total_budget,
        first_byte_timeout_s=r.first_byte_timeout,
        first_token_timeout_s=r.first_token_timeout,
        stream_idle_timeout_s=r.stream_idle_timeout,
        timeout_s=r.timeout,
        max_cooldown_wait_s=r.max_cooldown_wait,
        allow_client_store=r.allow_client_store,
    )
