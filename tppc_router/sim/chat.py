"""OpenAI chat completions payloads: ``chat.completion`` and its ``chat.completion.chunk`` stream.

Pure builders. A stream is: a chunk with the role, one chunk per content delta,
tool-call chunks when a function call was asked for, a chunk with ``finish_reason``,
then (with ``stream_options.include_usage``) a usage chunk with no choices. The
``data: [DONE]`` line is the transport's business (:mod:`tppc_router.sim.sse`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tppc_router.sim.plan import Answer

__all__ = ["chat_chunks", "chat_completion", "wants_usage"]

Chunk = dict[str, Any]
_ARGUMENT_CHUNK = 12


def chat_completion(answer: Answer) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object, with usage."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None, "annotations": []}
    if answer.function_call is not None:
        message["tool_calls"] = [_tool_call(answer, answer.function_call.arguments)]
    return {
        **_envelope(answer, "chat.completion"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(answer)}],
        "usage": _usage(answer),
    }


def wants_usage(request: Mapping[str, Any]) -> bool:
    """Did the request ask for a usage chunk (``stream_options.include_usage``)?"""
    options = request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def chat_chunks(answer: Answer, *, include_usage: bool) -> list[Chunk]:
    """Every ``chat.completion.chunk`` of the stream, in order (without ``[DONE]``)."""
    chunks = [_chunk(answer, {"role": "assistant", "content": "", "refusal": None}, include_usage)]
    chunks += [_chunk(answer, {"content": delta}, include_usage) for delta in answer.deltas]
    call = answer.function_call
    if call is not None:
        chunks.append(_chunk(answer, {"tool_calls": [{"index": 0, **_tool_call(answer, "")}]}, include_usage))
        for start in range(0, len(call.arguments), _ARGUMENT_CHUNK):
            piece = call.arguments[start : start + _ARGUMENT_CHUNK]
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            chunks.append(_chunk(answer, delta, include_usage))
    chunks.append(_chunk(answer, {}, include_usage, finish_reason=_finish(answer)))
    if include_usage:
        chunks.append({**_envelope(answer, "chat.completion.chunk"), "choices": [], "usage": _usage(answer)})
    return chunks


def _envelope(answer: Answer, kind: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + answer.response_id.removeprefix("resp_"),
        "object": kind,
        "created": answer.created_at,
        "model": answer.model,
        "system_fingerprint": None,
        "service_tier": "default",
    }


def _chunk(answer: Answer, delta: dict[str, Any], include_usage: bool, finish_reason: str | None = None) -> Chunk:
    chunk = {
        **_envelope(answer, "chat.completion.chunk"),
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if include_usage:
        chunk["usage"] = None
    return chunk


def _tool_call(answer: Answer, arguments: str) -> dict[str, Any]:
    call = answer.function_call
    assert call is not None
    return {"id": call.call_id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


def _finish(answer: Answer) -> str:
    return "tool_calls" if answer.function_call is not None else "stop"


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
    }
