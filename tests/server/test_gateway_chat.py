"""``POST /v1/chat/completions`` (through litellm) and ``GET /v1/models`` over plain HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tppc_router.sim import ProviderSimulator

CHAT: dict[str, Any] = {"model": "gpt-5", "messages": [{"role": "user", "content": "Tell me something"}]}
FROM_PRIMARY = "Hello from primary. You said: Tell me something"


def chat_stream(http: httpx.Client) -> tuple[httpx.Response, list[str]]:
    """The response and the ``data:`` payloads of a streamed chat completion."""
    with http.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as response:
        lines = [line[6:] for line in response.read().decode().splitlines() if line.startswith("data: ")]
    return response, lines


def test_chat_completion_is_openai_shaped(http: httpx.Client) -> None:
    """A whole chat completion is a ``chat.completion`` object naming its provider."""
    response = http.post("/chat/completions", json=CHAT)
    assert response.headers["x-tppc-provider"] == "primary"
    body = response.json()
    assert body["object"] == "chat.completion"
    message = body["choices"][0]["message"]
    assert (message["role"], message["content"]) == ("assistant", FROM_PRIMARY)
    assert body["usage"]["total_tokens"] > 0


def test_chat_stream_is_chunks_then_done(http: httpx.Client) -> None:
    """A streamed chat completion is ``chat.completion.chunk`` data events, then ``data: [DONE]``."""
    response, lines = chat_stream(http)
    assert response.headers["x-tppc-provider"] == "primary"
    assert response.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == FROM_PRIMARY


def test_chat_stream_fails_over_before_content(http: httpx.Client, primary: ProviderSimulator) -> None:
    """A primary cut before any content is replaced by the backup."""
    primary.set_fault("cut-after:2")
    response, lines = chat_stream(http)
    assert response.headers["x-tppc-provider"] == "backup"
    assert lines[-1] == "[DONE]"


def test_chat_stream_cut_after_content_ends_with_an_error_event(http: httpx.Client, primary: ProviderSimulator,
                                                               backup: ProviderSimulator) -> None:
    """A cut after content ends with an ``{"error": ...}`` data event and no ``[DONE]``; nothing is retried."""
    primary.set_fault("cut-after:12")
    _, lines = chat_stream(http)
    assert "[DONE]" not in lines
    error = json.loads(lines[-1])["error"]
    assert error["code"] == "stream_interrupted"
    assert "primary" in error["message"]
    assert backup.requests == []


def test_models_lists_every_group(http: httpx.Client) -> None:
    """``/v1/models`` lists each model group and pinned group in the OpenAI list shape."""
    body = http.get("/models").json()
    assert body["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in body["data"]] == [
        ("gpt-5", "model", "tppc-router"), ("primary/gpt-5", "model", "tppc-router"),
        ("backup/gpt-5", "model", "tppc-router")]
    assert all(isinstance(m["created"], int) for m in body["data"])
