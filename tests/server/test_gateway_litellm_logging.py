"""Gateway ``/v1/responses`` (raw httpx path) calls reach LiteLLM's callbacks once each, and /metrics counts tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from gateway_live import LiveServer
from litellm_recorder import Recorder, only_callback

from tppc_router.sim import ProviderSimulator

BODY: dict[str, Any] = {"model": "gpt-5", "input": "Tell me something"}
_WAIT_S = 10.0


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A recording custom logger as litellm's only callback for the test."""
    rec = Recorder()
    with only_callback(rec.logger):
        yield rec


def drain(gateway: LiveServer) -> None:
    """Let the gateway finish dispatching its logging events (then nothing more can arrive)."""
    deadline = time.monotonic() + _WAIT_S
    call_logger = gateway.runtime.litellm_logging
    assert call_logger is not None
    while call_logger.pending and time.monotonic() < deadline:
        time.sleep(0.02)


def tokens(gateway: LiveServer, provider: str, kind: str) -> float:
    """``tppc_tokens_total`` for ``provider`` and ``kind`` on the gateway's /metrics (0 when absent)."""
    text = httpx.get(gateway.url + "/metrics", timeout=10).text
    wanted = {"provider": provider, "model": "gpt-5", "kind": kind}
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "tppc_tokens_total" and sample.labels == wanted)


def test_one_success_event_per_call_after_failover(gateway: LiveServer, primary: ProviderSimulator,
                                                    recorder: Recorder) -> None:
    """Primary 503 -> backup answers: one success event, the requested group, usage, cost fields, failover noted."""
    primary.set_fault("status:503")
    with httpx.Client(base_url=gateway.base_url, timeout=10) as http:
        response = http.post("/responses", json=BODY)
    assert response.status_code == 200
    answer = response.json()
    events = recorder.wait_for(1)
    drain(gateway)
    assert [kind for kind, _ in recorder.events] == ["success"]
    payload = events[0][1]
    assert payload["model_group"] == "gpt-5"
    assert payload["call_type"] == "aresponses"
    assert payload["model_id"] == "tppc:backup:gpt-5"
    assert payload["api_base"] == gateway.runtime.router.targets("backup/gpt-5")[0].base_url
    assert payload["prompt_tokens"] == answer["usage"]["input_tokens"] > 0
    assert payload["completion_tokens"] == answer["usage"]["output_tokens"] > 0
    assert payload["response_cost"] > 0  # litellm knows gpt-5's price
    tppc = payload["metadata"]["spend_logs_metadata"]
    assert tppc["tppc_provider"] == "backup" and tppc["tppc_failover"] is True
    assert [(a["provider"], a["outcome"]) for a in tppc["tppc_attempts"]][-1] == ("backup", "ok")
    assert {a["provider"] for a in tppc["tppc_attempts"]} == {"primary", "backup"}


def test_one_success_event_per_stream(gateway: LiveServer, recorder: Recorder) -> None:
    """A streamed call is one success event with stream=True and the usage of its response.completed."""
    with httpx.Client(base_url=gateway.base_url, timeout=10) as http:
        with http.stream("POST", "/responses", json={**BODY, "stream": True}) as response:
            body = response.read().decode()
        assert "response.completed" in body
        events = recorder.wait_for(1)
        drain(gateway)
        assert [kind for kind, _ in recorder.events] == ["success"]
        payload = events[0][1]
        assert payload["model_group"] == "gpt-5" and payload["stream"] is True
        assert payload["total_tokens"] > 0
        assert payload["metadata"]["spend_logs_metadata"]["tppc_failover"] is False
        assert tokens(gateway, "primary", "input") > 0
        assert tokens(gateway, "primary", "output") > 0
        assert tokens(gateway, "primary", "reasoning") > 0


def test_no_provider_left_is_one_failure_event(gateway: LiveServer, primary: ProviderSimulator,
                                               backup: ProviderSimulator, recorder: Recorder) -> None:
    """Every provider failing is one failure event for the group, not one per attempt."""
    primary.set_fault("status:500")
    backup.set_fault("status:500")
    with httpx.Client(base_url=gateway.base_url, timeout=10) as http:
        assert http.post("/responses", json=BODY).status_code >= 500
    events = recorder.wait_for(1)
    drain(gateway)
    assert [kind for kind, _ in recorder.events] == ["failure"]
    assert events[0][1]["model_group"] == "gpt-5"


def test_tokens_counted_per_provider_for_non_streaming_calls(gateway: LiveServer, primary: ProviderSimulator) -> None:
    """/metrics counts input, output and reasoning tokens of the provider that answered."""
    primary.set_fault("status:503")
    with httpx.Client(base_url=gateway.base_url, timeout=10) as http:
        usage = http.post("/responses", json=BODY).json()["usage"]
        assert tokens(gateway, "backup", "input") == usage["input_tokens"] > 0
        assert tokens(gateway, "backup", "output") == usage["output_tokens"]
        assert tokens(gateway, "backup", "reasoning") == usage["output_tokens_details"]["reasoning_tokens"]
        assert tokens(gateway, "primary", "input") == 0
