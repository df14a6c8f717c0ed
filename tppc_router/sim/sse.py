"""Server-sent events: encode payloads as frames, and plan when each frame goes out.

Pure. A :class:`Schedule` is the list of frames plus where the sender pauses or cuts
the connection, which is how stream faults (``cut-after``, ``stall``, ``malformed``,
``no-terminal``, ``slow-first-token``) are expressed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tppc_router.sim.faults import Fault

__all__ = [
    "MALFORMED_CHAT",
    "MALFORMED_RESPONSES",
    "Frame",
    "Schedule",
    "chat_frames",
    "dumps",
    "responses_frames",
    "schedule",
]


@dataclass(frozen=True, slots=True)
class Frame:
    """One SSE event, encoded and ending in its blank line."""

    data: bytes
    delta: bool = False  # carries model output (text or arguments): "a token"
    terminal: bool = False  # ``response.completed`` or ``data: [DONE]``


MALFORMED_RESPONSES = Frame(
    b'event: response.output_text.delta\ndata: {"type": "response.output_text.delta", "delta": \n\n'
)
MALFORMED_CHAT = Frame(b'data: {"object": "chat.completion.chunk", "choices": [{"delta": \n\n')
DONE = Frame(b"data: [DONE]\n\n", terminal=True)


def dumps(payload: Any) -> bytes:
    """Compact JSON, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def responses_frames(events: Iterable[Mapping[str, Any]]) -> list[Frame]:
    """``event: <type>`` + ``data: <json>`` frames for Responses API events."""
    frames = []
    for event in events:
        kind = str(event["type"])
        data = b"event: " + kind.encode() + b"\ndata: " + dumps(event) + b"\n\n"
        frames.append(Frame(data, delta=kind.endswith(".delta"), terminal=kind == "response.completed"))
    return frames


def chat_frames(chunks: Iterable[Mapping[str, Any]]) -> list[Frame]:
    """``data: <json>`` frames for chat chunks, then ``data: [DONE]``."""
    frames = []
    for chunk in chunks:
        choices = chunk.get("choices") or [{}]
        delta = choices[0].get("delta") or {}
        carries = "role" not in delta and ("content" in delta or "tool_calls" in delta)
        frames.append(Frame(b"data: " + dumps(chunk) + b"\n\n", delta=carries))
    frames.append(DONE)
    return frames


@dataclass(frozen=True, slots=True)
class Schedule:
    """How to send ``frames``: ``pauses[i]`` waits before frame ``i`` (``None``: until the
    client leaves); with ``cut``, the connection closes abruptly after ``frames[:cut]``."""

    frames: Sequence[Frame]
    pauses: Mapping[int, float | None] = field(default_factory=dict)
    cut: int | None = None

    def points(self) -> list[int]:
        """Indexes where sending stops to pause or cut, in order, ending with ``len(frames)``."""
        stops = set(self.pauses)
        if self.cut is not None:
            stops.add(self.cut)
        return sorted(i for i in stops if i < len(self.frames)) + [len(self.frames)]


def schedule(frames: Sequence[Frame], fault: Fault | None, *, malformed: Frame, delta_delay: float = 0.0) -> Schedule:
    """Apply a stream fault (or none) to ``frames``; ``delta_delay`` paces every delta."""
    frames = list(frames)
    pauses: dict[int, float | None] = {}
    cut = None
    kind = fault.kind if fault is not None else None
    if fault is not None and kind == "malformed":
        frames.insert(min(fault.malformed_after, len(frames)), malformed)
    elif kind == "no-terminal":
        frames = [frame for frame in frames if not frame.terminal]
    if delta_delay > 0:
        pauses = {i: delta_delay for i, frame in enumerate(frames) if frame.delta}
    if fault is not None and kind == "cut-after":
        cut = min(fault.count or 0, len(frames))
    elif fault is not None and kind == "stall":
        _add(pauses, min(fault.stall_after, len(frames)), fault.seconds)
    elif fault is not None and kind == "slow-first-token":
        first = next((i for i, frame in enumerate(frames) if frame.delta), min(1, len(frames)))
        _add(pauses, first, fault.seconds)
    return Schedule(frames, pauses, cut)


def _add(pauses: dict[int, float | None], index: int, seconds: float | None) -> None:
    current = pauses.get(index, 0.0)
    pauses[index] = None if current is None or seconds is None else current + seconds
