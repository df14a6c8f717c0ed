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
    """Split the byte stream into events, keeping each event's raw bytes."""
    buffer = b""
    try:
        async for chunk in response.aiter_bytes():
            buffer += chunk
            ready: list[SSEEvent] = []
            while True:
                cut = _boundary(buffer)
                if cut is None:
                    break
                raw, buffer = buffer[: cut[0]], buffer[cut[1]:]
                event = _parse(raw, provider)
                if event is not None:
                    ready.append(event)
            for index, event in enumerate(ready):  # `more`: the next one is already here (write them together)
                yield replace(event, more=True) if index < len(ready) - 1 else event
        if buffer.strip():
            event = _parse(buffer, provider)
            if event is not None:
                yield event
    finally:
        await response.aclose()


def _boundary(buffer: bytes) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    for sep in (b"\n\n", b"\r\n\r\n"):
        at = buffer.find(sep)
        if at != -1 and (best is None or at < best[0]):
            best = (at, at + len(sep))
    return best


def _parse(raw: bytes, provider: str) -> SSEEvent | None:
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
        return SSEEvent(raw + b"\n\n", event, data, None)
    parsed = parse_sse_data(data)
    if parsed is None:
        logger.warning("skipped an invalid SSE event from %s (%d bytes)", provider, len(raw))
        return None
    return SSEEvent(raw + b"\n\n", event, data, parsed)
