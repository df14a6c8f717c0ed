"""/healthz, /readyz and /status on a real gateway on loopback."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from canary_guard import assert_no_canary
from gateway_live import StartServer, gateway_settings

from tppc_router.clock import ManualClock
from tppc_router.ops.probes import prober_for, start_probes, stop_probes
from tppc_router.routing.router import TppcRouter
from tppc_router.server.health import provider_readiness
from tppc_router.sim import ProviderSimulator

BODY = {"model": "gpt-5", "input": "hello"}


def test_healthz_answers_ok(live_server: StartServer) -> None:
    """/healthz is 200 {"status": "ok"} while the process is up."""
    server = live_server()
    response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_with_closed_breakers(live_server: StartServer) -> None:
    """/readyz is 200 and lists the available providers while any breaker is closed."""
    server = live_server()
    response = httpx.get(server.url + "/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "available": ["primary", "backup"]}


def test_readyz_stays_ready_while_one_provider_is_open(live_server: StartServer) -> None:
    """One open provider is not enough to be unready: the other can serve."""
    server = live_server()
    server.runtime.router.breakers.get("primary", "gpt-5").record_failure(open_now=True)
    response = httpx.get(server.url + "/readyz")
    assert response.status_code == 200
    assert response.json()["available"] == ["backup"]


def test_readyz_is_503_naming_providers_when_every_breaker_is_open(
    live_server: StartServer, primary: ProviderSimulator, backup: ProviderSimulator
) -> None:
    """When both providers answer 500, one request opens both breakers and /readyz names them with retry times."""
    settings = gateway_settings({"primary": primary, "backup": backup},
                                router={"failure-threshold": 1, "cooldown": 45})
    server = live_server(settings)
    primary.set_fault("status:500")
    backup.set_fault("status:500")
    failed = httpx.post(server.base_url + "/responses", json=BODY, timeout=10)
    assert failed.status_code >= 500
    response = httpx.get(server.url + "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert [p["name"] for p in body["providers"]] == ["primary", "backup"]
    assert all(p["state"] == "open" and 0 < p["next_probe_in_s"] <= 45 for p in body["providers"])
    assert "primary (next probe in" in body["reason"] and "backup (next probe in" in body["reason"]
    assert 1 <= int(response.headers["retry-after"]) <= 45


def test_readyz_is_503_when_no_provider_is_enabled(live_server: StartServer, primary: ProviderSimulator) -> None:
    """With every provider disabled, /readyz says so."""
    settings = gateway_settings({"primary": primary})
    providers = [p.model_copy(update={"enabled": False}) for p in settings.tppc.providers]
    settings = settings.model_copy(update={"tppc": settings.tppc.model_copy(update={"providers": providers})})
    server = live_server(settings)
    response = httpx.get(server.url + "/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "no provider is enabled", "providers": []}


def test_status_reports_states_and_error_rates_without_secrets(live_server: StartServer,
                                                               primary: ProviderSimulator) -> None:
    """/status gives each provider's state, error rate, latency and failovers, and no key or URL."""
    server = live_server()
    primary.set_fault("status:500")
    assert httpx.post(server.base_url + "/responses", json=BODY, timeout=10).status_code == 200
    response = httpx.get(server.url + "/status")
    assert response.status_code == 200
    body = response.json()
    rows = {p["name"]: p for p in body["providers"]}
    assert rows["primary"]["error_rate"] == 1.0 and rows["primary"]["failovers"] == 1
    assert rows["backup"]["error_rate"] == 0.0 and rows["backup"]["last_latency_ms"] is not None
    assert body["status"] == "ready"
    assert body["model_groups"] == [{"group": "gpt-5", "providers": ["primary", "backup"]}]
    assert body["state_backend"] == {"backend": "memory", "reachable": True}
    assert_no_canary(response.text, where="/status")
    assert "http" not in response.text and "127.0.0.1" not in response.text


async def test_next_probe_follows_the_probe_schedule(primary: ProviderSimulator) -> None:
    """With active probes running, an open provider's next probe is the first round after its cooldown."""
    settings = gateway_settings({"primary": primary},
                                router={"cooldown": 25, "health-check": {"enabled": True, "interval": 10}})
    clock = ManualClock()
    router = TppcRouter(settings, clock=clock)
    never = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await never.wait()

    try:
        router.breakers.get("primary", "gpt-5").record_failure(open_now=True)
        assert provider_readiness(router)[0]["next_probe_in_s"] == pytest.approx(25)
        task = start_probes(router, clock=clock, sleep=sleep)
        try:
            while (prober := prober_for(router)) is None or prober.next_run_at is None:
                await asyncio.sleep(0.01)
            # rounds at +10, +20, +30: the first at or after the 25 s cooldown is +30
            assert provider_readiness(router)[0]["next_probe_in_s"] == pytest.approx(30)
        finally:
            await stop_probes(task)
    finally:
        router.close()
