"""GET /metrics on a real gateway: Prometheus text after real traffic, no keys."""

from __future__ import annotations

from collections import Counter
from contextlib import AbstractContextManager

import httpx
from canary_guard import assert_no_canary
from gateway_live import LiveServer, StartServer, gateway_settings, running
from prometheus_client.parser import text_string_to_metric_families

from tppc_router.config import Settings
from tppc_router.server import create_app
from tppc_router.server.management import WriteEvent, record_write
from tppc_router.server.metrics_route import install_metrics
from tppc_router.server.metrics_route import router as metrics_router
from tppc_router.sim import ProviderSimulator

BODY = {"model": "gpt-5", "input": "hello"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def with_metrics(settings: Settings) -> AbstractContextManager[LiveServer]:
    """The gateway app with the /metrics route and metrics installed at build time, served live."""
    app = create_app(settings)
    if not any(getattr(r, "path", None) == "/metrics" for r in app.routes):
        app.include_router(metrics_router)
    install_metrics(app.state.runtime)
    return running(app)


def test_metrics_after_traffic_with_a_failover(primary: ProviderSimulator, backup: ProviderSimulator) -> None:
    """After a failover through the gateway, /metrics shows the attempts, the failover and the breaker gauge."""
    primary.set_fault("status:500")
    with with_metrics(gateway_settings({"primary": primary, "backup": backup})) as server:
        assert httpx.post(server.base_url + "/responses", json=BODY, timeout=10).status_code == 200
        response = httpx.get(server.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("tppc_provider_requests_total", (("outcome", "ok"), ("provider", "backup")))] == 1
    assert got[("tppc_provider_requests_total", (("outcome", "server_error"), ("provider", "primary")))] == 2
    failover = (("from_provider", "primary"), ("reason", "server_error"), ("to_provider", "backup"))
    assert got[("tppc_failovers_total", failover)] == 1
    assert got[("tppc_breaker_state", (("model", "gpt-5"), ("provider", "backup")))] == 0
    assert got[("tppc_providers", (("state", "closed"),))] == 2
    assert got[("tppc_model_groups", ())] == 1
    assert_no_canary(response.text, where="/metrics")
    assert "127.0.0.1" not in response.text


def test_metrics_route_installs_metrics_on_first_scrape(live_server: StartServer) -> None:
    """Without install_metrics at build time, the first scrape installs and attaches them."""
    server: LiveServer = live_server()
    if not any(getattr(r, "path", None) == "/metrics" for r in server.app.routes):
        server.app.include_router(metrics_router)
    server.runtime.metrics = None  # as an app that never called install_metrics
    response = httpx.get(server.url + "/metrics")
    assert response.status_code == 200
    assert "tppc_providers" in response.text
    assert server.runtime.metrics is not None and server.runtime.metrics.router is server.runtime.router


def test_install_metrics_is_idempotent_and_counts_management_writes(live_server: StartServer) -> None:
    """install_metrics returns the same Metrics, adds one write hook, and counts writes by outcome."""
    runtime = live_server().runtime
    metrics = install_metrics(runtime)
    assert install_metrics(runtime) is metrics
    assert len(runtime.write_hooks) == 1
    record_write(runtime, WriteEvent("PUT", "127.0.0.1", "ok", 200, ("tppc.providers[0].enabled",)))
    record_write(runtime, WriteEvent("PATCH", "127.0.0.1", "invalid", 422))
    counts = Counter({o: metrics.registry.get_sample_value("tppc_management_writes_total", {"outcome": o})
                      for o in ("ok", "invalid")})
    assert counts == Counter({"ok": 1.0, "invalid": 1.0})
