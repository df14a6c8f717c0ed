"""The openai SDK (sync and async) against a live gateway with two simulated providers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from gateway_live import CANARY_GATEWAY, CANARY_PRIMARY, LiveServer, StartServer, gateway_settings

from tppc_router.sim import ProviderSimulator

PROMPT = "Say hi"
FROM_PRIMARY = f"Hello from primary. You said: {PROMPT}"
FROM_BACKUP = f"Hello from backup. You said: {PROMPT}"
MESSAGES: list[Any] = [{"role": "user", "content": PROMPT}]


def keyed_gateway(live_server: StartServer, primary: ProviderSimulator, backup: ProviderSimulator,
                  **router: Any) -> LiveServer:
    settings = gateway_settings({"primary": primary, "backup": backup}, server={"api-keys": [CANARY_GATEWAY]},
                                router=router)
    return live_server(settings)


@pytest.fixture
def gateway(live_server: StartServer, primary: ProviderSimulator, backup: ProviderSimulator) -> LiveServer:
    """primary then backup, behind a gateway key, with the default timeouts."""
    return keyed_gateway(live_server, primary, backup)


@pytest.fixture
def client(gateway: LiveServer) -> Iterator[openai.OpenAI]:
    """A sync SDK client that never retries by itself."""
    with openai.OpenAI(base_url=gateway.base_url, api_key=CANARY_GATEWAY, max_retries=0, timeout=10) as sdk:
        yield sdk


@pytest.fixture
def impatient_client(live_server: StartServer, primary: ProviderSimulator,
                     backup: ProviderSimulator) -> Iterator[openai.OpenAI]:
    """A client of a gateway that gives up on a silent provider fast: no first event within 0.5 s
    (streams), no answer within 1 s (whole responses). Used on the Responses path only: the chat
    path's first call through LiteLLM can itself take longer than that on a loaded machine."""
    live = keyed_gateway(live_server, primary, backup, **{"first-byte-timeout": 0.5, "timeout": 1.0})
    with openai.OpenAI(base_url=live.base_url, api_key=CANARY_GATEWAY, max_retries=0, timeout=10) as sdk:
        yield sdk


@pytest.fixture
def async_client(gateway: LiveServer) -> openai.AsyncOpenAI:
    """An async SDK client that never retries by itself."""
    return openai.AsyncOpenAI(base_url=gateway.base_url, api_key=CANARY_GATEWAY, max_retries=0, timeout=10)


# --------------------------------------------------------------------------- happy path


def test_responses_create_is_answered_by_primary(client: openai.OpenAI, primary: ProviderSimulator,
                                                 backup: ProviderSimulator) -> None:
    """A non-streaming response comes from the first provider, with its key, and says so in a header."""
    raw = client.responses.with_raw_response.create(model="gpt-5", input=PROMPT)
    assert raw.headers["x-tppc-provider"] == "primary"
    assert raw.parse().output_text == FROM_PRIMARY
    assert [r.api_key for r in primary.requests] == [CANARY_PRIMARY]
    assert backup.requests == []


def test_responses_stream_relays_every_event_in_order(client: openai.OpenAI) -> None:
    """A streamed response arrives whole: created first, completed last, numbered without gaps."""
    stream = client.responses.create(model="gpt-5", input=PROMPT, stream=True)
    assert stream.response.headers["x-tppc-provider"] == "primary"
    events = list(stream)
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == FROM_PRIMARY


def test_responses_stream_helper_gives_the_final_response(client: openai.OpenAI) -> None:
    """The SDK's ``responses.stream`` helper assembles the final response from the relayed events."""
    with client.responses.stream(model="gpt-5", input=PROMPT, reasoning={"summary": "auto"}) as stream:
        final = stream.get_final_response()
    assert final.status == "completed"
    assert final.output_text == FROM_PRIMARY
    assert [item.type for item in final.output] == ["reasoning", "message"]


async def test_async_responses_stream(async_client: openai.AsyncOpenAI) -> None:
    """The async client streams the same events."""
    async with async_client:
        stream = await async_client.responses.create(model="gpt-5", input=PROMPT, stream=True)
        types = [event.type async for event in stream]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"


def test_chat_completion_is_answered_by_primary(client: openai.OpenAI) -> None:
    """A chat completion goes through litellm to the primary's Responses API."""
    raw = client.chat.completions.with_raw_response.create(model="gpt-5", messages=MESSAGES)
    assert raw.headers["x-tppc-provider"] == "primary"
    assert raw.parse().choices[0].message.content == FROM_PRIMARY


async def test_async_chat_stream(async_client: openai.AsyncOpenAI) -> None:
    """A streamed chat completion joins to the primary's answer and ends cleanly."""
    async with async_client:
        stream = await async_client.chat.completions.create(model="gpt-5", messages=MESSAGES, stream=True)
        assert stream.response.headers["x-tppc-provider"] == "primary"
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == FROM_PRIMARY


# --------------------------------------------------------------------------- failover


@pytest.mark.parametrize("fault", ["status:500", "reset", "no-response"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_responses_fail_over_to_backup(impatient_client: openai.OpenAI, primary: ProviderSimulator,
                                       backup: ProviderSimulator, fault: str, stream: bool) -> None:
    """A primary that errors, resets or says nothing is skipped: the backup answers, and the header says so."""
    client = impatient_client
    primary.set_fault(fault)
    if stream:
        events = client.responses.create(model="gpt-5", input=PROMPT, stream=True)
        provider = events.response.headers["x-tppc-provider"]
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    else:
        raw = client.responses.with_raw_response.create(model="gpt-5", input=PROMPT)
        provider, text = raw.headers["x-tppc-provider"], raw.parse().output_text
    assert (provider, text) == ("backup", FROM_BACKUP)
    assert primary.requests and all(r.outcome == fault.split(":")[0] for r in primary.requests)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_chat_fails_over_to_backup(client: openai.OpenAI, primary: ProviderSimulator, stream: bool) -> None:
    """Chat completions fail over the same way."""
    primary.set_fault("status:500")
    if stream:
        chunks = client.chat.completions.create(model="gpt-5", messages=MESSAGES, stream=True)
        provider = chunks.response.headers["x-tppc-provider"]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        raw = client.chat.completions.with_raw_response.create(model="gpt-5", messages=MESSAGES)
        provider, text = raw.headers["x-tppc-provider"], raw.parse().choices[0].message.content or ""
    assert (provider, text) == ("backup", FROM_BACKUP)


def test_cut_after_content_ends_with_error_then_failed(client: openai.OpenAI, primary: ProviderSimulator,
                                                       backup: ProviderSimulator) -> None:
    """A stream cut after content is not failed over: the SDK yields an ``error`` event, then ``response.failed``."""
    primary.set_fault("cut-after:8")
    events = list(client.responses.create(model="gpt-5", input=PROMPT, stream=True))
    error, failed = events[-2], events[-1]
    assert error.type == "error" and error.code == "stream_interrupted"
    assert "primary" in error.message
    assert failed.type == "response.failed"
    assert failed.response.status == "failed"
    assert failed.response.error is not None and failed.response.error.code == "server_error"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert backup.requests == []


def test_cut_after_content_fails_the_stream_helper(client: openai.OpenAI, primary: ProviderSimulator) -> None:
    """With the ``responses.stream`` helper, the cut shows as a failed final response, never a completed one."""
    primary.set_fault("cut-after:8")
    with client.responses.stream(model="gpt-5", input=PROMPT) as stream:
        types = [event.type for event in stream]
    assert types[-2:] == ["error", "response.failed"]
    assert "response.completed" not in types


# --------------------------------------------------------------------------- errors


def test_every_provider_failing_is_a_502_listing_the_attempts(client: openai.OpenAI, primary: ProviderSimulator,
                                                              backup: ProviderSimulator) -> None:
    """When every provider fails, the SDK sees a 502 whose body lists each attempt (and no key)."""
    primary.set_fault("status:500")
    backup.set_fault("status:500")
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model="gpt-5", input=PROMPT)
    assert caught.value.status_code == 502
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "all_providers_failed"
    assert {a["provider"] for a in body["attempts"]} == {"primary", "backup"}


def test_every_provider_rate_limited_is_a_429_with_retry_after(client: openai.OpenAI, primary: ProviderSimulator,
                                                               backup: ProviderSimulator) -> None:
    """When every provider answers 429, so does the gateway, with Retry-After in whole seconds."""
    primary.set_fault("status:429,retry-after=2.5")
    backup.set_fault("status:429,retry-after=2.5")
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="gpt-5", input=PROMPT)
    assert caught.value.response.headers["retry-after"] == "3"


def test_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    """An unknown model is a 404 that lists the models the gateway serves."""
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gpt-4o", input=PROMPT)
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["available_models"] == ["gpt-5", "primary/gpt-5", "backup/gpt-5"]


def test_wrong_gateway_key_is_refused(gateway: LiveServer) -> None:
    """A client with the wrong gateway key gets 401 (the SDK raises AuthenticationError)."""
    with openai.OpenAI(base_url=gateway.base_url, api_key="sk-wrong-key-000000", max_retries=0) as sdk, \
            pytest.raises(openai.AuthenticationError):
        sdk.models.list()


def test_models_lists_groups_and_pinned_groups(client: openai.OpenAI) -> None:
    """``models.list`` shows each group and each ``<provider>/<model>`` group, owned by tppc-router."""
    models = list(client.models.list())
    assert [m.id for m in models] == ["gpt-5", "primary/gpt-5", "backup/gpt-5"]
    assert {m.owned_by for m in models} == {"tppc-router"}
