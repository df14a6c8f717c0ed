"""The engine's retry and wait, where they run: real providers (simulators) over real HTTP.

Each test drives :class:`Engine` with the raw sender the gateway uses, so what is
checked is the one retry implementation there is (the loop inside the engine), the
fault table it applies, and the waits it takes through the injected sleep and clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from canaries import CANARY_BACKUP, CANARY_PRIMARY

from tppc_router.clock import ManualClock, monotonic
from tppc_router.errors import AllProvidersFailedError
from tppc_router.routing.breaker import BreakerRegistry, BreakerState
from tppc_router.routing.engine import Engine, Target, TargetAttempt
from tppc_router.routing.failover import RouterPolicy
from tppc_router.routing.upstream import Upstream
from tppc_router.secret import Secret
from tppc_router.sim import ProviderSimulator

KEYS = {"primary": CANARY_PRIMARY, "backup": CANARY_BACKUP}
BODY = {"model": "gpt-5", "input": "hi", "store": False}


@pytest.fixture
def sims() -> Iterator[dict[str, ProviderSimulator]]:
    with ProviderSimulator("primary", api_key=CANARY_PRIMARY) as p, ProviderSimulator("backup",
                                                                                      api_key=CANARY_BACKUP) as b:
        yield {"primary": p, "backup": b}


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    client = Upstream()
    yield client
    await client.aclose()


def target(name: str, url: str, priority: int) -> Target:
    return Target(name, "gpt-5", "gpt-5", priority, url, Secret(KEYS.get(name, CANARY_PRIMARY)))


def targets(sims: dict[str, ProviderSimulator]) -> list[Target]:
    return [target(name, sim.url, i) for i, (name, sim) in enumerate(sims.items(), start=1)]


def post(upstream: Upstream) -> Callable[[TargetAttempt], object]:
    async def attempt(ta: TargetAttempt) -> httpx.Response:
        return await upstream.post(ta.target, "/responses", BODY, timeout=5.0)

    return attempt


def calls(sim: ProviderSimulator) -> int:
    return sum(1 for r in sim.requests if r.path.endswith("/responses"))


class Sleeps:
    """An injected sleep: records each wait, moves a manual clock, and may run a step first."""

    def __init__(self, clock: ManualClock | None = None, before: Callable[[], None] | None = None) -> None:
        self.slept: list[float] = []
        self.clock = clock
        self.before = before

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.before is not None:
            self.before()
        if self.clock is not None:
            self.clock.advance(seconds)


DEFAULT_POLICY = RouterPolicy()


def engine(policy: RouterPolicy = DEFAULT_POLICY, *, clock: ManualClock | None = None,
           sleep: Sleeps | None = None) -> Engine:
    now = clock or monotonic
    return Engine(policy, BreakerRegistry(clock=now), clock=now, sleep=sleep)


async def test_a_500_is_retried_once_after_a_sub_second_backoff(sims: dict[str, ProviderSimulator],
                                                                 upstream: Upstream) -> None:
    """A 500 is retried once on the same provider after the jittered backoff, then fails over."""
    sims["primary"].set_fault("status:500")
    sleep = Sleeps()
    result, served, attempts = await engine(sleep=sleep).run("gpt-5", targets(sims), post(upstream))
    assert served.provider == "backup" and result.status_code == 200
    assert [a.outcome for a in attempts] == ["server_error", "server_error", "ok"]
    assert calls(sims["primary"]) == 2
    assert len(sleep.slept) == 1 and 0.1 <= sleep.slept[0] <= 0.3


@pytest.mark.parametrize("retries", [0, 2])
async def test_retry_count_follows_policy(sims: dict[str, ProviderSimulator], upstream: Upstream,
                                          retries: int) -> None:
    """same-provider-retries bounds the tries on one provider: 0 means one try, 2 means three."""
    sims["primary"].set_fault("status:502")
    await engine(RouterPolicy(same_provider_retries=retries), sleep=Sleeps()).run(
        "gpt-5", targets(sims), post(upstream))
    assert calls(sims["primary"]) == retries + 1


@pytest.mark.parametrize("fault", ["status:429", "status:401", "status:404"])
async def test_no_same_provider_retry_for_other_failures(sims: dict[str, ProviderSimulator], upstream: Upstream,
                                                         fault: str) -> None:
    """429, 401 and 404 are tried once on a provider, then the next provider answers."""
    sims["primary"].set_fault(fault)
    sleep = Sleeps()
    _, served, _ = await engine(sleep=sleep).run("gpt-5", targets(sims), post(upstream))
    assert served.provider == "backup" and calls(sims["primary"]) == 1 and sleep.slept == []


async def test_invalid_request_goes_back_as_is(sims: dict[str, ProviderSimulator], upstream: Upstream) -> None:
    """A 400 is the request's fault: raised as the provider's own error, no retry, no failover."""
    sims["primary"].set_fault("status:400")
    with pytest.raises(httpx.HTTPStatusError) as info:
        await engine(sleep=Sleeps()).run("gpt-5", targets(sims), post(upstream))
    assert info.value.response.status_code == 400
    assert (calls(sims["primary"]), calls(sims["backup"])) == (1, 0)


async def test_retry_that_succeeds_stays_on_the_provider(sims: dict[str, ProviderSimulator],
                                                         upstream: Upstream) -> None:
    """When the provider recovers during the backoff, the retry answers and no failover happens."""
    sims["primary"].set_fault("status:503")
    sleep = Sleeps(before=sims["primary"].clear_faults)
    _, served, attempts = await engine(sleep=sleep).run("gpt-5", targets(sims), post(upstream))
    assert served.provider == "primary"
    assert [a.outcome for a in attempts] == ["server_error", "ok"]
    assert calls(sims["backup"]) == 0


async def test_refused_connection_costs_no_wait_and_is_skipped_next_time(sims: dict[str, ProviderSimulator],
                                                                          upstream: Upstream) -> None:
    """A provider that refuses connections is tried once (no backoff) and skipped from the next request on."""
    dead = [target("nowhere", "http://127.0.0.1:9/v1", 1), target("backup", sims["backup"].url, 2)]
    sleep = Sleeps()
    run = engine(sleep=sleep)
    _, served, attempts = await run.run("gpt-5", dead, post(upstream))
    assert served.provider == "backup" and [a.outcome for a in attempts] == ["connection", "ok"]
    assert sleep.slept == []
    _, served, attempts = await run.run("gpt-5", dead, post(upstream))
    assert served.provider == "backup" and [a.outcome for a in attempts] == ["skipped", "ok"]


async def test_cooling_wait_uses_the_injected_sleep_and_clock(sims: dict[str, ProviderSimulator],
                                                              upstream: Upstream) -> None:
    """Every provider cooling (429 + Retry-After): the engine waits through the injected sleep until the
    first is back (the manual clock moves, no real time passes), then that provider answers."""
    clock = ManualClock()
    only = {"primary": sims["primary"]}
    sims["primary"].set_fault("status:429,retry-after=4")
    sleep = Sleeps(clock, before=sims["primary"].clear_faults)
    _, served, attempts = await engine(clock=clock, sleep=sleep).run("gpt-5", targets(only), post(upstream))
    assert served.provider == "primary"
    assert [a.outcome for a in attempts] == ["rate_limited", "ok"]
    assert len(sleep.slept) == 1 and 4.0 <= sleep.slept[0] <= 4.1


async def test_cooling_longer_than_max_wait_is_not_waited(sims: dict[str, ProviderSimulator],
                                                          upstream: Upstream) -> None:
    """A provider cooling for longer than max-cooldown-wait is not waited for: the call fails at once."""
    clock = ManualClock()
    sims["primary"].set_fault("status:429,retry-after=60")
    sleep = Sleeps(clock)
    with pytest.raises(AllProvidersFailedError):
        await engine(clock=clock, sleep=sleep).run("gpt-5", targets({"primary": sims["primary"]}), post(upstream))
    assert sleep.slept == []


async def test_own_bug_stops_the_request_and_charges_no_provider(sims: dict[str, ProviderSimulator]) -> None:
    """An exception from our own code (not a provider's doing) is raised as is: no retry, no failover,
    no attempt recorded and every breaker untouched."""
    tried: list[str] = []

    async def attempt(ta: TargetAttempt) -> None:
        tried.append(ta.target.provider)
        dict("high")  # type: ignore[arg-type]  # the crash a client's "reasoning": "high" once caused

    run = engine(sleep=Sleeps())
    attempts: list[object] = []
    with pytest.raises(ValueError):
        await run.run("gpt-5", targets(sims), attempt, attempts=attempts)  # type: ignore[arg-type]
    assert tried == ["primary"] and attempts == []
    for name in sims:
        snapshot = run.breakers.get(name, "gpt-5").snapshot()
        assert (snapshot.state, snapshot.total_failures) == (BreakerState.CLOSED, 0)
