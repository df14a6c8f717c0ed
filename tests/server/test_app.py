"""``create_app``: what it builds, what it wires, the rollback switch, errors nobody expected."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from canaries import CANARY_LEGACY
from gateway_live import CANARY_BACKUP, CANARY_PRIMARY, StartServer, gateway_settings, running

from tppc_router.config.loader import settings_from_data
from tppc_router.routing.router import TppcRouter
from tppc_router.server import create_app
from tppc_router.sim import ProviderSimulator

BODY: dict[str, Any] = {"model": "gpt-5", "input": "Tell me something"}


@pytest.fixture
def legacy() -> Iterator[ProviderSimulator]:
    """The packycode legacy provider."""
    with ProviderSimulator("packycode", api_key=CANARY_LEGACY) as sim:
        yield sim


def test_importing_the_server_builds_nothing() -> None:
    """Importing the app module neither imports litellm nor builds anything."""
    code = "import sys, tppc_router.server.app; print('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_shutdown_closes_the_provider_client(primary: ProviderSimulator, backup: ProviderSimulator) -> None:
    """Stopping the app closes the pooled provider client."""
    with running(create_app(gateway_settings({"primary": primary, "backup": backup}))) as live:
        assert httpx.post(live.base_url + "/responses", json=BODY).status_code == 200
        upstream = live.runtime.upstream
        assert upstream is not None and not upstream.client.is_closed
    assert upstream.client.is_closed
    assert live.runtime.upstream is None


def test_no_tppc_keeps_only_packycode_serving(live_server: StartServer, primary: ProviderSimulator,
                                             backup: ProviderSimulator, legacy: ProviderSimulator) -> None:
    """``--no-tppc`` turns every tppc provider off; the packycode legacy provider keeps serving."""
    settings = gateway_settings(
        {"primary": primary, "backup": backup},
        packycode={"enabled": True, "base-url": legacy.url, "credentials": {"openai-api-key": CANARY_LEGACY}},
    )
    live = live_server(settings, tppc_override=False)
    assert [m["id"] for m in httpx.get(live.base_url + "/models").json()["data"]] == ["gpt-5", "packycode/gpt-5"]
    response = httpx.post(live.base_url + "/responses", json=BODY)
    assert response.headers["x-tppc-provider"] == "packycode"
    assert primary.requests == backup.requests == []
    assert live.runtime.file_settings is not None
    assert [p.enabled for p in live.runtime.file_settings.tppc.providers] == [True, True]


def test_tppc_never_serves_a_disabled_provider(live_server: StartServer, primary: ProviderSimulator,
                                               backup: ProviderSimulator) -> None:
    """``--tppc`` serves the enabled tppc providers only: a provider the file disables takes no traffic."""
    entries = [
        {"name": "primary", "base-url": primary.url, "api-key": CANARY_PRIMARY, "enabled": False},
        {"name": "backup", "base-url": backup.url, "api-key": CANARY_BACKUP},
    ]
    settings = settings_from_data({"tppc": {"providers": entries}}, env={})
    live = live_server(settings, tppc_override=True)
    assert httpx.post(live.base_url + "/responses", json=BODY).headers["x-tppc-provider"] == "backup"
    states = {row.name: row.enabled for row in live.runtime.router.provider_states()}
    assert states == {"primary": False, "backup": True}
    assert primary.requests == []


def test_health_and_metrics_are_mounted(live_server: StartServer) -> None:
    """The health and Prometheus routes are part of the app, and the metrics count gateway requests."""
    live = live_server()
    httpx.post(live.base_url + "/responses", json=BODY)
    assert httpx.get(live.url + "/healthz").status_code == 200
    metrics = httpx.get(live.url + "/metrics").text
    assert 'tppc_provider_requests_total{outcome="ok",provider="primary"} 1.0' in metrics


class BrokenRouter(TppcRouter):
    """A router with a bug: listing its models raises (with a key in the message)."""

    def model_groups(self) -> list[str]:
        raise RuntimeError(f"boom with {CANARY_PRIMARY}")


def test_unexpected_error_is_a_bare_500(live_server: StartServer, primary: ProviderSimulator,
                                        backup: ProviderSimulator, caplog: pytest.LogCaptureFixture) -> None:
    """A bug is a 500 OpenAI-shaped body naming only the exception type: no traceback, no message, no key."""
    settings = gateway_settings({"primary": primary, "backup": backup})
    live = live_server(settings, router=BrokenRouter(settings))
    response = httpx.get(live.base_url + "/models")
    assert response.status_code == 500
    assert response.json() == {"error": {"message": "internal error (RuntimeError)", "type": "server_error",
                                         "code": "internal_error", "param": None}}
