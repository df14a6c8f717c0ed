"""Streams held back before their first content: headers within about a second, ``: keep-alive`` comments
while waiting, the answering provider named in a comment, and a request no provider can answer ending with
``error`` + ``response.failed`` carrying the HTTP error's message and code."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from gateway_live import LiveServer, StartServer, gateway_settings

from tppc_router.sim import ProviderSimulator

BODY = {"model": "gpt-5", "input": "hello", "stream": True}


def held_gateway(live_server: StartServer, sims: dict[str, ProviderSimulator], **router: Any) -> LiveServer:
    return live_server(gateway_settings(sims, server={"stream-keepalive": 0.3}, router=router))


def read_stream(url: str, body: dict[str, Any] | None = None) -> tuple[httpx.Response, float, list[str]]:
    """POST a stream; the response, seconds until its headers came, and its lines (blank lines dropped)."""
    started = time.monotonic()
    with httpx.stream("POST", url, json=body or BODY, timeout=60) as response:
        headers_after = time.monotonic() - started
        lines = [line for line in response.iter_lines() if line]
    return response, headers_after, lines


def test_a_slow_first_token_gets_headers_at_once_and_keepalives(live_server: StartServer,
                                                                primary: ProviderSimulator,
                                                                backup: ProviderSimulator) -> None:
    """With the primary 3 s from its first token, the headers come well before it (within about a second),
    keep-alive comments flow meanwhile, then ``: tppc-provider primary`` and the whole answer."""
    gateway = held_gateway(live_server, {"primary": primary, "backup": backup})
    primary.set_fault("slow-first-token:3")
    response, headers_after, lines = read_stream(gateway.base_url + "/responses")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert headers_after < 2.5, headers_after  # the first token came 3 s in
    first_event = next(i for i, line in enumerate(lines) if line.startswith("event:"))
    assert lines[:first_event].count(": keep-alive") >= 2
    assert lines[first_event - 1] == ": tppc-provider primary"
    assert lines[-2] == "event: response.completed"
    assert "x-tppc-provider" not in response.headers
    assert backup.requests == []


def test_a_failover_while_held_back_stays_invisible(live_server: StartServer, primary: ProviderSimulator,
                                                    backup: ProviderSimulator) -> None:
    """The primary gives no first token in time; the backup answers. The client sees keep-alives, the
    backup's name and its events: no error, and nothing of the primary's."""
    gateway = held_gateway(live_server, {"primary": primary, "backup": backup}, **{"first-token-timeout": 1.5})
    primary.set_fault("slow-first-token:30")
    response, _, lines = read_stream(gateway.base_url + "/responses")
    assert response.status_code == 200
    assert ": keep-alive" in lines and ": tppc-provider backup" in lines
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event:")]
    assert "error" not in events and "response.failed" not in events
    assert events[-1] == "response.completed"
    text = "\n".join(lines)
    assert "Hello from backup" in text and "primary" not in text.replace(": tppc-provider backup", "")


def test_no_provider_after_headers_ends_with_error_and_response_failed(live_server: StartServer,
                                                                       primary: ProviderSimulator,
                                                                       backup: ProviderSimulator) -> None:
    """When every provider fails after the headers went out, the stream ends with an ``error`` event and
    ``response.failed``, both with the code and message the HTTP error has (502 all_providers_failed)."""
    gateway = held_gateway(live_server, {"primary": primary, "backup": backup}, **{"first-token-timeout": 1.5})
    primary.set_fault("slow-first-token:30")
    backup.set_fault("slow-first-token:30")
    response, _, lines = read_stream(gateway.base_url + "/responses")
    assert response.status_code == 200
    assert lines[0] == ": keep-alive"
    data = [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data:")]
    assert [d["type"] for d in data] == ["error", "response.failed"]
    error, failed = data
    assert error["code"] == "all_providers_failed"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == "all_providers_failed"
    assert failed["response"]["error"]["message"] == error["message"]
    primary.clear_faults()
    backup.clear_faults()
    primary.set_fault("status:500")
    backup.set_fault("status:500")
    fresh = held_gateway(live_server, {"primary": primary, "backup": backup})  # breakers closed again
    at_once = httpx.post(fresh.base_url + "/responses", json=BODY, timeout=60)  # fails before a second is out
    assert at_once.status_code == 502
    http_error = at_once.json()["error"]
    assert http_error["code"] == error["code"]
    assert http_error["message"].split(":")[0] == error["message"].split(":")[0]


def test_a_fast_stream_is_answered_as_before(live_server: StartServer, primary: ProviderSimulator,
                                             backup: ProviderSimulator) -> None:
    """A stream whose content starts at once has the ``x-tppc-provider`` header and no comment lines."""
    gateway = held_gateway(live_server, {"primary": primary, "backup": backup})
    response, _, lines = read_stream(gateway.base_url + "/responses")
    assert response.headers["x-tppc-provider"] == "primary"
    assert not any(line.startswith(":") for line in lines)


def test_chat_streams_are_held_the_same_way(live_server: StartServer, primary: ProviderSimulator,
                                            backup: ProviderSimulator) -> None:
    """A chat completion stream with a slow first token also gets keep-alives, the provider's name, then
    its chunks and ``[DONE]``."""
    gateway = held_gateway(live_server, {"primary": primary, "backup": backup})
    primary.set_fault("slow-first-token:3")
    body = {"model": "gpt-5", "messages": [{"role": "user", "content": "hello"}], "stream": True}
    response, _, lines = read_stream(gateway.base_url + "/chat/completions", body)
    assert response.status_code == 200
    assert ": keep-alive" in lines and ": tppc-provider primary" in lines
    assert lines[-1] == "data: [DONE]"
