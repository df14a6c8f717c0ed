"""Each row of the fault table, through real HTTP to simulated providers."""

from __future__ import annotations

import time

import pytest

from tppc_router.errors import AllProvidersCoolingError, AllProvidersFailedError
from tppc_router.sim import Fault, ProviderSimulator

from .conftest import BACKUP_KEY, MESSAGES, PRIMARY_KEY, RouterFactory, calls


def provider_of(result: object) -> str:
    return str(result._hidden_params["tppc_provider"])  # type: ignore[attr-defined]


def test_healthy_primary_answers(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """With every provider healthy the primary answers and the backup is never called."""
    router = make_router()
    result = router.completion(model="gpt-5", messages=MESSAGES)
    assert provider_of(result) == "primary"
    assert "Hello from primary" in result.choices[0].message.content
    assert calls(sims["backup"]) == 0
    assert [a["outcome"] for a in result._hidden_params["tppc_attempts"]] == ["ok"]


@pytest.mark.parametrize("fault", ["status:500", "status:503", "reset"])
def test_server_error_retries_once_then_fails_over(make_router: RouterFactory, sims: dict[str, ProviderSimulator],
                                                   fault: str) -> None:
    """5xx and a reset before headers get one quick retry on the same provider, then fail over."""
    sims["primary"].set_fault(Fault.parse(fault))
    router = make_router()
    result = router.completion(model="gpt-5", messages=MESSAGES)
    assert provider_of(result) == "backup"
    assert calls(sims["primary"]) == 2
    outcomes = [a["outcome"] for a in result._hidden_params["tppc_attempts"]]
    assert outcomes[-1] == "ok" and len(outcomes) == 3


def test_connection_refused_fails_over(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """A provider that refuses connections is left for the backup."""
    router = make_router(("nowhere", "backup"))
    result = router.completion(model="gpt-5", messages=MESSAGES)
    assert provider_of(result) == "backup"
    assert result._hidden_params["tppc_attempts"][0]["outcome"] == "connection"


def test_429_with_retry_after_blocks_provider_until_then(make_router: RouterFactory,
                                                         sims: dict[str, ProviderSimulator]) -> None:
    """429 + Retry-After: fail over at once and do not use the provider before that time."""
    from tppc_router.clock import ManualClock

    clock = ManualClock()
    sims["primary"].set_fault(Fault.parse("status:429,retry-after=20"))
    router = make_router(clock=clock)
    assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "backup"
    assert calls(sims["primary"]) == 1
    sims["primary"].clear_faults()
    assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "backup"
    assert calls(sims["primary"]) == 1
    clock.advance(21)
    assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "primary"


def test_429_without_retry_after_backs_off_then_fails_over(make_router: RouterFactory,
                                                           sims: dict[str, ProviderSimulator]) -> None:
    """429 without Retry-After is never retried in a tight loop: one call, then the backup."""
    sims["primary"].set_fault(Fault.parse("status:429"))
    router = make_router()
    assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "backup"
    assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "backup"
    assert calls(sims["primary"]) == 1
    snapshot = router.breakers.get("primary", "gpt-5").snapshot()
    assert snapshot.retry_in_s is not None and snapshot.retry_in_s > 0


def test_429_on_every_provider_waits_within_budget_then_cools(make_router: RouterFactory,
                                                               sims: dict[str, ProviderSimulator]) -> None:
    """When no provider is available and the wait exceeds max-cooldown-wait, the caller gets a
    cooling error with a retry time, not a hang."""
    for name in ("primary", "backup"):
        sims[name].set_fault(Fault.parse("status:429,retry-after=120"))
    router = make_router()
    with pytest.raises(AllProvidersFailedError):
        router.completion(model="gpt-5", messages=MESSAGES)
    with pytest.raises(AllProvidersCoolingError) as info:
        router.completion(model="gpt-5", messages=MESSAGES)
    assert info.value.status_code == 429
    assert info.value.retry_after is not None and 100 < info.value.retry_after <= 120


def test_429_short_retry_after_waits_for_provider(make_router: RouterFactory,
                                                  sims: dict[str, ProviderSimulator]) -> None:
    """With a single provider and a short Retry-After, the request waits and then succeeds."""
    sims["primary"].set_fault(Fault.parse("status:429,retry-after=1"))
    router = make_router(("primary",))
    with pytest.raises(AllProvidersFailedError):
        router.completion(model="gpt-5", messages=MESSAGES)
    sims["primary"].clear_faults()
    result = router.completion(model="gpt-5", messages=MESSAGES)
    assert provider_of(result) == "primary"


@pytest.mark.parametrize("status", [401, 402, 403])
def test_auth_errors_cool_provider_for_minutes(make_router: RouterFactory, sims: dict[str, ProviderSimulator],
                                               status: int, caplog: pytest.LogCaptureFixture) -> None:
    """401/402/403 fail over and cool that provider for minutes; the log names it with its masked key."""
    caplog.set_level("WARNING", logger="tppc_router")
    sims["primary"].set_fault(Fault.parse(f"status:{status}"))
    router = make_router()
    result = router.completion(model="gpt-5", messages=MESSAGES)
    assert provider_of(result) == "backup"
    snapshot = router.breakers.get("primary", "gpt-5").snapshot()
    assert snapshot.state.value == "open" and snapshot.retry_in_s is not None and snapshot.retry_in_s > 200
    assert PRIMARY_KEY not in str(result._hidden_params["tppc_attempts"])
    from tppc_router.masking import mask

    assert any("rejected its credential" in r.getMessage() and mask(PRIMARY_KEY) in r.getMessage()
               for r in caplog.records)


def test_404_model_cools_provider_for_that_model(make_router: RouterFactory,
                                                 sims: dict[str, ProviderSimulator]) -> None:
    """404 for one model cools that provider for that model only."""
    router = make_router(models=("gpt-5", "gpt-5-large"))
    sims["primary"].set_fault(Fault.parse("status:404"))
    assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "backup"
    sims["primary"].clear_faults()
    assert router.breakers.get("primary", "gpt-5").state.value == "open"
    assert provider_of(router.completion(model="gpt-5-large", messages=MESSAGES)) == "primary"


def test_context_length_is_returned_as_is(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """A 400 context-length error is not retried and not failed over: the provider's own error comes back."""
    sims["primary"].set_fault(Fault.parse("status:400,code=context_length_exceeded"))
    router = make_router()
    with pytest.raises(Exception) as info:
        router.completion(model="gpt-5", messages=MESSAGES)
    assert "context" in str(info.value).lower()
    assert calls(sims["primary"]) == 1
    assert calls(sims["backup"]) == 0
    assert router.breakers.get("primary", "gpt-5").state.value == "closed"


def test_context_window_fallbacks_still_work(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """A configured context_window_fallbacks group (here the caller's own LiteLLM deployment) serves
    a request that is too long for the first group."""
    extra = [{"model_name": "big", "litellm_params": {"model": "openai/gpt-5", "api_base": sims["backup"].url,
                                                      "api_key": BACKUP_KEY}}]
    router = make_router(("primary",), model_list=extra, context_window_fallbacks=[{"gpt-5": ["big"]}])
    sims["primary"].set_fault(Fault.parse("status:400,code=context_length_exceeded"))
    result = router.completion(model="gpt-5", messages=MESSAGES)
    assert "Hello from backup" in result.choices[0].message.content
    assert calls(sims["primary"]) == 1


def test_extra_deployments_are_merged(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """The caller's own LiteLLM deployments stay reachable through the same router (the drop-in)."""
    extra = [{"model_name": "mine", "litellm_params": {"model": "openai/gpt-5", "api_base": sims["third"].url,
                                                       "api_key": "sk-canary-third-9a8b7c6d5e"}}]
    router = make_router(model_list=extra)
    result = router.completion(model="mine", messages=MESSAGES)
    assert "Hello from third" in result.choices[0].message.content
    assert "mine" in [d["model_name"] for d in router.litellm_router.get_model_list()]
    # Everything else litellm.Router offers is reachable on TppcRouter itself: the one-line switch.
    assert router.get_model_list() == router.litellm_router.get_model_list()


def test_silent_provider_non_streaming_times_out_and_fails_over(make_router: RouterFactory,
                                                                sims: dict[str, ProviderSimulator]) -> None:
    """A non-streaming call with no answer within `timeout` fails over, and is not retried."""
    sims["primary"].set_fault(Fault.parse("no-response"))
    router = make_router(router={"timeout": 0.5})
    started = time.monotonic()
    result = router.completion(model="gpt-5", messages=MESSAGES)
    assert provider_of(result) == "backup"
    assert time.monotonic() - started < 3.0
    assert calls(sims["primary"]) == 1


def test_every_provider_failing_lists_attempts_without_keys(make_router: RouterFactory,
                                                            sims: dict[str, ProviderSimulator]) -> None:
    """AllProvidersFailedError lists each attempt and is an OpenAI-style error with no key."""
    for name in ("primary", "backup"):
        sims[name].set_fault(Fault.parse("status:500"))
    router = make_router()
    with pytest.raises(AllProvidersFailedError) as info:
        router.completion(model="gpt-5", messages=MESSAGES)
    error = info.value
    assert error.status_code == 502
    assert {a.provider for a in error.attempts} == {"primary", "backup"}
    text = str(error) + str(error.body)
    assert PRIMARY_KEY not in text and BACKUP_KEY not in text


def test_equal_order_shares_the_load(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """Providers with the same order take turns."""
    router = make_router(orders={"primary": 1, "backup": 1})
    served = {provider_of(router.completion(model="gpt-5", messages=MESSAGES)) for _ in range(4)}
    assert served == {"primary", "backup"}


def test_caller_values_win_over_defaults(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """The provider receives effort high and store false by default, the caller's own effort when given,
    and store false even when the caller asks for storage (router.allow-client-store is false)."""
    router = make_router(("primary",))
    router.completion(model="gpt-5", messages=MESSAGES)
    body = sims["primary"].requests[-1].body or {}
    assert body["reasoning"]["effort"] == "high" and body["store"] is False
    router.completion(model="gpt-5", messages=MESSAGES, reasoning_effort="low", store=True)
    body = sims["primary"].requests[-1].body or {}
    assert body["reasoning"]["effort"] == "low" and body["store"] is False
    router.responses(model="gpt-5", input="hi")
    body = sims["primary"].requests[-1].body or {}
    assert body["reasoning"]["effort"] == "high" and body["store"] is False
    router.responses(model="gpt-5", input="hi", reasoning={"effort": "medium"}, store=True)
    body = sims["primary"].requests[-1].body or {}
    assert body["reasoning"]["effort"] == "medium" and body["store"] is False


def test_allow_client_store_lets_the_caller_store(make_router: RouterFactory,
                                                  sims: dict[str, ProviderSimulator]) -> None:
    """With router.allow-client-store: true, a caller's store: true reaches the provider."""
    router = make_router(("primary",), router={"allow-client-store": "true"})
    router.responses(model="gpt-5", input="hi", store=True)
    assert (sims["primary"].requests[-1].body or {})["store"] is True
    router.responses(model="gpt-5", input="hi")
    assert (sims["primary"].requests[-1].body or {})["store"] is False


def test_explicit_credential_is_used_whole(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """An explicit api_key + api_base goes only there; a partial one is refused, never mixed."""
    from tppc_router.errors import ConfigError

    router = make_router()
    result = router.completion(model="gpt-5", messages=MESSAGES, api_key=BACKUP_KEY, api_base=sims["backup"].url)
    assert provider_of(result) == "explicit"
    assert calls(sims["primary"]) == 0 and sims["backup"].requests[-1].api_key == BACKUP_KEY
    with pytest.raises(ConfigError):
        router.completion(model="gpt-5", messages=MESSAGES, api_key=BACKUP_KEY)
    assert calls(sims["primary"]) == 0


def test_pinned_group_reaches_only_that_provider(make_router: RouterFactory,
                                                 sims: dict[str, ProviderSimulator]) -> None:
    """`<provider>/<model>` reaches only that provider, even when it fails."""
    router = make_router()
    assert provider_of(router.completion(model="backup/gpt-5", messages=MESSAGES)) == "backup"
    sims["backup"].set_fault(Fault.parse("status:500"))
    with pytest.raises(AllProvidersFailedError):
        router.completion(model="backup/gpt-5", messages=MESSAGES)
    assert calls(sims["primary"]) == 0


async def test_async_failover(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """acompletion and aresponses fail over the same way as the sync methods."""
    sims["primary"].set_fault(Fault.parse("status:502"))
    router = make_router()
    result = await router.acompletion(model="gpt-5", messages=MESSAGES)
    assert provider_of(result) == "backup"
    response = await router.aresponses(model="gpt-5", input="hi")
    assert provider_of(response) == "backup"
    assert "Hello from backup" in response.output_text


async def test_everyone_waiting_on_a_rate_limited_provider_is_served(make_router: RouterFactory,
                                                                      sims: dict[str, ProviderSimulator]) -> None:
    """When the only provider is rate-limited for a moment, every waiting caller is served once the
    Retry-After passes: a rate-limit block is not a breaker that lets one probe through."""
    import asyncio

    router = make_router(("primary",), router={"same-provider-retries": 0})
    sims["primary"].set_fault(Fault.parse("status:429,retry-after=1"))
    with pytest.raises(AllProvidersFailedError):
        await router.acompletion(model="gpt-5", messages=MESSAGES)
    sims["primary"].clear_faults()  # still blocked for about a second: the next callers wait, then all go
    results = await asyncio.gather(*[router.acompletion(model="gpt-5", messages=MESSAGES) for _ in range(8)])
    assert {provider_of(r) for r in results} == {"primary"}


def test_429_with_retry_after_on_the_only_provider_waits_within_the_request(
        make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """429 + Retry-After and no healthy backup: the request itself waits (within max-cooldown-wait and the
    budget) and is then answered, rather than failing."""
    import threading

    router = make_router(("primary",))
    sims["primary"].set_fault(Fault.parse("status:429,retry-after=1"))
    threading.Timer(0.5, sims["primary"].clear_faults).start()
    result = router.completion(model="gpt-5", messages=MESSAGES)
    assert provider_of(result) == "primary"
    assert [a["outcome"] for a in result._hidden_params["tppc_attempts"]] == ["rate_limited", "ok"]


def test_sync_calls_from_many_threads(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """Sync callers on many threads at once are all served, and fail over alike (sync calls run
    litellm's sync path on the router's worker threads)."""
    from concurrent.futures import ThreadPoolExecutor

    sims["primary"].set_fault(Fault.parse("status:500"))
    router = make_router()
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: router.completion(model="gpt-5", messages=MESSAGES), range(32)))
    assert {provider_of(r) for r in results} == {"backup"}
