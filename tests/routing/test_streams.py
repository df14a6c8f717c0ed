"""Stream rules: transparent failover before content, a clear interruption after."""

from __future__ import annotations

import time

import pytest

from tppc_router.errors import StreamInterruptedError
from tppc_router.sim import Fault, ProviderSimulator

from .conftest import MESSAGES, RouterFactory, calls


def chat_text(stream: object) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)  # type: ignore[attr-defined]


def test_chat_stream_from_primary(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """A healthy stream comes whole from the primary, and says so."""
    router = make_router()
    stream = router.completion(model="gpt-5", messages=MESSAGES, stream=True)
    assert "Hello from primary" in chat_text(stream)
    assert stream.provider == "primary"


@pytest.mark.parametrize("fault", ["status:500", "reset", "cut-after:2"])
def test_failure_before_content_fails_over_transparently(make_router: RouterFactory,
                                                         sims: dict[str, ProviderSimulator], fault: str) -> None:
    """A stream that fails before any content reached the caller continues from the backup, unseen."""
    sims["primary"].set_fault(Fault.parse(fault))
    router = make_router()
    stream = router.responses(model="gpt-5", input="hi", stream=True)
    events = list(stream)
    types = [str(getattr(e.type, "value", e.type)) for e in events]
    assert types.count("response.created") == 1
    assert types[-1] == "response.completed"
    assert stream.provider == "backup"


def test_silent_stream_fails_over_within_first_byte_timeout(make_router: RouterFactory,
                                                            sims: dict[str, ProviderSimulator]) -> None:
    """No headers and no first event within first-byte-timeout: fail over, never retry the silent one."""
    sims["primary"].set_fault(Fault.parse("no-response"))
    router = make_router(router={"first-byte-timeout": 0.5})
    started = time.monotonic()
    stream = router.completion(model="gpt-5", messages=MESSAGES, stream=True)
    assert "Hello from backup" in chat_text(stream)
    assert time.monotonic() - started < 0.5 + 1.0
    assert calls(sims["primary"]) == 1


def test_first_token_timeout_fails_over(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """With first-token-timeout set, a stream that opens but sends no output fails over."""
    sims["primary"].set_fault(Fault.parse("slow-first-token:5"))
    router = make_router(router={"first-token-timeout": 0.5})
    stream = router.responses(model="gpt-5", input="hi", stream=True)
    list(stream)
    assert stream.provider == "backup"


def test_slow_first_token_is_waited_for_by_default(make_router: RouterFactory,
                                                   sims: dict[str, ProviderSimulator]) -> None:
    """first-token-timeout is off by default: a slow but alive provider is not abandoned."""
    sims["primary"].set_fault(Fault.parse("slow-first-token:0.6"))
    router = make_router(router={"first-byte-timeout": 0.3})
    stream = router.responses(model="gpt-5", input="hi", stream=True)
    list(stream)
    assert stream.provider == "primary"


def test_cut_after_content_raises_stream_interrupted(make_router: RouterFactory,
                                                     sims: dict[str, ProviderSimulator]) -> None:
    """Once content reached the caller, a cut ends the stream with StreamInterruptedError and the text so far."""
    sims["primary"].set_fault(Fault.parse("cut-after:22"))  # after reasoning and three text deltas
    router = make_router()
    stream = router.responses(model="gpt-5", input="hi", stream=True)
    with pytest.raises(StreamInterruptedError) as info:
        for _ in stream:
            pass
    assert info.value.provider == "primary"
    assert info.value.text and "Hello from primary. You said: hi".startswith(info.value.text)
    assert calls(sims["backup"]) == 0


def test_stall_mid_stream_ends_after_idle_timeout(make_router: RouterFactory,
                                                  sims: dict[str, ProviderSimulator]) -> None:
    """A stream that goes silent mid-way longer than stream-idle-timeout is ended as interrupted."""
    sims["primary"].set_fault(Fault.parse("stall:12"))
    router = make_router(router={"stream-idle-timeout": 0.5})
    stream = router.responses(model="gpt-5", input="hi", stream=True)
    started = time.monotonic()
    with pytest.raises(StreamInterruptedError) as info:
        list(stream)
    assert info.value.kind == "stream_idle"
    assert time.monotonic() - started < 3


def test_chat_cut_after_content_is_never_completed_as_whole(make_router: RouterFactory,
                                                            sims: dict[str, ProviderSimulator]) -> None:
    """A chat stream cut after content raises instead of ending as if it were complete."""
    sims["primary"].set_fault(Fault.parse("cut-after:12"))
    router = make_router()
    with pytest.raises(StreamInterruptedError):
        chat_text(router.completion(model="gpt-5", messages=MESSAGES, stream=True))


def test_malformed_event_is_skipped(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """An invalid SSE event is skipped and the stream goes on to its end."""
    sims["primary"].set_fault(Fault.parse("malformed:5"))
    router = make_router()
    stream = router.responses(model="gpt-5", input="hi", stream=True)
    types = [str(getattr(e.type, "value", e.type)) for e in stream]
    assert types[-1] == "response.completed"
    assert stream.provider == "primary"


def test_no_terminal_chat_stream_finishes_promptly(make_router: RouterFactory,
                                                  sims: dict[str, ProviderSimulator]) -> None:
    """A chat stream that lacks its terminal event ends promptly after its content, never hangs, and is
    not reported complete (litellm's chat chunks do not show whether every item was done)."""
    sims["primary"].set_fault(Fault.parse("no-terminal"))
    router = make_router(router={"stream-idle-timeout": 30})
    started = time.monotonic()
    stream = router.completion(model="gpt-5", messages=MESSAGES, stream=True)
    with pytest.raises(StreamInterruptedError) as info:
        list(stream)
    assert "Hello from primary" in info.value.text
    assert time.monotonic() - started < 3


def test_whole_responses_stream_without_terminal_is_completed(make_router: RouterFactory,
                                                               sims: dict[str, ProviderSimulator]) -> None:
    """A Responses stream that delivered every item but no terminal event ends with a synthesized
    response.completed carrying the delivered output, as the gateway does."""
    sims["primary"].set_fault(Fault.parse("no-terminal"))
    router = make_router(router={"stream-idle-timeout": 30})
    events = list(router.responses(model="gpt-5", input="hi", stream=True))
    last = events[-1]
    assert str(getattr(last.type, "value", last.type)) == "response.completed"
    output = last.response.model_dump()["output"]
    assert "Hello from primary" in str(output[-1]) and calls(sims["backup"]) == 0


async def test_async_stream_failover(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """Async streams fail over before content and name their provider."""
    sims["primary"].set_fault(Fault.parse("status:503"))
    router = make_router()
    stream = await router.acompletion(model="gpt-5", messages=MESSAGES, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert "Hello from backup" in text
    assert stream.provider == "backup"
