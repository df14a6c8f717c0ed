"""Gateway errors: OpenAI-shaped bodies, the right status, Retry-After, the gateway key, no key leaks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gateway_live import (
    CANARY_BACKUP,
    CANARY_GATEWAY,
    CANARY_PRIMARY,
    StartServer,
    gateway_settings,
    running,
)

from tppc_router.server import create_app
from tppc_router.sim import ProviderSimulator

BODY: dict[str, Any] = {"model": "gpt-5", "input": "Tell me something"}
CHAT: dict[str, Any] = {"model": "gpt-5", "messages": [{"role": "user", "content": "Tell me something"}]}
CONTEXT_FAULT = "status:400,code=context_length_exceeded,message=Your input exceeds the context window"


OTHER_KEY = "sk-other-gateway-key-1"


class Refusing:
    """A gateway (with ``server.api-keys``) shared by the tests whose requests never reach a provider."""

    def __init__(self, client: httpx.Client, primary: ProviderSimulator) -> None:
        self.client = client
        self.primary = primary


@pytest.fixture(scope="module")
def refusing() -> Iterator[Refusing]:
    """One gateway for the module: these requests change no state, so they can share it."""
    with ProviderSimulator("primary", api_key=CANARY_PRIMARY) as primary, \
            ProviderSimulator("backup", api_key=CANARY_BACKUP) as backup:
        settings = gateway_settings({"primary": primary, "backup": backup},
                                    server={"api-keys": [OTHER_KEY, CANARY_GATEWAY]})
        with running(create_app(settings)) as live:
            headers = {"authorization": f"Bearer {CANARY_GATEWAY}"}
            with httpx.Client(base_url=live.base_url, timeout=10, headers=headers) as client:
                yield Refusing(client, primary)
        assert primary.requests == backup.requests == [], "a refused request reached a provider"


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an OpenAI-shaped error body (and check the shape)."""
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"message", "type", "code", "param"} <= set(error)
    return error


# --------------------------------------------------------------------------- refused by the gateway


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"{not json", "invalid_json"), (b"[1, 2]", "invalid_json"), (b"{}", "missing_required_parameter"),
     (b'{"model": 5}', "invalid_type"), (b'{"model": "gpt-5", "stream": "yes"}', "invalid_type")],
    ids=["malformed", "not-an-object", "no-model", "model-not-a-string", "stream-not-a-bool"],
)
@pytest.mark.parametrize("path", ["/responses", "/chat/completions"])
def test_bad_request_bodies_are_400(refusing: Refusing, path: str, content: bytes, code: str) -> None:
    """A body that is not a JSON object with a string ``model`` is refused before any provider is called."""
    response = refusing.client.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", code)


@pytest.mark.parametrize(
    ("extra", "code"),
    [({"messages": []}, "invalid_type"), ({"messages": None}, "missing_required_parameter"),
     ({"api_base": "http://attacker.invalid/v1"}, "unknown_parameter")],
    ids=["empty-messages", "no-messages", "litellm-keyword"],
)
def test_chat_bodies_litellm_must_not_see_are_400(refusing: Refusing, extra: dict[str, Any], code: str) -> None:
    """Chat needs messages, and only OpenAI chat fields reach litellm (never ``api_base`` and the like)."""
    body = {k: v for k, v in {**CHAT, **extra}.items() if v is not None}
    response = refusing.client.post("/chat/completions", json=body)
    assert response.status_code == 400
    assert error_of(response)["code"] == code


@pytest.mark.parametrize("path", ["/responses", "/chat/completions"])
def test_unknown_model_is_404_listing_the_models(refusing: Refusing, path: str) -> None:
    """An unknown model is a 404 ``model_not_found`` naming every model the gateway serves."""
    response = refusing.client.post(path, json={**(BODY if path == "/responses" else CHAT), "model": "gpt-4o"})
    assert response.status_code == 404
    error = error_of(response)
    assert (error["code"], error["param"]) == ("model_not_found", "model")
    assert error["available_models"] == ["gpt-5", "primary/gpt-5", "backup/gpt-5"]
    assert "gpt-5, primary/gpt-5, backup/gpt-5" in error["message"]


def test_unknown_route_is_an_openai_shaped_404(refusing: Refusing) -> None:
    """A path the gateway does not serve answers like OpenAI does."""
    response = refusing.client.get("/engines")
    assert response.status_code == 404
    assert error_of(response)["message"] == "Invalid URL (GET /v1/engines)"


# --------------------------------------------------------------------------- the gateway key


@pytest.mark.parametrize("authorization", [None, "Bearer sk-wrong-key-0000", f"Basic {CANARY_GATEWAY}", "Bearer"],
                         ids=["none", "wrong", "not-bearer", "empty"])
@pytest.mark.parametrize(("method", "path"), [("GET", "/models"), ("POST", "/responses"),
                                              ("POST", "/chat/completions")])
def test_api_keys_are_enforced(refusing: Refusing, authorization: str | None, method: str, path: str) -> None:
    """With ``server.api-keys`` set, every /v1 route needs one of them as a bearer token: else 401, no provider call."""
    request = refusing.client.build_request(method, path, json=BODY)
    del request.headers["authorization"]
    if authorization is not None:
        request.headers["authorization"] = authorization
    response = refusing.client.send(request)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert error_of(response)["code"] == "invalid_api_key"


def test_any_configured_key_is_accepted(live_server: StartServer, primary: ProviderSimulator,
                                        backup: ProviderSimulator) -> None:
    """Each configured key opens the gateway."""
    settings = gateway_settings({"primary": primary, "backup": backup},
                                server={"api-keys": [OTHER_KEY, CANARY_GATEWAY]})
    gateway = live_server(settings)
    for key in (OTHER_KEY, CANARY_GATEWAY):
        response = httpx.post(gateway.base_url + "/responses", json=BODY, headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 200


# --------------------------------------------------------------------------- providers failing


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
def test_every_provider_failing_is_502_listing_attempts(http: httpx.Client, primary: ProviderSimulator,
                                                        backup: ProviderSimulator, streamed: bool) -> None:
    """Every provider failing is a 502 ``all_providers_failed`` listing each attempt, with no key in it."""
    primary.set_fault("status:500")
    backup.set_fault("status:500")
    response = http.post("/responses", json={**BODY, "stream": streamed})
    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "all_providers_failed"
    assert [(a["provider"], a["outcome"], a["status"]) for a in error["attempts"]] == [
        ("primary", "server_error", 500), ("primary", "server_error", 500),
        ("backup", "server_error", 500), ("backup", "server_error", 500)]
    assert CANARY_PRIMARY not in response.text and CANARY_BACKUP not in response.text


def test_every_provider_rate_limited_is_429_with_retry_after(http: httpx.Client, primary: ProviderSimulator,
                                                             backup: ProviderSimulator) -> None:
    """Every provider answering 429 is a 429 whose Retry-After is the soonest return, rounded up."""
    primary.set_fault("status:429,retry-after=2.2")
    backup.set_fault("status:429,retry-after=7")
    response = http.post("/responses", json=BODY)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert error_of(response)["type"] == "rate_limit_error"


def test_every_provider_cooling_down_is_429_without_calling_them(http: httpx.Client, primary: ProviderSimulator,
                                                                 backup: ProviderSimulator) -> None:
    """While every provider cools down, requests get 429 + Retry-After and no provider is called."""
    primary.set_fault("status:429,retry-after=30")
    backup.set_fault("status:429,retry-after=30")
    http.post("/responses", json=BODY)
    calls = len(primary.requests) + len(backup.requests)
    response = http.post("/responses", json=BODY)
    assert response.status_code == 429
    assert error_of(response)["code"] == "all_providers_cooling_down"
    assert 28 <= int(response.headers["retry-after"]) <= 30
    assert len(primary.requests) + len(backup.requests) == calls


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
def test_provider_refusal_is_returned_as_is(http: httpx.Client, primary: ProviderSimulator,
                                            backup: ProviderSimulator, streamed: bool) -> None:
    """A provider's own 400 (context length) is the client's answer, byte for byte; the backup is never asked."""
    primary.set_fault(CONTEXT_FAULT)
    response = http.post("/responses", json={**BODY, "stream": streamed})
    assert response.status_code == 400
    assert response.headers["x-tppc-provider"] == "primary"
    assert response.content == (b'{"error":{"message":"Your input exceeds the context window",'
                                b'"type":"invalid_request_error","param":null,"code":"context_length_exceeded"}}')
    assert backup.requests == []


def test_provider_refusal_of_a_chat_request_keeps_its_error(http: httpx.Client, primary: ProviderSimulator,
                                                            backup: ProviderSimulator) -> None:
    """Through litellm too, the provider's 400 comes back with its own error object; no failover."""
    primary.set_fault(CONTEXT_FAULT)
    response = http.post("/chat/completions", json=CHAT)
    assert response.status_code == 400
    assert error_of(response) == {"message": "Your input exceeds the context window",
                                  "type": "invalid_request_error", "param": None, "code": "context_length_exceeded"}
    assert backup.requests == []
