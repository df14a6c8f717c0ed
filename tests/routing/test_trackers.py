"""What counts as a whole stream when the terminal event never came."""

from __future__ import annotations

from typing import Any

from tppc_router.routing.trackers import ResponsesTracker


def events(*types_and_items: tuple[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, (kind, item) in enumerate(types_and_items):
        event: dict[str, Any] = {"type": kind, "output_index": index // 2}
        if item is not None:
            event["item"] = item
        out.append(event)
    return out


def feed(*stream: dict[str, Any]) -> ResponsesTracker[Any]:
    tracker: ResponsesTracker[Any] = ResponsesTracker("p")
    tracker.feed({"type": "response.created", "response": {"id": "resp_1", "output": []}})
    for event in stream:
        tracker.feed(event)
    return tracker


REASONING = {"type": "reasoning", "id": "rs_1"}
MESSAGE = {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "hi"}]}


def test_stream_closed_after_the_reasoning_item_is_not_whole() -> None:
    """A relay that closes between the reasoning item and the answer has not finished."""
    tracker = feed(*events(("response.output_item.added", REASONING), ("response.output_item.done", REASONING)))
    assert not tracker.whole_without_terminal()


def test_stream_closed_inside_the_message_is_not_whole() -> None:
    """An item that was added but never finished makes the stream incomplete."""
    tracker = feed({"type": "response.output_item.added", "output_index": 0, "item": MESSAGE})
    assert not tracker.whole_without_terminal()


def test_stream_with_a_finished_answer_is_whole() -> None:
    """Every item finished and the last one is the answer: whole, and a completion can be synthesized."""
    tracker = feed(
        {"type": "response.output_item.added", "output_index": 0, "item": REASONING},
        {"type": "response.output_item.done", "output_index": 0, "item": REASONING},
        {"type": "response.output_item.added", "output_index": 1, "item": MESSAGE},
        {"type": "response.output_item.done", "output_index": 1, "item": MESSAGE},
    )
    assert tracker.whole_without_terminal()
    completed = tracker.synthesize_completed(7)
    assert completed["response"]["output"] == [REASONING, MESSAGE]
    assert completed["sequence_number"] == 7
