"""Event fidelity: what the client gets from ``/v1/responses`` is what the provider sent.

Two checks, for a response with a reasoning item (encrypted content included) and a
function call:

1. Byte identity. The gateway's provider client is given a recording transport
   (httpx's public transport API, wrapping the real one), so the test knows the
   exact bytes the provider sent. The client must receive exactly those bytes.
2. Same answer as direct. The same request sent straight to the simulator gives an
   event sequence equal to the gateway's, field for field, once the values that
   differ on every call are renamed consistently: ids (``resp_``, ``msg_``, ``rs_``,
   ``fc_``, ``call_``) and encrypted content become placeholders numbered by first
   appearance (so an id reused across events must be reused in the same places), and
   timestamps become a placeholder after checking they are close. This shows the
   request reached the provider intact (reasoning, include, tools) and nothing in the
   relay reordered, dropped or added an event.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from gateway_live import CANARY_PRIMARY, LiveServer, gateway_settings, running

from tppc_router.server import create_app
from tppc_router.sim import ProviderSimulator
from tppc_router.routing.upstream import Upstream

REQUEST: dict[str, Any] = {
    "model": "gpt-5",
    "input": [{"role": "user", "content": "List the files here"}],
    "instructions": "You are a careful agent.",
    "reasoning": {"effort": "high", "summary": "auto"},
    "include": ["reasoning.encrypted_content"],
    "tools": [{"type": "function", "name": "shell", "description": "Run a command",
               "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}}],
    "store": False,
}
_ID = re.compile(r"\b(resp|msg|rs|fc|call)_[0-9a-f]{8,}\b")
_TIMES = ("created_at", "completed_at")


class _Tee(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, sink: bytearray) -> None:
        self._stream = stream
        self._sink = sink

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._sink.extend(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real transport, keeping a copy of every response body byte the gateway reads."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.received = bytearray()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(response.status_code, headers=response.headers,
                              stream=_Tee(response.stream, self.received), extensions=response.extensions)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def provider() -> Iterator[ProviderSimulator]:
    """A provider whose every answer carries a reasoning item and a function call."""
    with ProviderSimulator("primary", api_key=CANARY_PRIMARY, scenario="function_call") as sim:
        yield sim


@pytest.fixture
def recorded(provider: ProviderSimulator) -> Iterator[tuple[LiveServer, RecordingTransport]]:
    """A gateway serving ``provider`` whose provider client records what it receives."""
    transport = RecordingTransport()
    with running(create_app(gateway_settings({"primary": provider}))) as live:
        live.runtime.upstream = Upstream(httpx.AsyncClient(transport=transport))
        yield live, transport


def frames(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, JSON payload) of each SSE frame."""
    out = []
    for block in body.decode().strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def canonical(events: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], list[int]]:
    """``events`` with ids and encrypted content renamed by first appearance, and the timestamps found."""
    names: dict[str, str] = {}
    times: list[int] = []

    def name(value: str, kind: str) -> str:
        if value not in names:
            names[value] = f"<{kind}#{len(names)}>"
        return names[value]

    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if key in _TIMES and isinstance(value, int):
            times.append(value)
            return "<time>"
        if key == "encrypted_content" and isinstance(value, str):
            return name(value, "encrypted")
        if isinstance(value, str):
            return _ID.sub(lambda m: name(m.group(0), m.group(1)), value)
        return value

    return [walk([event, payload]) for event, payload in events], times


def test_stream_is_relayed_byte_for_byte(recorded: tuple[LiveServer, RecordingTransport]) -> None:
    """The client receives exactly the bytes the provider sent, reasoning and function call included."""
    live, transport = recorded
    with httpx.stream("POST", live.base_url + "/responses", json={**REQUEST, "stream": True}, timeout=10) as response:
        received = response.read()
    assert received == bytes(transport.received)
    items = [p["item"]["type"] for e, p in frames(received) if e == "response.output_item.done"]
    assert items == ["reasoning", "message", "function_call"]


def test_whole_response_is_relayed_byte_for_byte(recorded: tuple[LiveServer, RecordingTransport]) -> None:
    """A non-streaming answer is the provider's body as it came."""
    live, transport = recorded
    response = httpx.post(live.base_url + "/responses", json=REQUEST, timeout=10)
    assert response.content == bytes(transport.received)
    assert [item["type"] for item in response.json()["output"]] == ["reasoning", "message", "function_call"]


def test_stream_equals_the_providers_direct_answer(recorded: tuple[LiveServer, RecordingTransport],
                                                   provider: ProviderSimulator) -> None:
    """Through the gateway or straight from the provider, the event sequence is the same, field for field."""
    live, _ = recorded
    body = {**REQUEST, "stream": True}
    with httpx.stream("POST", live.base_url + "/responses", json=body, timeout=10) as response:
        via_gateway = frames(response.read())
    # The same bytes the gateway sends (the simulator's usage counts the body's size).
    direct_headers = {"authorization": f"Bearer {CANARY_PRIMARY}", "content-type": "application/json"}
    with httpx.stream("POST", provider.url + "/responses", content=json.dumps(body).encode(), headers=direct_headers,
                      timeout=10) as response:
        direct = frames(response.read())
    assert provider.requests[0].body == provider.requests[1].body == body
    gateway_events, gateway_times = canonical(via_gateway)
    direct_events, direct_times = canonical(direct)
    assert gateway_events == direct_events
    assert len(gateway_times) == len(direct_times) and max(gateway_times + direct_times) - min(
        gateway_times + direct_times) <= 5
    kinds = [event for event, _ in via_gateway]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in kinds and "response.function_call_arguments.delta" in kinds
