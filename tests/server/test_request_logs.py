"""JSON logs a machine can read: request ids on every line of a request, failover and breaker events as
top-level fields, no foreign fields or colour codes, LiteLLM's loggers at WARNING."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gateway_live import LiveServer, StartServer, gateway_settings

from tppc_router.ops.logs import LITELLM_LOGGERS, THIRD_PARTY_LOGGERS, attach, configure_logging
from tppc_router.sim import ProviderSimulator

BODY = {"model": "gpt-5", "input": "hello"}


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The process's logging set up as ``serve --log-format json`` does, into a buffer; restored after."""
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    saved = {name: (list(logging.getLogger(name).filters), list(logging.getLogger(name).handlers),
                    logging.getLogger(name).level) for name in THIRD_PARTY_LOGGERS}
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    yield stream
    root.handlers[:], _ = saved_root
    root.setLevel(saved_root[1])
    for name, (filters, handlers, level) in saved.items():
        logging.getLogger(name).filters[:] = filters
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).setLevel(level)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_a_safe_client_request_id_is_kept_and_on_every_line(json_log: io.StringIO, live_server: StartServer,
                                                            primary: ProviderSimulator,
                                                            backup: ProviderSimulator) -> None:
    """``x-request-id: abc.DEF_1-2`` comes back in the response, and every log line of that request
    (failed attempt, failover, breaker change) carries it with structured from/to/reason/duration fields."""
    gateway = live_server(gateway_settings({"primary": primary, "backup": backup}, router={"failure-threshold": 1}))
    attach(gateway.runtime.router, log_now=False)  # as serve does: breaker changes are logged
    primary.set_fault("status:500")
    response = httpx.post(gateway.base_url + "/responses", json=BODY, headers={"x-request-id": "abc.DEF_1-2"},
                          timeout=30)
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc.DEF_1-2"
    lines = records(json_log)
    failover = next(r for r in lines if r.get("event") == "failover")
    assert failover["from"] == "primary" and failover["to"] == "backup" and failover["provider"] == "primary"
    assert failover["reason"] and isinstance(failover["duration_ms"], float)
    assert failover["request_id"] == "abc.DEF_1-2"
    attempt = next(r for r in lines if r.get("event") == "attempt_failed")
    assert attempt["provider"] == "primary" and attempt["status"] == 500 and attempt["request_id"] == "abc.DEF_1-2"
    breaker = next(r for r in lines if r.get("event") == "breaker")
    assert breaker["from"] == "closed" and breaker["to"] == "open" and breaker["request_id"] == "abc.DEF_1-2"
    of_request = [r for r in lines if r["logger"].startswith("tppc_router.routing")]
    assert of_request and all(r.get("request_id") == "abc.DEF_1-2" for r in of_request)


@pytest.mark.parametrize("given", ["has space", "x" * 129, "semi;colon", "ünïcode", ""])
def test_an_unsafe_request_id_is_replaced(gateway: LiveServer, given: str) -> None:
    """An id that is too long or has other characters is not echoed: a new one is generated."""
    headers = {"x-request-id": given.encode("utf-8")}
    response = httpx.post(gateway.base_url + "/responses", json=BODY, headers=headers, timeout=30)
    rid = response.headers["x-request-id"]
    assert rid != given and len(rid) == 32 and rid.isalnum()


def test_requests_without_an_id_get_distinct_ones(gateway: LiveServer) -> None:
    """Without x-request-id each request gets its own generated id, errors included."""
    first = httpx.post(gateway.base_url + "/responses", json=BODY, timeout=30).headers["x-request-id"]
    second = httpx.get(gateway.base_url + "/nope", timeout=30).headers["x-request-id"]
    assert first != second


def test_json_lines_have_no_foreign_fields_or_colour(json_log: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fields other libraries attach (uvicorn's color_message, litellm's objects) and ANSI codes stay out."""
    for name in ("uvicorn.error", "uvicorn", "LiteLLM"):  # as serve runs uvicorn (log_config=None): to the root
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        monkeypatch.setattr(logging.getLogger(name), "handlers", [])
    logging.getLogger("uvicorn.error").warning("Started \x1b[1mserver\x1b[0m",
                                            extra={"color_message": "\x1b[32mStarted\x1b[0m"})
    logging.getLogger("LiteLLM").warning("odd", extra={"litellm_redacted": object()})
    lines = records(json_log)
    assert lines[0]["message"] == "Started server" and "color_message" not in lines[0]
    assert "litellm_redacted" not in lines[1]
    assert "\x1b" not in json_log.getvalue()


def test_litellm_loggers_are_at_warning(json_log: io.StringIO, live_server: StartServer) -> None:
    """LiteLLM's own INFO lines are off unless the operator asks (``serve --litellm-log-level``)."""
    assert all(logging.getLogger(name).level == logging.WARNING for name in LITELLM_LOGGERS)
    logging.getLogger("LiteLLM").info("LiteLLM completion() model= gpt-5")
    assert "completion()" not in json_log.getvalue()
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream, litellm_level="INFO")
    logging.getLogger("LiteLLM").info("LiteLLM completion() model= gpt-5")
    assert "completion()" in stream.getvalue()


def test_text_lines_of_a_request_end_with_its_id(gateway: LiveServer, primary: ProviderSimulator) -> None:
    """With text logs, each line written during a request ends with ``[request <id>]``."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    levels = {name: logging.getLogger(name).level for name in LITELLM_LOGGERS}
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)
    try:
        primary.set_fault("status:500")
        httpx.post(gateway.base_url + "/responses", json=BODY, headers={"x-request-id": "text-1"}, timeout=30)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    lines = [line for line in stream.getvalue().splitlines() if "tppc_router.routing.failover" in line]
    assert lines and all(line.endswith(" [request text-1]") for line in lines)
