"""Metrics: counters from real traffic through a TppcRouter, scrape-time gauges, own registries."""

from __future__ import annotations


import prometheus_client
import pytest
from canaries import CANARY_PRIMARY
from canary_guard import assert_no_canary
from simfixtures import RouterFactory, config_text, instant_backoff, router_factory, sim_providers

from tppc_router.errors import Outcome
from tppc_router.ops.probes import ProbeResult
from tppc_router.clock import ManualClock
from tppc_router.config.loader import load_settings
from tppc_router.ops.metrics import Metrics
from tppc_router.routing.router import TppcRouter
from tppc_router.sim import ProviderSimulator

_instant_backoff = instant_backoff()
sims = sim_providers()
make_router = router_factory()


def value(metrics: Metrics, name: str, **labels: str) -> float:
    got = metrics.registry.get_sample_value(name, labels)
    return 0.0 if got is None else got


async def test_requests_and_latency_are_counted_per_provider(make_router: RouterFactory) -> None:
    """A served request counts one ok attempt for its provider and one latency observation."""
    router = make_router()
    metrics = Metrics().attach(router)
    await router.aresponses("gpt-5", "hello")
    assert value(metrics, "tppc_provider_requests_total", provider="primary", outcome="ok") == 1
    assert value(metrics, "tppc_provider_request_duration_seconds_count", provider="primary") == 1
    assert value(metrics, "tppc_provider_requests_total", provider="backup", outcome="ok") == 0


async def test_failover_is_counted_from_and_to(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """A 500 from the primary counts its failed attempts and one failover primary -> backup."""
    router = make_router()
    metrics = Metrics().attach(router)
    sims["primary"].set_fault("status:500")
    await router.aresponses("gpt-5", "hello")
    assert value(metrics, "tppc_failovers_total", from_provider="primary", to_provider="backup",
                 reason="server_error") == 1
    assert value(metrics, "tppc_provider_requests_total", provider="primary", outcome="server_error") == 2
    assert value(metrics, "tppc_provider_requests_total", provider="backup", outcome="ok") == 1


async def test_breaker_gauge_and_transitions_follow_the_breaker(make_router: RouterFactory,
                                                                sims: dict[str, ProviderSimulator]) -> None:
    """Opening the primary's breaker through traffic shows state 2, one open provider and one transition."""
    router = make_router(router="  failure-threshold: 1\n")
    metrics = Metrics().attach(router)
    sims["primary"].set_fault("status:500")
    await router.aresponses("gpt-5", "hello")
    assert value(metrics, "tppc_breaker_state", provider="primary", model="gpt-5") == 2
    assert value(metrics, "tppc_breaker_state", provider="backup", model="gpt-5") == 0
    assert value(metrics, "tppc_providers", state="open") == 1
    assert value(metrics, "tppc_providers", state="closed") == 1
    assert value(metrics, "tppc_breaker_transitions_total", provider="primary", model="gpt-5", to_state="open") == 1


async def test_breaker_gauge_is_computed_at_scrape_time(make_router: RouterFactory) -> None:
    """An open breaker whose cooldown has passed scrapes as half-open without any event."""
    clock = ManualClock()
    router = make_router(clock=clock)
    metrics = Metrics().attach(router)
    router.breakers.get("primary", "gpt-5").record_failure(open_now=True)
    assert value(metrics, "tppc_breaker_state", provider="primary", model="gpt-5") == 2
    clock.advance(router.policy.cooldown_s + 1)
    assert value(metrics, "tppc_breaker_state", provider="primary", model="gpt-5") == 1
    assert value(metrics, "tppc_providers", state="half_open") == 1


async def test_time_to_first_token_of_a_stream(make_router: RouterFactory) -> None:
    """A stream opened through the router records one time-to-first-token sample for its provider."""
    router = make_router()
    metrics = Metrics().attach(router)
    stream = await router.aresponses("gpt-5", "hello", stream=True)
    async for _ in stream:
        pass
    assert value(metrics, "tppc_stream_first_token_seconds_count", provider="primary") == 1
    assert value(metrics, "tppc_stream_first_token_seconds_sum", provider="primary") >= 0


def test_configuration_gauges(make_router: RouterFactory) -> None:
    """Providers by state count a disabled provider; model groups and the memory backend are reported."""
    extra = '    - {name: spare, enabled: false, base-url: "http://127.0.0.1:9/v1"}\n'
    metrics = Metrics().attach(make_router(extra=extra))
    assert value(metrics, "tppc_providers", state="closed") == 2
    assert value(metrics, "tppc_providers", state="disabled") == 1
    assert value(metrics, "tppc_provider_enabled", provider="spare") == 0
    assert value(metrics, "tppc_model_groups") == 1
    assert value(metrics, "tppc_pinned_groups") == 2
    assert value(metrics, "tppc_model_group_providers", group="gpt-5") == 2
    assert value(metrics, "tppc_state_backend_info", backend="memory") == 1
    assert value(metrics, "tppc_state_backend_reachable") == 1


def test_credential_resolutions_by_source(sims: dict[str, ProviderSimulator]) -> None:
    """Attaching counts each provider's key resolution: an env reference as env, a literal as literal."""
    text = config_text(sims).replace(CANARY_PRIMARY, "os.environ/PRIMARY_API_KEY")
    router = TppcRouter(load_settings(text=text, env={"PRIMARY_API_KEY": CANARY_PRIMARY}))
    try:
        metrics = Metrics().attach(router)
    finally:
        router.close()
    assert value(metrics, "tppc_credential_resolutions_total", provider="primary", source="env",
                 outcome="resolved") == 1
    assert value(metrics, "tppc_credential_resolutions_total", provider="backup", source="literal",
                 outcome="resolved") == 1


def test_recorders_for_management_probes_and_backend() -> None:
    """Management writes, probes and the redis reachability are counted as reported."""
    metrics = Metrics()
    metrics.record_management_write("ok")
    metrics.record_management_write("invalid")
    metrics.record_credential_resolution("primary", "os.environ/PRIMARY_API_KEY", "missing")

    metrics.record_probe(ProbeResult("primary", "gpt-5", Outcome.SERVER, 500))
    assert value(metrics, "tppc_management_writes_total", outcome="ok") == 1
    assert value(metrics, "tppc_management_writes_total", outcome="invalid") == 1
    assert value(metrics, "tppc_credential_resolutions_total", provider="primary", source="env",
                 outcome="missing") == 1
    assert value(metrics, "tppc_probes_total", provider="primary", outcome="server_error") == 1


def test_own_registry_never_the_global_one(make_router: RouterFactory) -> None:
    """Two Metrics never clash, and nothing lands in prometheus-client's default registry."""
    router = make_router()
    first, second = Metrics().attach(router), Metrics()
    first.record_management_write("ok")
    assert value(second, "tppc_management_writes_total", outcome="ok") == 0
    assert prometheus_client.REGISTRY.get_sample_value("tppc_management_writes_total", {"outcome": "ok"}) is None
    assert b"tppc_" not in prometheus_client.generate_latest(prometheus_client.REGISTRY)


def test_attach_is_idempotent_and_for_one_router(make_router: RouterFactory) -> None:
    """Attaching twice to the same router adds one observer; another router is refused."""
    router = make_router()
    metrics = Metrics()
    metrics.attach(router)
    metrics.attach(router)
    assert sum(1 for o in router.observer.observers if o is metrics) == 1
    with pytest.raises(ValueError, match="already attached"):
        metrics.attach(make_router())


async def test_exposition_has_no_key_and_no_url(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """The rendered metrics name providers and outcomes only: no key, no base URL."""
    router = make_router()
    metrics = Metrics().attach(router)
    sims["primary"].set_fault("status:500")
    await router.aresponses("gpt-5", "hello")
    text = metrics.render().decode()
    assert_no_canary(text, where="metrics")
    assert "127.0.0.1" not in text and "http" not in text.replace("tppc_", "")
