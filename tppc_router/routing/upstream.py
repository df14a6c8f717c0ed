"""Direct HTTP to a provider: the pooled client of the raw sender and of the probes.

The gateway forwards ``/v1/responses`` bytes itself (httpx, through
:class:`~tppc_router.routing.senders.HttpxSender`), so every event the provider
streams reaches the client in order with its payload intact; the pipeline still
decides which provider to call. Provider errors are raised
as ``httpx.HTTPStatusError`` (body already read) so :func:`failover.classify`
treats them exactly like litellm's.
"""

from __future__ import annotations

import json
from dataclasses import replace
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from tppc_router.routing.engine import Target
from tppc_router.routing.trackers import SSEEvent, parse_sse_data
from tppc_router.masking import get_logger

__all__ = ["Upstream"]

logger = get_logger("tppc_router.routing.upstream")


def _headers(target: Target, extra: Mapping[str, str] | None) -> dict[str, str]:
    headers = {"authorization": f"Bearer {target.api_key.get_secret_value()}", "content-type": "application/json"}
    if extra:
        headers.update(extra)
    return headers


class Upstream:
    """A pooled httpx client for provider calls."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self.client = client or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=128),
            timeout=httpx.Timeout(600.0, connect=10.0),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def post(self, target: Target, path: str, body: Mapping[str, Any], *, timeout: float,
                   headers: Mapping[str, str] | None = None) -> httpx.Response:
        """A non-streaming call; non-2xx raises ``httpx.HTTPStatusError``."""
        response = await self.client.post(
            target.base_url + path, content=json.dumps(body).encode(), headers=_headers(target, headers),
            timeout=timeout,
        )
        response.raise_for_status()
        return response

    async def open_sse(self, target: Target, path: str, body: Mapping[str, Any], *, timeout: float,
                       headers: Mapping[str, str] | None = None) -> AsyncIterator[SSEEvent]:
        """Send the request; return an iterator of events once headers arrive."""
        request = self.client.build_request(
            "POST", target.base_url + path, content=json.dumps(body).encode(),
            headers={**_headers(target, headers), "accept": "text/event-stream"}, timeout=timeout,
        )
        response = await self.client.send(request, stream=True)
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            response.raise_for_status()
        return _events(response, target.provider)


async def _events(response: httpx.Response, provider: str) -> AsyncIterator[SSEEvent]:
    """Split the byte stream into events, keeping each event's raw bytes (its blank line included)."""
    buffer = b""
    try:
        async for chunk in response.aiter_bytes():
            buffer = buffer + chunk if buffer else chunk
            raws: list[bytes] = []
            start = 0
            while (end := _boundary(buffer, start)) != -1:
                raws.append(buffer[start:end])
                start = end
            if start:
                buffer = buffer[start:]
            last = len(raws) - 1
            ready = [event for index, raw in enumerate(raws) if (event := _parse(raw, provider, index < last))]
            if ready and ready[-1].more:  # the event after it was not valid: nothing else follows at once
                ready[-1] = replace(ready[-1], more=False)
            for event in ready:  # `more`: the next one is already here (the relay writes them together)
                yield event
        if buffer.strip():
            event = _parse(buffer + b"\n\n", provider)
            if event is not None:
                yield event
    finally:
        await response.aclose()


def _boundary(buffer: bytes, start: int) -> int:
    """Where the event starting at ``start`` ends (after its blank line), or -1."""
    at = buffer.find(b"\n\n", start)
    if b"\r" in buffer:  # CRLF line ends (rare): the first blank line of either kind
        crlf = buffer.find(b"\r\n\r\n", start)
        if crlf != -1 and (at == -1 or crlf < at):
            return crlf + 4
    return -1 if at == -1 else at + 2


def _parse(raw: bytes, provider: str, more: bool = False) -> SSEEvent | None:
    event: str | None = None
    data_lines: list[str] = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if line.startswith(":") or not line:
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data_lines.append(value)
    if not data_lines:
        return None
    data = "\n".join(data_lines)
    if data == "[DONE]":
        return SSEEvent(raw, event, data, None, more, event or "")
    parsed = parse_sse_data(data)
    if parsed is None:
        logger.warning("skipped an invalid SSE event from %s (%d bytes)", provider, len(raw))
        return None
    kind = parsed.get("type")
    return SSEEvent(raw, event, data, parsed, more, kind if isinstance(kind, str) else event or "")
