"""Active health checks: a dead primary is benched before a user's request reaches it, and recovery is found."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from canaries import CANARY_BACKUP
from simfixtures import RouterFactory, instant_backoff, router_factory, sim_providers

from tppc_router.routing.breaker import BreakerState
from tppc_router.clock import ManualClock
from tppc_router.config import HealthCheckSection
from tppc_router.ops.probes import (
    IDLE_RECHECK_S,
    PROBE_BODY,
    Prober,
    probe_once,
    prober_for,
    start_probes,
    stop_probes,
)
from tppc_router.sim import ProviderSimulator

_instant_backoff = instant_backoff()
sims = sim_providers()
make_router = router_factory()


def responses_calls(sim: ProviderSimulator) -> int:
    return sum(1 for r in sim.requests if r.path == "/v1/responses")


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_probe_opens_the_breaker_of_a_dead_primary(make_router: RouterFactory,
                                                         sims: dict[str, ProviderSimulator]) -> None:
    """A failing probe opens the primary's breaker at once, so the next request goes straight to the backup."""
    router = make_router()
    sims["primary"].set_fault("status:500")
    results = {r.provider: r for r in await probe_once(router)}
    assert results["primary"].outcome == "server_error" and results["primary"].status == 500
    assert results["backup"].ok
    assert router.breakers.get("primary", "gpt-5").state is BreakerState.OPEN
    assert router.breakers.get("backup", "gpt-5").state is BreakerState.CLOSED
    result = await router.aresponses("gpt-5", "hello")
    assert result._hidden_params["tppc_provider"] == "backup"
    assert responses_calls(sims["primary"]) == 1  # the probe only


async def test_recovery_closes_the_breaker_after_the_cooldown(make_router: RouterFactory,
                                                             sims: dict[str, ProviderSimulator]) -> None:
    """An open breaker is not probed during its cooldown; once half-open, a passing probe closes it."""
    clock = ManualClock()
    router = make_router(clock=clock)
    sims["primary"].set_fault("status:503")
    await probe_once(router)
    breaker = router.breakers.get("primary", "gpt-5")
    assert breaker.state is BreakerState.OPEN
    sims["primary"].clear_faults()
    skipped = {r.provider: r for r in await probe_once(router)}
    assert skipped["primary"].outcome == "skipped"
    clock.advance(router.policy.cooldown_s + 1)
    assert breaker.state is BreakerState.HALF_OPEN
    recovered = {r.provider: r for r in await probe_once(router)}
    assert recovered["primary"].ok
    assert breaker.state is BreakerState.CLOSED


async def test_background_probes_find_a_dead_primary_and_its_recovery(make_router: RouterFactory,
                                                                      sims: dict[str, ProviderSimulator]) -> None:
    """With a short interval, the loop opens the dead primary's breaker and closes it once the fault clears."""
    router = make_router(router="  cooldown: 0.2\n  health-check: {enabled: true, interval: 0.05, timeout: 2}\n")
    sims["primary"].set_fault("status:500")
    seen: list[str] = []
    task = start_probes(router, on_result=lambda r: seen.append(f"{r.provider}:{r.outcome}"))
    assert task is not None
    try:
        breaker = router.breakers.get("primary", "gpt-5")
        await wait_for(lambda: breaker.state is not BreakerState.CLOSED)
        assert prober_for(router) is not None
        sims["primary"].clear_faults()
        await wait_for(lambda: breaker.state is BreakerState.CLOSED and "primary:ok" in seen)
    finally:
        await stop_probes(task)
    assert "primary:server_error" in seen
    assert prober_for(router) is None


async def test_probes_follow_the_live_setting(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """Off by default no probe is sent; a reload that enables health checks starts them without a restart."""
    router = make_router()
    gate: asyncio.Queue[float] = asyncio.Queue()

    async def sleep(seconds: float) -> None:
        await gate.put(seconds)
        await asyncio.sleep(0)

    task = start_probes(router, sleep=sleep)
    assert task is not None
    try:
        assert await gate.get() == IDLE_RECHECK_S
        assert responses_calls(sims["primary"]) == 0
        prober = prober_for(router)
        assert prober is not None and prober.next_run_at is None
        section = router.tppc_settings.router.model_copy(
            update={"health_check": HealthCheckSection(enabled=True, interval=7)})
        router.reload(router.tppc_settings.model_copy(update={"router": section}))
        while await gate.get() != 7:
            pass
        assert responses_calls(sims["primary"]) == 1
        assert prober.next_run_at is not None
    finally:
        await stop_probes(task)


async def test_fixed_settings_that_are_off_start_nothing(make_router: RouterFactory) -> None:
    """start_probes with a disabled health-check section starts no task."""
    router = make_router()
    assert start_probes(router, router.tppc_settings) is None


async def test_probe_request_is_tiny_and_carries_the_providers_key(make_router: RouterFactory,
                                                                   sims: dict[str, ProviderSimulator]) -> None:
    """The probe is a small streamed Responses request for the served model, with that provider's key."""
    await probe_once(make_router())
    [request] = [r for r in sims["backup"].requests if r.path == "/v1/responses"]
    assert request.api_key == CANARY_BACKUP
    assert request.body == {**PROBE_BODY, "model": "gpt-5"}
    assert request.stream is True


async def test_invalid_request_answer_counts_as_up(make_router: RouterFactory,
                                                   sims: dict[str, ProviderSimulator]) -> None:
    """A relay that refuses the probe's body with 400 is up: its breaker stays closed."""
    router = make_router()
    sims["primary"].set_fault("status:400")
    results = {r.provider: r for r in await probe_once(router)}
    assert results["primary"].ok and results["primary"].status == 400
    assert router.breakers.get("primary", "gpt-5").state is BreakerState.CLOSED


async def test_auth_failure_benches_for_the_auth_cooldown(make_router: RouterFactory,
                                                          sims: dict[str, ProviderSimulator]) -> None:
    """A 401 opens the breaker for router.auth-cooldown, not the short default cooldown."""
    router = make_router(router="  auth-cooldown: 600\n", clock=ManualClock())
    sims["primary"].set_fault("status:401")
    await probe_once(router)
    retry = router.breakers.get("primary", "gpt-5").snapshot().retry_in_s
    assert retry is not None and retry == pytest.approx(600)


async def test_unreachable_provider_fails_the_probe(make_router: RouterFactory,
                                                    sims: dict[str, ProviderSimulator]) -> None:
    """A stopped simulator (connection refused) is a connection failure and opens its breaker."""
    router = make_router()
    sims["primary"].stop()
    results = {r.provider: r for r in await probe_once(router, timeout=2)}
    assert results["primary"].outcome == "connection"
    assert router.breakers.get("primary", "gpt-5").state is BreakerState.OPEN


def test_next_probe_is_the_first_round_after_the_cooldown(make_router: RouterFactory) -> None:
    """next_probe_in rounds a breaker's retry time up to the probe schedule."""
    clock = ManualClock()
    prober = Prober(make_router(), HealthCheckSection(enabled=True, interval=10), clock=clock)
    assert prober.next_probe_in(25.0) == 25.0  # no round scheduled yet: the breaker's own time
    prober.next_run_at = clock() + 4
    assert prober.next_probe_in(2.0) == 4.0
    assert prober.next_probe_in(25.0) == 34.0
    assert prober.next_probe_in(None) is None
