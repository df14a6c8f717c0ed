"""OpenAI-compatible endpoints: ``/v1/responses``, ``/v1/chat/completions``, ``/v1/models``.

``/v1/responses`` is forwarded over raw HTTP (:class:`~tppc_router.routing.senders.HttpxSender`):
the client's body goes to the provider with only ``model`` replaced and the target's
defaults added (:func:`~tppc_router.routing.senders.provider_body`), and every event the
provider streams is relayed byte for byte, in order. The request pipeline the library
uses (:class:`~tppc_router.routing.pipeline.Pipeline`, ``router.pipeline``) picks the
provider, retries, fails over before content, keeps affinity and completes a whole
stream that lacked its terminal event.

``/v1/chat/completions`` goes through litellm (``TppcRouter.acompletion``), which
translates chat to the providers' Responses API.

Every answer names its provider in the ``x-tppc-provider`` header. A stream is
opened (and has survived to its first content) before the HTTP response starts, so
failures before content are ordinary HTTP errors; a failure after content ends the
stream with an ``error`` event (and ``response.failed`` for Responses), never a
silent close.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from tppc_router.routing.engine import Target
from tppc_router.errors import StreamInterruptedError, TppcRouterError
from tppc_router.routing.failover import classify
from tppc_router.masking import mask_text
from tppc_router.routing.router import TppcRouter
from tppc_router.routing.pipeline import Call
from tppc_router.routing.senders import HttpxSender
from tppc_router.routing.stream import FailoverStream
from tppc_router.routing.trackers import PREAMBLE, ResponsesTracker, SSEEvent
from tppc_router.server.deps import JsonBody, RuntimeDep, require_api_key
from tppc_router.server.validation import check_chat, check_responses
from tppc_router.server.errors import PROVIDER_HEADER, GatewayError, ProviderRejected, error_body, masked
from tppc_router.server.holdback import SSE_HEADERS, chat_failure, open_held, responses_failure

__all__ = ["CHAT_PARAMETERS", "FORWARDED_HEADERS", "router"]

router = APIRouter(prefix="/v1", tags=["gateway"], dependencies=[Depends(require_api_key)])

# Client headers a provider may see. Never: authorization, host, cookies, hop-by-hop, x-sim-*.
FORWARDED_HEADERS = frozenset(
    {"user-agent", "originator", "openai-beta", "session_id", "session-id", "thread-id", "conversation_id",
     "x-client-request-id"}
)
_FORWARDED_PREFIXES = ("x-codex-",)

# The chat-completions fields passed on to litellm; anything else is refused, so a
# client cannot reach litellm's own keyword arguments (api_base, api_key, ...).
CHAT_PARAMETERS = frozenset(
    {"stream", "stream_options", "temperature", "top_p", "n", "stop", "max_tokens", "max_completion_tokens",
     "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "tools",
     "tool_choice", "parallel_tool_calls", "response_format", "seed", "reasoning_effort", "store", "service_tier",
     "prompt_cache_key", "safety_identifier", "verbosity", "functions", "function_call"}
)


# --------------------------------------------------------------------------- request checks


def requested_model(body: Mapping[str, Any]) -> str:
    """The body's ``model``; 400 when it is missing or not a non-empty string."""
    model = body.get("model")
    if model is None:
        raise GatewayError("you must provide a model parameter", status_code=400, param="model",
                           code="missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise GatewayError("model must be a non-empty string", status_code=400, param="model", code="invalid_type")
    return model


def targets_for(tppc: TppcRouter, model: str) -> list[Target]:
    """The providers serving ``model``; 404 listing the models that exist otherwise."""
    targets = tppc.targets(model)
    if not targets:
        available = tppc.model_groups()
        raise GatewayError(
            f"The model `{model}` does not exist. Available models: {', '.join(available) or 'none'}.",
            status_code=404, param="model", code="model_not_found", extra={"available_models": available},
        )
    return targets


def forwarded_headers(request: Request) -> dict[str, str]:
    """The client headers a provider may see (:data:`FORWARDED_HEADERS` and ``x-codex-*``)."""
    return {k: v for k, v in request.headers.items() if k in FORWARDED_HEADERS or k.startswith(_FORWARDED_PREFIXES)}


def _stream_flag(body: Mapping[str, Any]) -> bool:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise GatewayError("stream must be a boolean", status_code=400, param="stream", code="invalid_type")
    return stream


# --------------------------------------------------------------------------- SSE responses


def sse(event: str | None, payload: Mapping[str, Any]) -> bytes:
    """One server-sent event: ``event: <name>`` (if any) and ``data: <json>``."""
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class EventStream(StreamingResponse):
    """An SSE response that always closes the provider's stream: at the end, on
    error, and when the client goes away first."""

    def __init__(self, upstream: FailoverStream[Any], content: AsyncIterator[bytes]) -> None:
        headers = {PROVIDER_HEADER: upstream.provider, **SSE_HEADERS}
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self._upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._upstream.aclose()


# --------------------------------------------------------------------------- /v1/responses


def _rejected(exc: httpx.HTTPStatusError, provider: str | None) -> ProviderRejected:
    response = exc.response
    return ProviderRejected(response.status_code, response.content, provider=provider,
                            content_type=response.headers.get("content-type", "application/json"))


async def _answer(call: Call[httpx.Response, SSEEvent], sender: HttpxSender) -> Response:
    try:
        result, target, _ = await call.send(sender)
    except httpx.HTTPStatusError as exc:
        raise _rejected(exc, call.tried) from None
    return Response(result.content, status_code=result.status_code,
                    media_type=result.headers.get("content-type", "application/json"),
                    headers={PROVIDER_HEADER: target.provider})


async def _open(call: Call[httpx.Response, SSEEvent], sender: HttpxSender) -> FailoverStream[Any]:
    try:
        return await call.stream(sender)
    except httpx.HTTPStatusError as exc:
        raise _rejected(exc, call.tried) from None


def _relay(stream: FailoverStream[Any]) -> AsyncIterator[bytes]:
    tracker = stream.tracker
    assert isinstance(tracker, ResponsesTracker)
    return _relay_responses(stream, tracker)


async def _stream(call: Call[httpx.Response, SSEEvent], sender: HttpxSender, model: str,
                  keepalive: float) -> Response:
    """Headers within a second, keep-alives while held back (:mod:`tppc_router.server.holdback`)."""
    return await open_held(_open(call, sender), relay=_relay, failure=responses_failure(model), interval=keepalive,
                           answer=lambda stream: EventStream(stream, _relay(stream)))


async def _relay_responses(stream: FailoverStream[SSEEvent], tracker: ResponsesTracker[SSEEvent]
                           ) -> AsyncIterator[bytes]:
    """The provider's events as they came (and the pipeline's ``response.completed`` for a whole
    stream that lacked one), or ``error`` + ``response.failed`` after them for a cut one."""
    preamble: list[bytes] | None = []  # the events held back until content, sent in one write with it
    pending: list[bytes] = []  # events that arrived together, sent in one write
    try:
        async for event in stream:
            if preamble is None:
                pending.append(event.raw)
                if not event.more:
                    yield b"".join(pending)
                    pending.clear()
            elif event.type in PREAMBLE:
                preamble.append(event.raw)
            else:
                pending.extend(preamble)
                pending.append(event.raw)
                preamble = None
                if not event.more:
                    yield b"".join(pending)
                    pending.clear()
        if preamble or pending:
            yield b"".join((preamble or []) + pending)
    except StreamInterruptedError as exc:
        if preamble or pending:
            yield b"".join((preamble or []) + pending)
        next_number = tracker.next_sequence
        message = mask_text(exc.message)
        yield sse("error", {"type": "error", "code": "stream_interrupted", "message": message, "param": None,
                            "sequence_number": next_number})
        response = {**(tracker.created or {}), "status": "failed",
                    "error": {"code": "server_error", "message": message},
                    "output": [item for _, item in sorted(tracker.done_items, key=lambda pair: pair[0])]}
        yield sse("response.failed", {"type": "response.failed", "response": response,
                                      "sequence_number": next_number + 1})


@router.post("/responses")
async def create_response(request: Request, body: JsonBody, runtime: RuntimeDep) -> Response:
    """A Responses API call, forwarded to the first provider that answers."""
    check_responses(body)
    model = requested_model(body)
    stream = _stream_flag(body)
    targets = targets_for(runtime.router, model)
    call: Call[httpx.Response, SSEEvent] = runtime.router.pipeline.call(model, targets, body, responses=True)
    sender = HttpxSender(runtime.get_upstream(), headers=forwarded_headers(request))
    if stream:
        return await _stream(call, sender, model, runtime.settings.server.stream_keepalive)
    return await _answer(call, sender)


# --------------------------------------------------------------------------- /v1/chat/completions


def _embedded_error(text: str) -> dict[str, Any] | None:
    """The provider's ``{"error": {...}}`` body that litellm quotes in its message, if any."""
    start = text.find('{"error"')
    if start == -1:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None
    return value if isinstance(value, dict) and isinstance(value.get("error"), dict) else None


def _chat_rejected(exc: Exception) -> ProviderRejected | None:
    """A provider's own refusal relayed by litellm (4xx): the provider's error body
    when litellm quotes it, else one built from the message. None for anything else."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or not 400 <= status < 500:
        return None
    failure = classify(exc)
    body = _embedded_error(str(getattr(exc, "message", "") or exc)) or error_body(
        failure.message, type="invalid_request_error", code=failure.provider_code)
    return ProviderRejected(status, json.dumps(masked(body)).encode(), provider=None)


async def _relay_chat(stream: FailoverStream[Any]) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            yield b"data: " + chunk.model_dump_json(exclude_none=True).encode() + b"\n\n"
    except StreamInterruptedError as exc:
        yield sse(None, masked(exc.body))
        return
    yield b"data: [DONE]\n\n"


async def _chat(tppc: TppcRouter, model: str, messages: Any, kwargs: dict[str, Any]) -> Any:
    """``acompletion``, with a provider's own refusal relayed as :class:`ProviderRejected`."""
    try:
        return await tppc.acompletion(model, messages, **kwargs)
    except TppcRouterError:
        raise
    except Exception as exc:
        rejected = _chat_rejected(exc)
        if rejected is None:
            raise
        raise rejected from None


@router.post("/chat/completions")
async def create_chat_completion(body: JsonBody, runtime: RuntimeDep) -> Response:
    """A chat completion through litellm, which speaks the providers' Responses API."""
    model = requested_model(body)
    stream = _stream_flag(body)
    check_chat(body)
    messages = body["messages"]
    unknown = sorted(set(body) - CHAT_PARAMETERS - {"model", "messages"})
    if unknown:
        raise GatewayError(f"Unrecognized request argument supplied: {', '.join(unknown)}", status_code=400,
                           param=unknown[0], code="unknown_parameter")
    tppc = runtime.router
    targets_for(tppc, model)
    kwargs = {k: v for k, v in body.items() if k in CHAT_PARAMETERS}
    if stream:
        return await open_held(_chat(tppc, model, messages, kwargs), relay=_relay_chat, failure=chat_failure,
                               interval=runtime.settings.server.stream_keepalive,
                               answer=lambda opened: EventStream(opened, _relay_chat(opened)))
    result = await _chat(tppc, model, messages, kwargs)
    provider = str(result._hidden_params.get("tppc_provider", ""))
    return Response(result.model_dump_json(exclude_none=True), media_type="application/json",
                    headers={PROVIDER_HEADER: provider})


# --------------------------------------------------------------------------- /v1/models


@router.get("/models")
async def list_models(runtime: RuntimeDep) -> Response:
    """Every model group and pinned ``<provider>/<model>`` group, in the OpenAI list shape."""
    created = runtime.started_at
    data = [{"id": group, "object": "model", "created": created, "owned_by": "tppc-router"}
            for group in runtime.router.model_groups()]
    return JSONResponse({"object": "list", "data": data})
