"""OpenAI Responses API payloads: the ``response`` object and its stream of events.

Pure builders. The event sequence is what Codex CLI and the openai SDK expect::

    response.created, response.in_progress,
    [reasoning]  output_item.added, reasoning_summary_part.added,
                 reasoning_summary_text.delta..., reasoning_summary_text.done,
                 reasoning_summary_part.done, output_item.done
    [message]    output_item.added, content_part.added, output_text.delta...,
                 output_text.done, content_part.done, output_item.done
    [function]   output_item.added, function_call_arguments.delta...,
                 function_call_arguments.done, output_item.done
    response.completed

The reasoning item appears only when the request has ``reasoning``; the function
call only when asked for (it follows the message, as a model's tool call follows
its commentary).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tppc_router.sim.plan import Answer

__all__ = ["response_events", "response_object"]

Event = dict[str, Any]
_ARGUMENT_CHUNK = 12

# request fields a real response echoes back, with the value used when absent
_ECHOED: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt_cache_key": None,
    "safety_identifier": None,
    "service_tier": "default",
    "temperature": 1.0,
    "text": {"format": {"type": "text"}, "verbosity": "medium"},
    "tool_choice": "auto",
    "tools": [],
    "top_logprobs": 0,
    "top_p": 1.0,
    "truncation": "disabled",
    "user": None,
}


def response_object(
    answer: Answer, request: Mapping[str, Any], *, status: str = "completed", done: bool = True
) -> dict[str, Any]:
    """The ``response`` object: complete with output and usage, or (``done=False``) just started."""
    body: dict[str, Any] = {
        "id": answer.response_id,
        "object": "response",
        "created_at": answer.created_at,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "model": answer.model,
        "output": _output(answer) if done else [],
        "reasoning": request.get("reasoning") or {"effort": None, "summary": None},
        "store": request.get("store", True),
        "usage": _usage(answer) if done else None,
    }
    for key, default in _ECHOED.items():
        body[key] = request.get(key, default)
    if done:
        body["completed_at"] = answer.created_at
    return body


def response_events(answer: Answer, request: Mapping[str, Any]) -> list[Event]:
    """Every stream event for ``answer``, numbered by ``sequence_number`` from 0."""
    started = response_object(answer, request, status="in_progress", done=False)
    events: list[Event] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
    ]
    index = 0
    if answer.reasoning is not None:
        events += _reasoning_events(answer, index)
        index += 1
    events += _message_events(answer, index)
    index += 1
    if answer.function_call is not None:
        events += _function_events(answer, index)
    events.append({"type": "response.completed", "response": response_object(answer, request)})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


def _output(answer: Answer) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if answer.reasoning is not None:
        items.append(_reasoning_item(answer, done=True))
    items.append(_message_item(answer, done=True))
    if answer.function_call is not None:
        items.append(_function_item(answer, done=True))
    return items


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": answer.output_tokens,
        "output_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
        "total_tokens": answer.total_tokens,
    }


def _reasoning_item(answer: Answer, *, done: bool) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": answer.summary_text}] if done else []
    item: dict[str, Any] = {"id": answer.reasoning_id, "type": "reasoning", "summary": summary}
    if done and answer.encrypted_content is not None:
        item["encrypted_content"] = answer.encrypted_content
    return item


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _message_item(answer: Answer, *, done: bool) -> dict[str, Any]:
    return {
        "id": answer.message_id,
        "type": "message",
        "status": "completed" if done else "in_progress",
        "role": "assistant",
        "content": [_text_part(answer.text)] if done else [],
    }


def _function_item(answer: Answer, *, done: bool) -> dict[str, Any]:
    call = answer.function_call
    assert call is not None
    return {
        "id": call.item_id,
        "type": "function_call",
        "status": "completed" if done else "in_progress",
        "name": call.name,
        "call_id": call.call_id,
        "arguments": call.arguments if done else "",
    }


def _reasoning_events(answer: Answer, index: int) -> list[Event]:
    where = {"item_id": answer.reasoning_id, "output_index": index, "summary_index": 0}
    text = answer.summary_text
    return [
        {"type": "response.output_item.added", "output_index": index, "item": _reasoning_item(answer, done=False)},
        {"type": "response.reasoning_summary_part.added", **where, "part": {"type": "summary_text", "text": ""}},
        *({"type": "response.reasoning_summary_text.delta", **where, "delta": d} for d in answer.reasoning or ()),
        {"type": "response.reasoning_summary_text.done", **where, "text": text},
        {"type": "response.reasoning_summary_part.done", **where, "part": {"type": "summary_text", "text": text}},
        {"type": "response.output_item.done", "output_index": index, "item": _reasoning_item(answer, done=True)},
    ]


def _message_events(answer: Answer, index: int) -> list[Event]:
    where = {"item_id": answer.message_id, "output_index": index, "content_index": 0}
    return [
        {"type": "response.output_item.added", "output_index": index, "item": _message_item(answer, done=False)},
        {"type": "response.content_part.added", **where, "part": _text_part("")},
        *({"type": "response.output_text.delta", **where, "delta": d, "logprobs": []} for d in answer.deltas),
        {"type": "response.output_text.done", **where, "text": answer.text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": _text_part(answer.text)},
        {"type": "response.output_item.done", "output_index": index, "item": _message_item(answer, done=True)},
    ]


def _function_events(answer: Answer, index: int) -> list[Event]:
    call = answer.function_call
    assert call is not None
    where = {"item_id": call.item_id, "output_index": index}
    pieces = [call.arguments[i : i + _ARGUMENT_CHUNK] for i in range(0, len(call.arguments), _ARGUMENT_CHUNK)]
    return [
        {"type": "response.output_item.added", "output_index": index, "item": _function_item(answer, done=False)},
        *({"type": "response.function_call_arguments.delta", **where, "delta": piece} for piece in pieces),
        {"type": "response.function_call_arguments.done", **where, "name": call.name, "arguments": call.arguments},
        {"type": "response.output_item.done", "output_index": index, "item": _function_item(answer, done=True)},
    ]
