"""What a stream has delivered: content started, terminal seen, text so far.

The failover engine buffers a stream's preamble (``response.created`` and the
like) until the first content arrives, so a failure before content fails over
without the caller ever seeing the dead provider. A tracker per stream decides
what counts as content, what is terminal, and whether a stream that ended
without its terminal event is still whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from tppc_router.errors import ProviderError
from tppc_router.masking import mask_text

__all__ = [
    "ChatTracker",
    "ResponsesTracker",
    "SSEEvent",
    "StreamTracker",
    "event_view",
    "failure_from_error_event",
]

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

PREAMBLE = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_summary_part.added",
    }
)
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})
ERROR_TERMINAL = frozenset({"response.failed", "error"})
TEXT_DELTAS = frozenset({"response.output_text.delta"})


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One raw server-sent event as received: forwarded byte for byte."""

    raw: bytes
    event: str | None
    data: str
    parsed: Mapping[str, Any] | None = None
    more: bool = False  # another event arrived in the same read and follows at once
    kind: str = ""  # the event's type, when the parser already knows it

    @property
    def type(self) -> str:
        if self.kind:
            return self.kind
        if self.parsed is not None and isinstance(self.parsed.get("type"), str):
            return str(self.parsed["type"])
        return self.event or ""


class StreamTracker(Protocol[T_contra]):
    content_started: bool
    terminal: bool
    failure: ProviderError | None
    text: str

    def feed(self, item: T_contra) -> None: ...

    def whole_without_terminal(self) -> bool:
        """On a clean end with no terminal event: is what went out complete?"""
        ...


def event_view(item: Any) -> tuple[str, Mapping[str, Any]]:
    """(type, payload) of a Responses event: a raw :class:`SSEEvent`, a dict, or a
    litellm/openai typed event."""
    if isinstance(item, SSEEvent):
        return item.type, item.parsed or {}
    if isinstance(item, Mapping):
        return str(item.get("type", "")), item
    kind = getattr(item, "type", "")
    kind = getattr(kind, "value", kind)
    dump = getattr(item, "model_dump", None)
    payload: Mapping[str, Any] = dump() if callable(dump) else {}
    return str(kind), payload


_RATE_CODES = ("rate_limit", "rate-limit", "too_many_requests", "quota")
_INVALID_CODES = ("context_length", "content_policy", "invalid_request", "invalid_prompt", "content_filter")


def failure_from_error_event(provider: str, payload: Mapping[str, Any]) -> ProviderError:
    """Turn an in-stream ``error`` / ``response.failed`` event into a classified error."""
    error: Any = payload.get("error")
    if error is None and isinstance(payload.get("response"), Mapping):
        error = payload["response"].get("error")
    if not isinstance(error, Mapping):
        error = payload
    code = str(error.get("code") or error.get("type") or "")
    message = mask_text(str(error.get("message") or code or "stream reported an error"))
    lowered = code.lower()
    if any(c in lowered for c in _RATE_CODES):
        kind, status = "rate_limited", 429
    elif any(c in lowered for c in _INVALID_CODES):
        kind, status = "invalid_request", 400
    else:
        kind, status = "server_error", 502
    body = {"error": {"message": message, "type": str(error.get("type") or "api_error"), "code": code or None}}
    return ProviderError(f"{provider}: {message}", provider=provider, status_code=status, kind=kind, body=body)


@dataclass
class ResponsesTracker(Generic[T]):
    """Tracks a Responses API event stream (raw or typed)."""

    provider: str
    content_started: bool = False
    terminal: bool = False
    failure: ProviderError | None = None
    text: str = ""
    created: Mapping[str, Any] | None = None
    usage: Any = None
    open_items: set[int] = field(default_factory=set)
    done_items: list[tuple[int, Any]] = field(default_factory=list)
    next_sequence: int = 0  # the sequence_number an event we add after the provider's would carry
    final: Mapping[str, Any] | None = None  # the response of the terminal event (completed/incomplete/failed)

    def feed(self, item: T) -> None:
        kind, payload = event_view(item)
        number = payload.get("sequence_number")
        self.next_sequence = number + 1 if isinstance(number, int) else self.next_sequence + 1
        if kind == "response.created":
            response = payload.get("response")
            self.created = response if isinstance(response, Mapping) else None
        elif kind == "response.output_item.added":
            self.open_items.add(int(payload.get("output_index", 0) or 0))
        elif kind == "response.output_item.done":
            index = int(payload.get("output_index", 0) or 0)
            self.open_items.discard(index)
            self.done_items.append((index, payload.get("item")))
        elif kind in TEXT_DELTAS:
            self.text += str(payload.get("delta") or "")
        if kind in TERMINAL:
            self.terminal = True
            response = payload.get("response")
            if isinstance(response, Mapping):
                self.final = response
            if isinstance(response, Mapping) and response.get("usage") is not None:
                self.usage = response.get("usage")
            if kind in ERROR_TERMINAL and not self.content_started:
                self.failure = failure_from_error_event(self.provider, payload)
        if kind not in PREAMBLE:
            self.content_started = True

    def whole_without_terminal(self) -> bool:
        """Every item that was started is done, and the last one is an answer (a message or
        a tool call), not reasoning: a relay that closes between items has not finished."""
        if not self.done_items or self.open_items:
            return False
        _, last = max(self.done_items, key=lambda pair: pair[0])
        kind = last.get("type") if isinstance(last, Mapping) else getattr(last, "type", None)
        return kind not in (None, "reasoning")

    def synthesize_completed(self, sequence_number: int | None) -> dict[str, Any]:
        """A ``response.completed`` built from what was delivered (no usage was sent)."""
        response = dict(self.created or {})
        response["status"] = "completed"
        response["output"] = [item for _, item in sorted(self.done_items, key=lambda p: p[0])]
        response.setdefault("usage", self.usage)
        event: dict[str, Any] = {"type": "response.completed", "response": response}
        if sequence_number is not None:
            event["sequence_number"] = sequence_number
        return event


@dataclass
class ChatTracker(Generic[T]):
    """Tracks a chat-completions chunk stream (litellm ``ModelResponseStream``)."""

    provider: str
    content_started: bool = False
    terminal: bool = False
    failure: ProviderError | None = None
    text: str = ""
    finished: bool = False

    def feed(self, item: T) -> None:
        for choice in getattr(item, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            content = getattr(delta, "content", None) if delta is not None else None
            if content:
                self.text += content
                self.content_started = True
            if delta is not None and (getattr(delta, "tool_calls", None) or getattr(delta, "reasoning_content", None)):
                self.content_started = True
            if getattr(choice, "finish_reason", None):
                self.finished = True
                self.content_started = True

    def whole_without_terminal(self) -> bool:
        return self.finished


def parse_sse_data(data: str) -> Mapping[str, Any] | None:
    """JSON payload of an SSE ``data:`` field, or None when it is not JSON."""
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, Mapping) else None
