"""The breaker cycle, affinity and live reload, through a real router and simulators."""

from __future__ import annotations

import asyncio

from tppc_router.clock import ManualClock
from tppc_router.config.loader import load_settings
from tppc_router.sim import Fault, ProviderSimulator

from .conftest import MESSAGES, RouterFactory, calls, config_text


def provider_of(result: object) -> str:
    return str(result._hidden_params["tppc_provider"])  # type: ignore[attr-defined]


def test_breaker_opens_skips_probes_and_closes(make_router: RouterFactory,
                                               sims: dict[str, ProviderSimulator]) -> None:
    """closed -> open after a run of failures; open costs nothing; after the cooldown one probe;
    success closes it and traffic returns to the primary."""
    clock = ManualClock()
    router = make_router(clock=clock, router={"failure-threshold": 2, "cooldown": 30})
    breaker = router.breakers.get("primary", "gpt-5")
    sims["primary"].set_fault(Fault.parse("status:500"))
    assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "backup"
    assert breaker.state.value == "open"
    before = calls(sims["primary"])
    for _ in range(3):
        assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "backup"
    assert calls(sims["primary"]) == before
    clock.advance(31)
    sims["primary"].clear_faults()
    assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "primary"
    assert breaker.state.value == "closed"


def test_failed_probe_reopens(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """A failed half-open probe opens the breaker again for another cooldown."""
    clock = ManualClock()
    router = make_router(clock=clock, router={"failure-threshold": 1, "cooldown": 30, "same-provider-retries": 0})
    sims["primary"].set_fault(Fault.parse("status:500"))
    router.completion(model="gpt-5", messages=MESSAGES)
    clock.advance(31)
    before = calls(sims["primary"])
    assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "backup"
    assert calls(sims["primary"]) == before + 1
    breaker = router.breakers.get("primary", "gpt-5")
    assert breaker.state.value == "open"
    assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "backup"
    assert calls(sims["primary"]) == before + 1


def test_previous_response_id_goes_to_its_provider_first(make_router: RouterFactory,
                                                         sims: dict[str, ProviderSimulator]) -> None:
    """A response produced by the backup is continued on the backup, even after the primary recovers."""
    clock = ManualClock()
    router = make_router(clock=clock, router={"failure-threshold": 1, "same-provider-retries": 0})
    sims["primary"].set_fault(Fault.parse("status:500"))
    first = router.responses(model="gpt-5", input="hi")
    assert provider_of(first) == "backup"
    sims["primary"].clear_faults()
    clock.advance(3600)
    second = router.responses(model="gpt-5", input="and then?", previous_response_id=first.id)
    assert provider_of(second) == "backup"
    third = router.responses(model="gpt-5", input="new conversation")
    assert provider_of(third) == "primary"


def test_encrypted_reasoning_is_dropped_when_its_provider_is_down(make_router: RouterFactory,
                                                                  sims: dict[str, ProviderSimulator]) -> None:
    """Reasoning items bound to a dead provider go to it first; on failover they are removed, the rest is kept."""
    router = make_router()
    first = router.responses(model="gpt-5", input="hi", include=["reasoning.encrypted_content"])
    reasoning = [item.model_dump() for item in first.output if item.type == "reasoning"]
    assert reasoning and reasoning[0].get("encrypted_content")
    sims["primary"].set_fault(Fault.parse("status:500"))
    follow_up = [*reasoning, {"role": "user", "content": "more"}]
    second = router.responses(model="gpt-5", input=follow_up)
    assert provider_of(second) == "backup"
    sent = sims["backup"].requests[-1].body or {}
    assert all(i.get("type") != "reasoning" for i in sent["input"])
    assert any(i.get("role") == "user" for i in sent["input"])


async def test_reload_swaps_while_streams_in_flight(make_router: RouterFactory,
                                                    sims: dict[str, ProviderSimulator]) -> None:
    """reload() swaps providers at once; a stream already open finishes on the provider it started with."""
    router = make_router()
    slow = ProviderSimulator(name="slow", api_key="sk-canary-slow-1a2b3c4d5e", delta_delay=0.05).start()
    try:
        text = config_text({"slow": slow}, ("slow",)).replace("sk-canary-primary-7f3a9c1e5b",
                                                                "sk-canary-slow-1a2b3c4d5e")
        router.reload(load_settings(text=text))
        stream = await router.aresponses(model="gpt-5", input="hi", stream=True)
        router.reload(load_settings(text=config_text(sims, ("backup",))))
        types = [str(getattr(e.type, "value", e.type)) async for e in stream]
        assert types[-1] == "response.completed" and stream.provider == "slow"
        after = await router.aresponses(model="gpt-5", input="hi")
        assert provider_of(after) == "backup"
        assert [s.name for s in router.provider_states()] == ["backup"]
    finally:
        slow.stop()


async def test_concurrent_requests_share_one_breaker(make_router: RouterFactory,
                                                     sims: dict[str, ProviderSimulator]) -> None:
    """Many concurrent callers all get answers while the primary dies; the breaker ends up open."""
    router = make_router()
    sims["primary"].set_fault(Fault.parse("status:500"))
    results = await asyncio.gather(*[router.acompletion(model="gpt-5", messages=MESSAGES) for _ in range(10)])
    assert {provider_of(r) for r in results} == {"backup"}
    assert router.breakers.get("primary", "gpt-5").state.value == "open"


def test_provider_that_keeps_cutting_streams_is_benched(make_router: RouterFactory,
                                                        sims: dict[str, ProviderSimulator]) -> None:
    """A stream counts as a success only when it completes, so a provider that cuts every stream mid-way
    opens its breaker and the next stream goes to the backup."""
    from tppc_router.errors import StreamInterruptedError

    router = make_router(router={"failure-threshold": 2})
    sims["primary"].set_fault(Fault.parse("cut-after:22"))
    for _ in range(2):
        stream = router.responses(model="gpt-5", input="hi", stream=True)
        try:
            list(stream)
        except StreamInterruptedError:
            pass
    assert router.breakers.get("primary", "gpt-5").state.value == "open"
    stream = router.responses(model="gpt-5", input="hi", stream=True)
    list(stream)
    assert stream.provider == "backup"


async def test_reload_does_not_disturb_a_request_waiting_on_a_provider(make_router: RouterFactory,
                                                                        sims: dict[str, ProviderSimulator]) -> None:
    """A request that started before reload() keeps the providers it started with: when its silent primary
    times out it still fails over to the backup that the new config removed."""
    sims["primary"].set_fault(Fault.parse("no-response"))
    router = make_router(router={"timeout": 0.8})
    task = asyncio.create_task(router.acompletion(model="gpt-5", messages=MESSAGES))
    await asyncio.sleep(0.3)
    router.reload(load_settings(text=config_text(sims, ("primary",))))
    result = await task
    assert provider_of(result) == "backup"
