"""A base-url without its version path: the provider's 404 "Invalid URL" is a configuration error, not a
missing model, and the error the client gets says to check the base-url."""

from __future__ import annotations

import httpx
from gateway_live import CANARY_PRIMARY, StartServer

from tppc_router.config.loader import settings_from_data
from tppc_router.sim import ProviderSimulator

BODY = {"model": "gpt-5", "input": "hello"}


def test_a_404_for_the_endpoint_path_is_a_configuration_error(live_server: StartServer,
                                                              primary: ProviderSimulator) -> None:
    """A provider configured without ``/v1`` answers 404 Invalid URL: the attempt's outcome is
    ``config_error`` and its reason names the base-url, not model_not_found."""
    unversioned = primary.url.removesuffix("/v1")
    settings = settings_from_data({"tppc": {"providers": [
        {"name": "primary", "base-url": unversioned, "api-key": CANARY_PRIMARY},
    ]}}, env={})
    live = live_server(settings)
    response = httpx.post(live.base_url + "/responses", json=BODY, timeout=30)
    assert response.status_code == 502, response.text
    attempts = response.json()["error"]["attempts"]
    assert attempts[0]["outcome"] == "config_error"
    assert attempts[0]["status"] == 404
    assert "configuration error" in attempts[0]["reason"] and "base-url" in attempts[0]["reason"]
    assert "model_not_found" not in response.text


def test_a_404_for_an_unknown_model_stays_model_not_found(live_server: StartServer,
                                                          primary: ProviderSimulator) -> None:
    """A 404 that names the model (the provider lacks it) keeps its outcome ``model_not_found``."""
    settings = settings_from_data({"tppc": {"models": ["gpt-9"], "providers": [
        {"name": "primary", "base-url": primary.url, "api-key": CANARY_PRIMARY},
    ]}}, env={})
    primary_models = getattr(primary, "models", None)
    live = live_server(settings)
    response = httpx.post(live.base_url + "/responses", json={"model": "gpt-9", "input": "hi"}, timeout=30)
    assert response.status_code == 502, (response.text, primary_models)
    assert response.json()["error"]["attempts"][0]["outcome"] == "model_not_found"
