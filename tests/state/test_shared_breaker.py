"""Shared breakers: what one instance does, the others see on their next operation."""

from __future__ import annotations

import uuid

import pytest

from tppc_router.routing.breaker import BreakerRegistry, BreakerState, CircuitBreaker
from tppc_router.clock import ManualClock
from tppc_router.errors import ConfigError
from tppc_router.routing.failover import Decision, apply_decision
from tppc_router.config.loader import load_settings
from tppc_router.state import (
    FallbackStore,
    MemoryStore,
    RedisStore,
    SharedBreakerRegistry,
    SharedCircuitBreaker,
    backend_info,
    close_registry,
    registry_from_settings,
)

from .conftest import RedisServer


def instance(server: RedisServer, prefix: str, wall: ManualClock, clock: ManualClock | None = None,
             **kwargs: float) -> SharedBreakerRegistry:
    """One gateway instance: its own client, its own local clock, the shared wall clock."""
    remote = RedisStore.from_url(server.url, prefix=prefix, op_timeout=1.0)
    return SharedBreakerRegistry(FallbackStore(remote), clock=clock or ManualClock(), wall=wall, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def pair(shared_redis: RedisServer) -> tuple[SharedBreakerRegistry, SharedBreakerRegistry, ManualClock]:
    wall = ManualClock(1_700_000_000.0)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    a = instance(shared_redis, prefix, wall, ManualClock(50.0), failure_threshold=2, cooldown_s=30.0)
    b = instance(shared_redis, prefix, wall, ManualClock(9_000.0), failure_threshold=2, cooldown_s=30.0)
    return a, b, wall


def test_failures_count_across_instances_and_the_open_is_seen_at_once(
        pair: tuple[SharedBreakerRegistry, SharedBreakerRegistry, ManualClock]) -> None:
    """One failure on A and one on B reach the threshold of 2; both skip the provider right away."""
    a, b, _ = pair
    a.get("primary", "gpt-5").record_failure()
    assert b.get("primary", "gpt-5").allow() is True
    b.get("primary", "gpt-5").record_failure()
    assert a.get("primary", "gpt-5").allow() is False
    assert b.get("primary", "gpt-5").allow() is False
    assert a.get("primary", "gpt-5").state is BreakerState.OPEN
    assert a.get("backup", "gpt-5").allow() is True  # per provider and model


def test_retry_after_deadline_is_shared_in_each_instances_own_clock(
        pair: tuple[SharedBreakerRegistry, SharedBreakerRegistry, ManualClock]) -> None:
    """A 429 with Retry-After: 120 on A keeps B off for 120 s, on B's monotonic clock."""
    a, b, wall = pair
    apply_decision(a.get("primary", "gpt-5"), Decision(False, True, 0.0, True, 120.0, False))
    breaker_b = b.get("primary", "gpt-5")
    assert breaker_b.allow() is False
    assert breaker_b.retry_at is not None
    assert breaker_b.retry_at - breaker_b.clock() == pytest.approx(120.0)
    wall.advance(119)
    assert breaker_b.allow() is False
    wall.advance(1)
    assert breaker_b.allow() is True  # the probe


def test_exactly_one_instance_gets_the_probe_and_its_success_closes_for_all(
        pair: tuple[SharedBreakerRegistry, SharedBreakerRegistry, ManualClock]) -> None:
    """After the cooldown one allow() in the whole fleet is the probe; its success returns everyone."""
    a, b, wall = pair
    a.get("primary", "gpt-5").record_failure(open_now=True)
    wall.advance(30)
    answers = [reg.get("primary", "gpt-5").allow() for reg in (a, b, a, b, b)]
    assert answers.count(True) == 1
    prober = (a, b)[answers.index(True) % 2]
    prober.get("primary", "gpt-5").record_success()
    assert a.get("primary", "gpt-5").allow() and b.get("primary", "gpt-5").allow()
    assert b.get("primary", "gpt-5").snapshot().state is BreakerState.CLOSED


def test_failed_probe_reopens_for_everyone(
        pair: tuple[SharedBreakerRegistry, SharedBreakerRegistry, ManualClock]) -> None:
    """A probe that fails opens the breaker again for another cooldown, for every instance."""
    a, b, wall = pair
    a.get("primary", "gpt-5").record_failure(open_now=True)
    wall.advance(30)
    assert b.get("primary", "gpt-5").allow() is True
    b.get("primary", "gpt-5").record_failure()
    wall.advance(29)
    assert a.get("primary", "gpt-5").allow() is False
    snapshot = a.get("primary", "gpt-5").snapshot()
    assert snapshot.state is BreakerState.OPEN and snapshot.opened_count == 2
    assert snapshot.retry_in_s == pytest.approx(1.0)


def test_listeners_see_transitions_another_instance_caused(
        pair: tuple[SharedBreakerRegistry, SharedBreakerRegistry, ManualClock]) -> None:
    """B's listener reports closed -> open when B first meets the breaker A opened."""
    a, b, _ = pair
    seen: list[tuple[str, BreakerState, BreakerState]] = []

    def listener(breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        seen.append((breaker.provider, old, new))

    b.add_listener(listener)
    b.get("primary", "gpt-5").allow()
    a.get("primary", "gpt-5").record_failure(open_now=True)
    b.get("primary", "gpt-5").allow()
    assert seen == [("primary", BreakerState.CLOSED, BreakerState.OPEN)]


def test_shared_breaker_on_a_memory_store_is_a_plain_breaker() -> None:
    """Over a MemoryStore (one process), the shared breaker goes through the same cycle as CircuitBreaker."""
    clock = ManualClock()
    shared = SharedCircuitBreaker("acme", "gpt-5", store=MemoryStore(), wall=clock, clock=clock, failure_threshold=2)
    plain = CircuitBreaker("acme", "gpt-5", clock=clock, failure_threshold=2)
    script = ["f", "a", "f", "a", "+31", "a", "a", "f", "+31", "a", "s", "a", "b", "a", "+61", "a"]
    for step in script:
        results = []
        for breaker in (shared, plain):
            if step == "f":
                breaker.record_failure()
            elif step == "s":
                breaker.record_success()
            elif step == "b":
                breaker.block_until(clock() + 60)
            elif step == "a":
                results.append(breaker.allow())
        if step.startswith("+"):
            clock.advance(float(step[1:]))
        assert len(set(results)) <= 1, step
        assert shared.state is plain.state and shared.retry_at == plain.retry_at and shared.data == plain.data


def settings_for(state: dict[str, object]) -> object:
    lines = ["tppc:", "  providers:", '    - {name: primary, base-url: "http://127.0.0.1:9/v1", api-key: sk-x}',
             "router:", "  state:"] + [f"    {k}: {v}" for k, v in state.items()]
    return load_settings(text="\n".join(lines) + "\n")


def test_memory_backend_is_a_plain_registry() -> None:
    """router.state.backend: memory (the default) shares nothing."""
    registry = registry_from_settings(settings_for({"backend": "memory"}), failure_threshold=3,  # type: ignore[arg-type]
                                      cooldown_s=30.0)
    assert type(registry) is BreakerRegistry
    assert backend_info(registry) == {"backend": "memory", "reachable": True, "url": None}


def test_redis_backend_reports_a_masked_url(shared_redis: RedisServer) -> None:
    """router.state.backend: redis builds a shared registry; its info never shows the password."""
    url = shared_redis.url.replace("redis://", "redis://:pw-not-shown-1234@")
    registry = registry_from_settings(settings_for({"backend": "redis", "url": f'"{url}"', "op-timeout": 0.2}),  # type: ignore[arg-type]
                                      failure_threshold=3, cooldown_s=30.0)
    try:
        assert isinstance(registry, SharedBreakerRegistry)
        info = backend_info(registry)
        assert info["backend"] == "redis" and "pw-not-shown-1234" not in str(info)
        assert info["url"].startswith("redis://:pw-n...1234@127.0.0.1:")
    finally:
        close_registry(registry)


def test_redis_backend_without_the_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Choosing redis without the redis package fails at build time with the pip hint."""
    monkeypatch.setitem(__import__("sys").modules, "redis", None)
    with pytest.raises(ConfigError, match=r"pip install 'tppc-router\[redis\]'"):
        registry_from_settings(settings_for({"backend": "redis"}), failure_threshold=3,  # type: ignore[arg-type]
                               cooldown_s=30.0)
