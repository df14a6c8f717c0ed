"""Streams held back before their first content: headers early, keep-alive comments, errors in-stream.

The pipeline holds a stream back until a provider has started its content (so a failover
before content stays invisible). With a slow first token that can take minutes, longer than
the 60-100 s idle timeouts of load balancers and proxies. So when the stream has not opened
within :data:`HEADERS_AFTER_S` (or the keep-alive interval, if shorter), the gateway sends
the response headers (``200``, ``text/event-stream``) at once and then an SSE comment
``: keep-alive`` every ``server.stream-keepalive`` seconds until the content starts. SSE
clients (Codex CLI, the openai SDK) ignore comment lines.

After headers are out nothing can be said in them, so:

* the provider that answered is named in a comment line, ``: tppc-provider NAME``,
  right before its first event;
* a request no provider can answer ends the stream with the same message and code the HTTP
  error would have had: an ``error`` event and ``response.failed`` for ``/v1/responses``,
  a ``data: {"error": {...}}`` line for chat completions.

A stream that opens within the first second is answered exactly as before: the
``x-tppc-provider`` header, and pre-content failures as ordinary HTTP errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tppc_router.errors import TppcRouterError
from tppc_router.masking import get_logger, mask_text
from tppc_router.routing.stream import FailoverStream
from tppc_router.server.errors import ProviderRejected, error_response, masked

__all__ = [
    "HEADERS_AFTER_S",
    "KEEPALIVE",
    "SSE_HEADERS",
    "HeldStream",
    "chat_failure",
    "error_fields",
    "open_held",
    "provider_comment",
    "responses_failure",
]

logger = get_logger("tppc_router.server")

HEADERS_AFTER_S = 1.0  # at most this long without response headers
KEEPALIVE = b": keep-alive\n\n"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

Relay = Callable[[FailoverStream[Any]], AsyncIterator[bytes]]
Failure = Callable[[BaseException], list[bytes]]


def provider_comment(provider: str) -> bytes:
    """``: tppc-provider NAME``: who answers, said in the stream once headers are gone."""
    return b": tppc-provider " + provider.replace("\n", " ").replace("\r", " ").encode() + b"\n\n"


def error_fields(exc: BaseException) -> dict[str, Any]:
    """The ``error`` object (message, type, code, param) the HTTP error for ``exc`` would have had."""
    if isinstance(exc, ProviderRejected):
        try:
            body = json.loads(exc.content)
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            fields: dict[str, Any] = masked({"message": str(error.get("message") or ""), "type": error.get("type"),
                           "code": error.get("code"), "param": error.get("param")})
            return fields
        text = mask_text(exc.content.decode("utf-8", errors="replace"))[:1000]
        return {"message": text or str(exc), "type": "invalid_request_error", "code": None, "param": None}
    if isinstance(exc, TppcRouterError):
        body = json.loads(bytes(error_response(exc).body))
        error = body["error"]
        return {"message": error.get("message"), "type": error.get("type"), "code": error.get("code"),
                "param": error.get("param")}
    logger.error("unhandled %s while a stream was held back: %s", type(exc).__name__, mask_text(str(exc)))
    return {"message": f"internal error ({type(exc).__name__})", "type": "server_error", "code": "internal_error",
            "param": None}


def _sse(event: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def responses_failure(model: str) -> Failure:
    """For ``/v1/responses``: ``error`` then ``response.failed``, as for a stream cut mid-way."""

    def events(exc: BaseException) -> list[bytes]:
        error = error_fields(exc)
        code = error["code"] or error["type"] or "server_error"
        response = {"id": "resp_tppc_" + uuid.uuid4().hex, "object": "response", "created_at": int(time.time()),
                    "status": "failed", "model": model, "output": [],
                    "error": {"code": code, "message": error["message"], "type": error["type"]}}
        return [_sse("error", {"type": "error", "code": code, "message": error["message"], "param": error["param"],
                               "sequence_number": 0}),
                _sse("response.failed", {"type": "response.failed", "response": response, "sequence_number": 1})]

    return events


def chat_failure(exc: BaseException) -> list[bytes]:
    """For chat completions: one ``data: {"error": {...}}`` line, as for a stream cut mid-way."""
    return [b"data: " + json.dumps({"error": error_fields(exc)}, separators=(",", ":")).encode() + b"\n\n"]


class HeldStream(StreamingResponse):
    """The response sent when the stream has not opened in time: headers now, then keep-alive
    comments until ``opening`` finishes, then the provider's events (or the failure events)."""

    def __init__(self, opening: asyncio.Task[FailoverStream[Any]], relay: Relay, failure: Failure,
                 interval: float) -> None:
        self._opening = opening
        self._relay = relay
        self._failure = failure
        self._interval = interval
        super().__init__(self._content(), media_type="text/event-stream", headers=SSE_HEADERS)

    async def _content(self) -> AsyncIterator[bytes]:
        while not self._opening.done():
            await asyncio.wait({self._opening}, timeout=self._interval)
            if not self._opening.done():
                yield KEEPALIVE
        try:
            stream = self._opening.result()
        except Exception as exc:  # noqa: BLE001 - every failure becomes the stream's error events
            for chunk in self._failure(exc):
                yield chunk
            return
        yield provider_comment(stream.provider)
        async for chunk in self._relay(stream):
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await _settle(self._opening)


async def _settle(opening: asyncio.Task[FailoverStream[Any]]) -> None:
    """Cancel a still-opening stream (the client left), or close the one that opened."""
    if not opening.done():
        opening.cancel()
    with contextlib.suppress(BaseException):
        stream = await opening
        await stream.aclose()


async def open_held(opening: Awaitable[FailoverStream[Any]], *, relay: Relay, failure: Failure, interval: float,
                    answer: Callable[[FailoverStream[Any]], StreamingResponse]) -> StreamingResponse:
    """``answer(stream)`` when the stream opens within ``min(HEADERS_AFTER_S, interval)`` (a failure
    then raises, for an ordinary HTTP error); else a :class:`HeldStream` that sends headers now."""
    task: asyncio.Task[FailoverStream[Any]] = asyncio.ensure_future(opening)
    try:
        await asyncio.wait({task}, timeout=min(HEADERS_AFTER_S, interval))
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _settle(task)
        raise
    if task.done():
        return answer(task.result())
    return HeldStream(task, relay, failure, interval)

