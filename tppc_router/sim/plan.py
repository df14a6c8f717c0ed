"""What the simulated model answers: text, reasoning, tool call, usage and ids.

Pure: a request body in, an :class:`Answer` out. The text is deterministic
(``"Hello from primary. You said: <first 40 chars of the last user text>"``), so
tests can compare it; ids are random (``resp_<hex>``, ``msg_<hex>``, ...).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "FunctionCall", "build_answer", "last_user_text", "split_words"]

ECHO_CHARS = 40
REASONING_SUMMARY = "**Planning the reply**\n\nThe simulator writes a short, fixed answer."
DEFAULT_TOOL = "shell"


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """One function call the model makes: ``name(arguments)``."""

    name: str
    arguments: str
    call_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class Answer:
    """Everything one simulated reply says, ready for either wire format."""

    model: str
    text: str
    deltas: tuple[str, ...]
    reasoning: tuple[str, ...] | None  # summary deltas, when the request asked for reasoning
    encrypted_content: str | None  # when ``include`` asked for ``reasoning.encrypted_content``
    function_call: FunctionCall | None
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    created_at: int
    response_id: str
    message_id: str
    reasoning_id: str

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def summary_text(self) -> str:
        return "".join(self.reasoning or ())


def new_id(prefix: str) -> str:
    """``prefix`` + 32 random hex digits, like ``resp_0f3a...``."""
    return prefix + os.urandom(16).hex()


def split_words(text: str) -> tuple[str, ...]:
    """Split text into deltas, one word each with its leading whitespace; joins back exactly."""
    words = re.findall(r"\s*\S+", text)
    if not words:
        return (text,) if text else ()
    words[-1] += text[len("".join(words)) :]
    return tuple(words)


def last_user_text(body: Mapping[str, Any]) -> str:
    """The text of the last user turn in a Responses ``input`` or a chat ``messages`` list."""
    items = body.get("input", body.get("messages"))
    if isinstance(items, str):
        return items
    if not isinstance(items, list):
        return ""
    for item in reversed(items):
        if isinstance(item, dict) and item.get("role") == "user":
            return _content_text(item.get("content"))
    return ""


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [part.get("text") for part in content if isinstance(part, dict)]
    return " ".join(part for part in parts if isinstance(part, str))


def first_function_name(body: Mapping[str, Any]) -> str:
    """The first function tool's name (Responses or chat tool shape), else ``"shell"``."""
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue
        function = tool.get("function")
        name = function.get("name") if isinstance(function, dict) else tool.get("name")
        if isinstance(name, str) and name:
            return name
    return DEFAULT_TOOL


def default_text(name: str, body: Mapping[str, Any]) -> str:
    """``Hello from <name>.`` plus an echo of the start of the last user text."""
    said = " ".join(last_user_text(body).split())[:ECHO_CHARS]
    return f"Hello from {name}. You said: {said}" if said else f"Hello from {name}."


def build_answer(
    name: str,
    body: Mapping[str, Any],
    *,
    body_size: int,
    text: str | None = None,
    function_call: bool = False,
) -> Answer:
    """Plan the reply to ``body`` (a parsed Responses or chat request of ``body_size`` bytes)."""
    answer_text = default_text(name, body) if text is None else text
    deltas = split_words(answer_text)
    reasoning = split_words(REASONING_SUMMARY) if body.get("reasoning") is not None else None
    response_id = new_id("resp_")
    include = body.get("include")
    encrypted = None
    if reasoning is not None and isinstance(include, list) and "reasoning.encrypted_content" in include:
        encrypted = base64.b64encode(f"sim:{name}:{response_id}".encode()).decode()
    call = None
    if function_call:
        arguments = json.dumps({"command": ["echo", f"hello from {name}"]})
        call = FunctionCall(first_function_name(body), arguments, new_id("call_")[:29], new_id("fc_"))
    reasoning_tokens = 4 * len(reasoning) if reasoning else 0
    output_tokens = len(deltas) + reasoning_tokens + (len(call.arguments) // 4 if call else 0)
    return Answer(
        model=str(body.get("model", "")),
        text=answer_text,
        deltas=deltas,
        reasoning=reasoning,
        encrypted_content=encrypted,
        function_call=call,
        input_tokens=max(1, body_size // 4),
        output_tokens=max(1, output_tokens),
        reasoning_tokens=reasoning_tokens,
        created_at=int(time.time()),
        response_id=response_id,
        message_id=new_id("msg_"),
        reasoning_id=new_id("rs_"),
    )
