"""``POST /v1/responses`` over plain HTTP: what is forwarded, what is relayed, affinity, disconnects."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from typing import Any

import httpx
import pytest
from gateway_live import StartServer, gateway_settings

from tppc_router.sim import ProviderSimulator

FROM_PRIMARY = "Hello from primary. You said: Tell me something"
FROM_BACKUP = "Hello from backup. You said: Tell me something"
BODY: dict[str, Any] = {"model": "gpt-5", "input": "Tell me something"}


def events_of(text: str) -> list[dict[str, Any]]:
    """The JSON payload of every event of an SSE body, in order."""
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def stream(http: httpx.Client, body: dict[str, Any], **headers: str) -> tuple[httpx.Response, list[dict[str, Any]]]:
    with http.stream("POST", "/responses", json={**body, "stream": True}, headers=headers) as response:
        return response, events_of(response.read().decode())


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


# --------------------------------------------------------------------------- what reaches the provider


def test_body_is_forwarded_whole_with_only_the_model_replaced(http: httpx.Client, backup: ProviderSimulator) -> None:
    """Every field the client sends reaches the provider as sent; the pinned group becomes the upstream model
    and a client's store: true is sent as false (router.allow-client-store is false)."""
    body = {
        "model": "backup/gpt-5",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Tell me something"}]}],
        "instructions": "Be brief.",
        "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {}}}],
        "tool_choice": "auto",
        "include": ["reasoning.encrypted_content"],
        "reasoning": {"effort": "low", "summary": "auto"},
        "previous_response_id": "resp_from_somewhere",
        "store": True,
        "metadata": {"ticket": "T-1"},
        "prompt_cache_key": "cache-1",
        "vendor_extension": {"kept": True},
    }
    assert http.post("/responses", json=body).status_code == 200
    assert backup.requests[-1].body == {**body, "model": "gpt-5", "store": False}


def test_defaults_are_added_only_where_the_client_is_silent(http: httpx.Client, primary: ProviderSimulator) -> None:
    """``store: false`` and ``reasoning.effort: high`` are added; the client's other reasoning fields stay."""
    http.post("/responses", json={**BODY, "reasoning": {"summary": "auto"}})
    assert primary.requests[-1].body == {**BODY, "store": False, "reasoning": {"summary": "auto", "effort": "high"}}


def test_only_safe_headers_are_forwarded(http: httpx.Client, primary: ProviderSimulator) -> None:
    """Codex's identifying headers pass; the client's auth, cookies and x-sim-* never reach the provider."""
    headers = {"user-agent": "codex_exec/0.169.0", "originator": "codex_exec", "session-id": "s-1",
               "x-codex-window-id": "w-1", "x-sim-fault": "status:500", "cookie": "a=b",
               "authorization": "Bearer sk-client-own-key"}
    response = http.post("/responses", json=BODY, headers=headers)
    assert response.status_code == 200
    seen = primary.requests[-1].headers
    assert {k: seen.get(k) for k in ("user-agent", "originator", "session-id", "x-codex-window-id")} == {
        "user-agent": "codex_exec/0.169.0", "originator": "codex_exec", "session-id": "s-1",
        "x-codex-window-id": "w-1"}
    assert "x-sim-fault" not in seen and "cookie" not in seen
    assert primary.requests[-1].outcome == "ok"


# --------------------------------------------------------------------------- what reaches the client


def test_non_streaming_body_is_the_providers_own(http: httpx.Client, primary: ProviderSimulator) -> None:
    """A non-streaming answer is the provider's JSON, named by the header."""
    response = http.post("/responses", json=BODY)
    assert response.headers["x-tppc-provider"] == "primary"
    assert response.headers["content-type"] == "application/json"
    assert response.json()["output"][-1]["content"][0]["text"] == FROM_PRIMARY


def test_malformed_event_is_skipped(http: httpx.Client, primary: ProviderSimulator,
                                    caplog: pytest.LogCaptureFixture) -> None:
    """An event that is not JSON is dropped (and logged); every other event arrives and the stream completes."""
    primary.set_fault("malformed:3")
    with caplog.at_level(logging.WARNING, logger="tppc_router.routing.upstream"):
        _, events = stream(http, BODY)
    assert events[-1]["type"] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert text_of(events) == FROM_PRIMARY
    assert any("invalid SSE event from primary" in r.getMessage() for r in caplog.records)


def test_missing_terminal_event_is_synthesized(http: httpx.Client, primary: ProviderSimulator) -> None:
    """A whole stream that ends without ``response.completed`` gets one, built from what was delivered."""
    primary.set_fault("no-terminal")
    _, events = stream(http, BODY)
    completed = events[-1]
    assert completed["type"] == "response.completed"
    assert completed["sequence_number"] == events[-2]["sequence_number"] + 1
    assert completed["response"]["id"] == events[0]["response"]["id"]
    assert completed["response"]["status"] == "completed"
    assert completed["response"]["output"] == [e["item"] for e in events if e["type"] == "response.output_item.done"]


def test_failure_before_content_fails_over_without_a_trace(http: httpx.Client, primary: ProviderSimulator) -> None:
    """A primary cut after its preamble is replaced by the backup: the client sees only the backup's events."""
    primary.set_fault("cut-after:2")
    response, events = stream(http, BODY)
    assert response.headers["x-tppc-provider"] == "backup"
    assert len({e["response"]["id"] for e in events if "response" in e}) == 1
    assert text_of(events) == FROM_BACKUP
    assert events[-1]["type"] == "response.completed"


def test_cut_after_content_ends_with_error_and_failed_events(http: httpx.Client, primary: ProviderSimulator,
                                                             backup: ProviderSimulator) -> None:
    """A cut after content ends the stream with ``error`` then ``response.failed``, and nothing is retried."""
    primary.set_fault("cut-after:8")
    with http.stream("POST", "/responses", json={**BODY, "stream": True}) as response:
        raw = response.read().decode()
    blocks = raw.strip().split("\n\n")
    assert blocks[-2].startswith("event: error\n") and blocks[-1].startswith("event: response.failed\n")
    events = events_of(raw)
    error, failed = events[-2], events[-1]
    assert (error["code"], error["sequence_number"]) == ("stream_interrupted", events[-3]["sequence_number"] + 1)
    assert failed["sequence_number"] == error["sequence_number"] + 1
    assert failed["response"]["id"] == events[0]["response"]["id"]
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == "server_error"
    assert backup.requests == []


# --------------------------------------------------------------------------- affinity


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
def test_previous_response_id_goes_back_to_its_provider(http: httpx.Client, primary: ProviderSimulator,
                                                        streamed: bool) -> None:
    """A follow-up naming a response the backup issued goes to the backup, though the primary is healthy again."""
    primary.set_fault("status:500")
    if streamed:
        first = stream(http, BODY)[1][0]["response"]["id"]
    else:
        first = http.post("/responses", json=BODY).json()["id"]
    primary.clear_faults()
    primary.clear_requests()
    follow_up = http.post("/responses", json={**BODY, "previous_response_id": first})
    assert follow_up.headers["x-tppc-provider"] == "backup"
    assert primary.requests == []


def test_encrypted_reasoning_is_stripped_when_leaving_its_provider(http: httpx.Client, primary: ProviderSimulator,
                                                                   backup: ProviderSimulator) -> None:
    """Reasoning encrypted by the backup goes to the backup first; failing over, it is removed from the input."""
    primary.set_fault("status:500")
    first = http.post("/responses", json={**BODY, "reasoning": {"summary": "auto"},
                                          "include": ["reasoning.encrypted_content"]}).json()
    reasoning = first["output"][0]
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"]
    user = {"role": "user", "content": "Tell me something"}
    primary.clear_faults()
    backup.set_fault("status:500")
    response = http.post("/responses", json={"model": "gpt-5", "input": [user, reasoning, user]})
    assert response.headers["x-tppc-provider"] == "primary"
    assert backup.requests[-1].body is not None and reasoning in backup.requests[-1].body["input"]
    assert primary.requests[-1].body is not None and primary.requests[-1].body["input"] == [user, user]


# --------------------------------------------------------------------------- disconnects


class StallingProvider:
    """A provider that sends the start of a stream, one delta, then waits; it notes when the caller hangs up."""

    EVENTS = ("response.created", "response.in_progress", "response.output_item.added", "response.output_text.delta")

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length: *(\d+)", head)
            while match and len(body) < int(match.group(1)):
                body += conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            for number, kind in enumerate(self.EVENTS):
                payload = {"type": kind, "sequence_number": number, "output_index": 0, "delta": "Hel",
                           "response": {"id": "resp_stall"}, "item": {"type": "message"}}
                frame = f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode()
                conn.sendall(b"%x\r\n%s\r\n" % (len(frame), frame))
            conn.settimeout(10)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            self.hung_up.set()

    def close(self) -> None:
        self._listener.close()


def test_client_disconnect_closes_the_upstream_stream(live_server: StartServer) -> None:
    """When the client leaves mid-stream, the gateway hangs up on the provider at once."""
    provider = StallingProvider()
    try:
        settings = gateway_settings({"primary": provider}, router={"stream-idle-timeout": 60})
        gateway = live_server(settings)
        with httpx.Client(base_url=gateway.base_url, timeout=10) as client, \
                client.stream("POST", "/responses", json={**BODY, "stream": True}) as response:
            assert response.headers["x-tppc-provider"] == "primary"
            next(response.iter_bytes())
        assert provider.hung_up.wait(5), "the gateway kept the provider's stream open"
    finally:
        provider.close()
