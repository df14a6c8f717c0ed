"""Pure builders: the planned answer, SSE frames and how faults schedule them."""

from __future__ import annotations

from sim_helpers import event_types

from tppc_router.sim import Fault
from tppc_router.sim.chat import chat_chunks
from tppc_router.sim.plan import build_answer, last_user_text, split_words
from tppc_router.sim.responses import response_events
from tppc_router.sim.sse import MALFORMED_RESPONSES, Schedule, chat_frames, responses_frames, schedule


def frames_for(body: dict[str, object]) -> list[bytes]:
    """Encoded Responses frames for a request body."""
    answer = build_answer("p", body, body_size=100)
    return [frame.data for frame in responses_frames(response_events(answer, body))]


def test_split_words_joins_back() -> None:
    """Deltas are words with their leading space and join back to the text exactly."""
    assert split_words("Hello from p.  ok ") == ("Hello", " from", " p.", "  ok ")
    assert split_words("") == ()
    assert "".join(split_words(" a\nb ")) == " a\nb "


def test_last_user_text_shapes() -> None:
    """The echo reads string input, Responses items and chat messages, skipping other items."""
    assert last_user_text({"input": "plain"}) == "plain"
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "no"}]},
        {"type": "function_call_output", "call_id": "c", "output": "x"},
    ]
    assert last_user_text({"input": items}) == "second"
    assert last_user_text({"messages": [{"role": "user", "content": "chat"}]}) == "chat"
    assert last_user_text({"input": 3}) == ""


def test_answer_text_is_deterministic_and_clipped() -> None:
    """The default answer names the provider and echoes 40 characters of the user text."""
    answer = build_answer("backup", {"model": "m", "input": "x" * 100}, body_size=10)
    assert answer.text == "Hello from backup. You said: " + "x" * 40
    assert build_answer("b", {"model": "m"}, body_size=10).text == "Hello from b."


def test_sequence_numbers_and_terminal() -> None:
    """Events are numbered from 0 and only ``response.completed`` is terminal."""
    body = {"model": "m", "input": "hi", "reasoning": {"effort": "low"}}
    answer = build_answer("p", body, body_size=10)
    events = response_events(answer, body)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    frames = responses_frames(events)
    assert [f.terminal for f in frames].count(True) == 1 and frames[-1].terminal
    assert all(f.data.startswith(b"event: ") and f.data.endswith(b"\n\n") for f in frames)


def test_chat_frames_end_with_done() -> None:
    """Chat frames end with ``[DONE]``; only content chunks count as deltas."""
    answer = build_answer("p", {"model": "m", "messages": []}, body_size=10)
    frames = chat_frames(chat_chunks(answer, include_usage=True))
    assert frames[-1].data == b"data: [DONE]\n\n" and frames[-1].terminal
    assert not frames[0].delta and frames[1].delta
    assert sum(f.delta for f in frames) == len(answer.deltas)


def test_schedule_applies_stream_faults() -> None:
    """Each stream fault becomes a cut, a pause, an inserted frame or a dropped terminal."""
    body = {"model": "m", "input": "hi"}
    answer = build_answer("p", body, body_size=10)
    frames = responses_frames(response_events(answer, body))
    first_delta = next(i for i, f in enumerate(frames) if f.delta)

    def plan(spec: str | None, delay: float = 0.0) -> Schedule:
        return schedule(frames, Fault.parse(spec) if spec else None, malformed=MALFORMED_RESPONSES, delta_delay=delay)

    assert plan(None).cut is None and not plan(None).pauses
    assert plan("cut-after:4").cut == 4
    assert plan("cut-after:999").cut == len(frames)
    assert plan("stall").pauses == {3: None}
    assert plan("stall:1,seconds=2").pauses == {1: 2.0}
    assert plan("slow-first-token:1.5").pauses == {first_delta: 1.5}
    assert plan("slow-first-token:1", delay=0.5).pauses[first_delta] == 1.5
    assert list(plan("malformed:2").frames) == [*frames[:2], MALFORMED_RESPONSES, *frames[2:]]
    assert [f for f in plan("no-terminal").frames if f.terminal] == []
    assert plan("status:500").frames == frames
    assert plan("no-response").points() == [len(frames)]
    text = b"".join(f.data for f in plan("malformed:0").frames).decode()
    assert event_types(text)[0] == "<malformed>"
