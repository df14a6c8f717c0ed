"""Helpers shared by the simulator tests: read an SSE stream by hand."""

from __future__ import annotations

import json
from typing import Any

import httpx

KEY = "sk-sim-test-0123456789"
RESPONSES_BODY: dict[str, Any] = {"model": "gpt-5", "input": "Tell me something", "stream": True}
CHAT_BODY: dict[str, Any] = {"model": "gpt-5", "messages": [{"role": "user", "content": "Tell me something"}]}


def sse_data(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def event_types(text: str) -> list[str]:
    """The ``type`` of every well-formed JSON event of an SSE body."""
    types = []
    for data in sse_data(text):
        try:
            types.append(str(json.loads(data).get("type", "")))
        except ValueError:
            types.append("<malformed>")
    return types


def read_events_until_error(response: httpx.Response) -> tuple[list[str], BaseException | None]:
    """Collect ``data:`` lines from a streaming response until it ends or fails."""
    seen: list[str] = []
    try:
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(line[len("data: ") :])
    except (httpx.TransportError, httpx.TimeoutException) as error:
        return seen, error
    return seen, None
