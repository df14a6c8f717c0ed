"""Logging setup: masked text and JSON lines, litellm's loggers routed through it, the router's own lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from canaries import CANARY_BACKUP, CANARY_PRIMARY

from tppc_router.routing.breaker import CircuitBreaker
from tppc_router.clock import ManualClock
from tppc_router.config.loader import load_settings
from tppc_router.ops.logs import (
    LITELLM_LOGGERS,
    THIRD_PARTY_LOGGERS,
    attach,
    configure_logging,
    credential_resolutions,
    log_breaker_change,
)
from tppc_router.masking import get_logger, mask
from tppc_router.routing.observe import FailoverLog
from tppc_router.routing.router import TppcRouter

UNREGISTERED = "sk-canary-unregistered-0a1b2c3d4e"  # never wrapped in a Secret: only the patterns can mask it


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger and the third-party loggers back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    saved = {name: (list(logging.getLogger(name).filters), list(logging.getLogger(name).handlers),
                    logging.getLogger(name).level)
             for name in THIRD_PARTY_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (filters, owned, own_level) in saved.items():
        logging.getLogger(name).filters[:] = filters
        logging.getLogger(name).handlers[:] = owned
        logging.getLogger(name).setLevel(own_level)


def configured(fmt: str = "text") -> io.StringIO:
    stream = io.StringIO()
    configure_logging("DEBUG", fmt, stream=stream, litellm_level="DEBUG")  # type: ignore[arg-type]
    return stream


def test_authorization_header_is_masked_in_text_lines(restore_logging: None) -> None:
    """An Authorization header and a key query parameter in a log line come out masked."""
    stream = configured()
    log = get_logger("tppc_router.routing.upstream")
    log.info("POST https://relay.example/v1/responses?api-key=%s headers={'Authorization': 'Bearer %s'}",
             UNREGISTERED, UNREGISTERED)
    line = stream.getvalue()
    assert UNREGISTERED not in line
    assert f"Bearer {mask(UNREGISTERED)}" in line
    assert f"api-key={mask(UNREGISTERED)}" in line


def test_traceback_is_masked(restore_logging: None) -> None:
    """A key in an exception's text is masked in the logged traceback too."""
    stream = configured()
    try:
        raise RuntimeError(f"upstream said: Authorization: Bearer {UNREGISTERED}")
    except RuntimeError:
        get_logger("tppc_router.server").exception("request failed")
    text = stream.getvalue()
    assert "RuntimeError" in text and "Traceback" in text
    assert UNREGISTERED not in text


def test_json_format_is_one_masked_object_per_line(restore_logging: None) -> None:
    """fmt="json" writes one JSON object per line with ts, level, logger, message and extra fields."""
    stream = configured("json")
    get_logger("tppc_router.routing.failover").warning("failover for %s: %s", "gpt-5", f"Bearer {UNREGISTERED}",
                                                      extra={"provider": "primary"})
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "WARNING"
    assert record["logger"] == "tppc_router.routing.failover"
    assert record["provider"] == "primary"
    assert record["message"] == f"failover for gpt-5: Bearer {mask(UNREGISTERED)}"
    assert record["ts"].endswith("+00:00")


def test_configure_twice_keeps_one_handler(restore_logging: None) -> None:
    """Configuring again replaces our handler instead of adding a second one."""
    first = configure_logging("INFO")
    second = configure_logging("INFO", "json")
    root = logging.getLogger()
    assert second in root.handlers and first not in root.handlers


def test_unknown_format_is_refused(restore_logging: None) -> None:
    """Only "text" and "json" are formats."""
    with pytest.raises(ValueError, match="text"):
        configure_logging("INFO", "yaml")  # type: ignore[arg-type]


def test_litellm_records_are_masked_and_written_once(restore_logging: None) -> None:
    """litellm's own handler is detached and its records reach our handler once, masked."""

    class LitellmStyleHandler(logging.StreamHandler):  # type: ignore[type-arg]
        pass

    LitellmStyleHandler.__module__ = "litellm._logging"
    own = io.StringIO()
    logging.getLogger("LiteLLM").addHandler(LitellmStyleHandler(own))
    stream = configured()
    logging.getLogger("LiteLLM").debug("curl -H 'Authorization: Bearer %s'", UNREGISTERED)
    assert stream.getvalue().count("curl") == 1
    assert UNREGISTERED not in stream.getvalue()
    assert own.getvalue() == ""
    assert all(type(h).__module__ != "litellm._logging" for name in LITELLM_LOGGERS
               for h in logging.getLogger(name).handlers)


def test_litellm_imported_later_is_detached_on_its_first_record(restore_logging: None) -> None:
    """A litellm handler attached after configure_logging is removed before it writes anything."""

    class LitellmStyleHandler(logging.StreamHandler):  # type: ignore[type-arg]
        pass

    LitellmStyleHandler.__module__ = "litellm._logging"
    stream = configured()
    own = io.StringIO()
    logging.getLogger("LiteLLM Router").addHandler(LitellmStyleHandler(own))
    logging.getLogger("LiteLLM Router").info("routing")
    assert own.getvalue() == "" and stream.getvalue().count("routing") == 1


def test_breaker_change_line(caplog: pytest.LogCaptureFixture) -> None:
    """A breaker listener logs "provider X: closed -> open (retry in 30 s; model M)" on tppc_router.routing.breaker."""
    breaker = CircuitBreaker("primary", "gpt-5", cooldown_s=30, clock=ManualClock(), listeners=[log_breaker_change])
    with caplog.at_level(logging.INFO, logger="tppc_router.routing.breaker"):
        breaker.record_failure(open_now=True)
    assert [r.getMessage() for r in caplog.records if r.name == "tppc_router.routing.breaker"] == [
        "provider primary: closed -> open (retry in 30 s; model gpt-5)"
    ]


def test_failover_line_names_from_to_why_and_how_long(caplog: pytest.LogCaptureFixture) -> None:
    """The failover log line says the group, from, to, the reason and the time taken."""
    with caplog.at_level(logging.WARNING, logger="tppc_router.routing.failover"):
        FailoverLog().on_failover("gpt-5", "primary", "backup", "server_error", 0.25)
        FailoverLog().on_failover("gpt-5", "backup", None, "timeout", 1.5)
    assert [r.getMessage() for r in caplog.records] == [
        "failover for gpt-5: primary -> backup (server_error, 250 ms)",
        "no provider left for gpt-5 after backup failed (timeout, 1500 ms)",
    ]


def settings_text() -> str:
    return (
        "tppc:\n  models: [gpt-5]\n  providers:\n"
        '    - {name: primary, base-url: "http://127.0.0.1:9/v1", api-key: os.environ/PRIMARY_API_KEY}\n'
        f'    - {{name: backup, base-url: "http://127.0.0.1:9/v1", api-key: {CANARY_BACKUP}}}\n'
        '    - {name: spare, enabled: false, base-url: "", api-key: os.environ/SPARE_API_KEY}\n'
    )


def test_credential_resolutions_say_which_source_won() -> None:
    """Each provider's key: from an env reference, a literal, or missing; the key only masked."""
    settings = load_settings(text=settings_text(), env={"PRIMARY_API_KEY": CANARY_PRIMARY})
    rows = {r.provider: r for r in credential_resolutions(settings)}
    assert (rows["primary"].source, rows["primary"].outcome) == ("env", "resolved")
    assert rows["primary"].reference == "os.environ/PRIMARY_API_KEY"
    assert rows["primary"].masked == mask(CANARY_PRIMARY)
    assert (rows["backup"].source, rows["backup"].outcome) == ("literal", "resolved")
    assert (rows["spare"].source, rows["spare"].outcome, rows["spare"].enabled) == ("env", "missing", False)


def test_attach_logs_credentials_models_and_states(caplog: pytest.LogCaptureFixture) -> None:
    """At start the router logs each key's source (masked), each model group and each provider's state."""
    router = TppcRouter(load_settings(text=settings_text(), env={"PRIMARY_API_KEY": CANARY_PRIMARY}))
    try:
        with caplog.at_level(logging.INFO, logger="tppc_router"):
            attach(router)
            attach(router)  # idempotent listener
            router.breakers.get("primary", "gpt-5").record_failure(open_now=True)
    finally:
        router.close()
    lines = [r.getMessage() for r in caplog.records]
    assert f"provider primary: key from os.environ/PRIMARY_API_KEY ({mask(CANARY_PRIMARY)})" in lines
    assert f"provider backup: key from a literal in the config file ({mask(CANARY_BACKUP)})" in lines
    assert "provider spare: os.environ/SPARE_API_KEY is not set, no key (provider disabled)" in lines
    assert "model group gpt-5: primary (priority 1), backup (priority 2)" in lines
    assert "provider primary: closed (priority 1)" in lines
    assert "provider spare: disabled" in lines
    assert sum("closed -> open" in line for line in lines) == 1
    assert all(CANARY_PRIMARY not in line and CANARY_BACKUP not in line for line in lines)
