"""Library calls of tppc groups reach LiteLLM's callbacks once per logical call, with the group asked for."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from .conftest import MESSAGES, RouterFactory
from litellm_recorder import Recorder, only_callback

from tppc_router.routing._litellm import load_litellm
from tppc_router.sim import ProviderSimulator


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A recording custom logger as litellm's only callback for the test."""
    rec = Recorder()
    with only_callback(rec.logger):
        yield rec


@pytest.mark.parametrize("api", ["responses", "chat"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_failover_is_one_success_event_for_the_requested_group(
        make_router: RouterFactory, sims: dict[str, ProviderSimulator], recorder: Recorder, api: str,
        stream: bool) -> None:
    """Primary 503 -> backup: a custom logger sees one success, model_group gpt-5 (not a pinned group), the
    answering provider and the failover in metadata.spend_logs_metadata; no event for the failed attempts."""
    sims["primary"].set_fault("status:503")
    router = make_router(router={"failure-threshold": 100})
    if api == "responses":
        result = await router.aresponses(model="gpt-5", input="hello", stream=stream)
    else:
        result = await router.acompletion(model="gpt-5", messages=MESSAGES, stream=stream)
    if stream:
        async for _ in result:
            pass
    await router.litellm_logging.drain()
    assert [kind for kind, _ in recorder.events] == ["success"]
    payload = recorder.events[0][1]
    assert payload["model_group"] == "gpt-5"
    assert payload["call_type"] == ("aresponses" if api == "responses" else "acompletion")
    assert payload["model_id"] == "tppc:backup:gpt-5"
    tppc = payload["metadata"]["spend_logs_metadata"]
    assert tppc["tppc_provider"] == "backup" and tppc["tppc_failover"] is True
    assert {a["provider"] for a in tppc["tppc_attempts"]} == {"primary", "backup"}
    if not (stream and api == "chat"):  # a chat stream carries usage only when the caller asks for it
        assert payload["total_tokens"] > 0


async def test_every_provider_failing_is_one_failure_event(make_router: RouterFactory,
                                                           sims: dict[str, ProviderSimulator],
                                                           recorder: Recorder) -> None:
    """No provider answering is one failure event for the group, not one per attempt."""
    sims["primary"].set_fault("status:500")
    sims["backup"].set_fault("status:500")
    router = make_router(router={"failure-threshold": 100})
    with pytest.raises(Exception):  # noqa: B017 - the error's class is the drop-in's business
        await router.aresponses(model="gpt-5", input="hello")
    await router.litellm_logging.drain()
    assert [(kind, payload["model_group"]) for kind, payload in recorder.events] == [("failure", "gpt-5")]


class SyncRecorder:
    """A LiteLLM CustomLogger with only the sync hooks, as many sync applications write them."""

    def __init__(self) -> None:
        from litellm.integrations.custom_logger import CustomLogger

        events: list[tuple[str, dict[str, Any]]] = []
        lock = threading.Lock()

        class _Logger(CustomLogger):  # type: ignore[misc]
            def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
                with lock:
                    events.append(("success", kwargs["standard_logging_object"]))

            def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
                with lock:
                    events.append(("failure", kwargs["standard_logging_object"]))

        self.logger = _Logger()
        self.events = events


@pytest.fixture
def sync_recorder(recorder: Recorder) -> SyncRecorder:
    """A sync-hooks-only custom logger as litellm's only callback (lists restored by ``recorder``)."""
    rec = SyncRecorder()
    load_litellm().callbacks = [rec.logger]
    return rec


def _wait_for(events: list[Any], count: int) -> None:
    deadline = time.monotonic() + 10.0
    while len(events) < count and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_sync_call_reaches_sync_only_loggers_once(make_router: RouterFactory, sims: dict[str, ProviderSimulator],
                                                  sync_recorder: SyncRecorder, api: str) -> None:
    """A sync completion()/responses() of a tppc group that fails over is one event for a logger that
    implements only LiteLLM's sync hooks, as a bare litellm.Router's sync call is."""
    sims["primary"].set_fault("status:503")
    router = make_router(router={"failure-threshold": 100})
    if api == "responses":
        router.responses(model="gpt-5", input="hello")
    else:
        router.completion(model="gpt-5", messages=MESSAGES)
    _wait_for(sync_recorder.events, 1)
    time.sleep(0.2)  # a second (wrong) event would arrive by now
    assert [(kind, payload["model_group"]) for kind, payload in sync_recorder.events] == [("success", "gpt-5")]
    payload = sync_recorder.events[0][1]
    assert payload["call_type"] == ("responses" if api == "responses" else "completion")
    assert payload["metadata"]["spend_logs_metadata"]["tppc_provider"] == "backup"
