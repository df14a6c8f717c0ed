"""Logging: one masked handler on the root logger, text or JSON, and the router's own lines.

:func:`configure_logging` installs one handler on the root logger. Every record it
writes goes through :class:`MaskingRecordFilter` (the message, the traceback and the
stack) and a formatter that masks once more, so nothing a logger emits (ours,
litellm's, uvicorn's, httpx's) can show a key: known secrets, ``Authorization``
headers, bearer tokens and ``api-key``/``token`` query parameters are masked by
:func:`tppc_router.masking.mask_text`.

Logger names (see :data:`LOGGERS`)::

    tppc_router                  parent of every logger below
    tppc_router.cli.serve            what ``tppc-router serve`` serves, at start
    tppc_router.config           each credential resolution: which source won (masked)
    tppc_router.models           model registration: each group and its providers
    tppc_router.routing.breaker          provider state at start and on every change
    tppc_router.routing.failover         every failed attempt and every failover (from, to, why, how long)
    tppc_router.ops.probes           active health checks
    tppc_router.routing.upstream         the gateway's raw provider calls
    tppc_router.server           the gateway process, config applied
    tppc_router.management       every management write
    tppc_router.server.watcher          hand edits of the config file, applied or refused
    tppc_router.state            the shared (Redis) breaker state: lost, back
    LiteLLM, LiteLLM Router, LiteLLM Proxy     litellm
    uvicorn.error, uvicorn.access              the HTTP server

litellm attaches its own stderr handler to its loggers when it is imported. Once
:func:`configure_logging` has run, that handler is detached (now, or on the first
record if litellm is imported later) so each litellm line is written once, by our
handler, in our format.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Literal

from tppc_router.envref import parse_env_reference
from tppc_router.masking import MaskingFilter, get_logger, mask, mask_text
from tppc_router.ops.requestid import RequestIdFilter

if TYPE_CHECKING:
    from tppc_router.routing.breaker import BreakerState, CircuitBreaker
    from tppc_router.config.schema import Settings
    from tppc_router.routing.router import TppcRouter

__all__ = [
    "LITELLM_LOGGERS",
    "LOGGERS",
    "THIRD_PARTY_LOGGERS",
    "CredentialResolution",
    "JsonFormatter",
    "MaskingRecordFilter",
    "TextFormatter",
    "attach",
    "configure_logging",
    "credential_resolutions",
    "log_breaker_change",
    "log_router_state",
    "mask_third_party_loggers",
    "route_litellm_through_root",
]

LogFormat = Literal["text", "json"]

LOGGERS: Mapping[str, str] = {
    "tppc_router": "parent of every tppc-router logger",
    "tppc_router.cli.serve": "what tppc-router serve serves, at start",
    "tppc_router.config": "each credential resolution: which source won (key masked)",
    "tppc_router.models": "model registration: each group and its providers in priority order",
    "tppc_router.routing.breaker": "provider state at start and on every breaker change",
    "tppc_router.routing.failover": "every failed attempt and every failover: from, to, why, how long",
    "tppc_router.ops.probes": "active health checks (router.health-check)",
    "tppc_router.routing.upstream": "the gateway's raw provider calls",
    "tppc_router.server": "the gateway process; config applied",
    "tppc_router.management": "every management write",
    "tppc_router.server.watcher": "hand edits of the config file, applied or refused",
    "tppc_router.state": "the shared (Redis) breaker state: lost, back",
    "tppc_router.sim": "the provider simulator",
}
LITELLM_LOGGERS: tuple[str, ...] = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")
THIRD_PARTY_LOGGERS: tuple[str, ...] = (
    *LITELLM_LOGGERS,
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "httpx",
    "httpcore",
    "fastapi",
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_HANDLER_MARK = "_tppc_router_handler"
_plain = logging.Formatter()


class MaskingRecordFilter(MaskingFilter):
    """:class:`~tppc_router.masking.MaskingFilter`, plus the traceback and stack of a record.

    The traceback is rendered once, masked, and stored as ``record.exc_text``, which
    every ``logging.Formatter`` prints instead of rendering ``exc_info`` again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        if record.exc_info and not record.exc_text:
            try:
                record.exc_text = _plain.formatException(record.exc_info)
            except Exception:  # noqa: BLE001 - a broken traceback must not break logging
                record.exc_text = "<traceback unavailable>"
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (litellm and uvicorn colour some messages)."""
    return _ANSI.sub("", text)


class TextFormatter(logging.Formatter):
    """``2025-01-01 12:00:00,000 INFO tppc_router.routing.failover: ...``, masked as a whole; a line
    written during a gateway request ends with ``[request <id>]``."""

    def __init__(self, fmt: str = TEXT_FORMAT) -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        if isinstance(rid, str):
            first, newline, rest = line.partition("\n")  # after the message, before a traceback
            line = f"{first} [request {rid}]{newline}{rest}"
        return mask_text(strip_ansi(line))


# Attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, then ``exc`` (the
    traceback), ``request_id`` (inside a gateway request) and the structured fields our own
    loggers pass with ``extra=`` (``event``, ``provider``, ``from``, ``to``, ``reason``,
    ``status``, ``duration_ms``...). Fields other libraries attach (uvicorn's ``color_message``,
    litellm's objects) are left out, colour codes are stripped, every string is masked."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(strip_ansi(record.getMessage())),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = mask_text(strip_ansi(record.exc_text))
        if record.stack_info:
            out["stack"] = mask_text(record.stack_info)
        ours = record.name == "tppc_router" or record.name.startswith("tppc_router.")
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_") or key in out:
                continue
            if (ours or key == "request_id") and _is_plain(value):
                out[key] = _masked_value(value)
        return json.dumps(out, ensure_ascii=False, default=lambda v: mask_text(str(v)))


def _is_plain(value: Any) -> bool:
    """A JSON scalar, or a list of them: what a structured log field may hold."""
    if isinstance(value, list | tuple):
        return all(_is_plain(v) and not isinstance(v, list | tuple) for v in value)
    return value is None or isinstance(value, str | bool | int | float)


def _masked_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_masked_value(v) for v in value]
    if isinstance(value, str):
        return mask_text(strip_ansi(value))
    if isinstance(value, bool | int | float) or value is None:
        return value
    return mask_text(str(value))


class _LitellmHandoff(logging.Filter):
    """On litellm's loggers: detach litellm's own stderr handler, so records reach
    only the root handler (once, masked, in our format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _detach_litellm_handlers()
        return True


def _detach_litellm_handlers() -> None:
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler).__module__.startswith("litellm"):
                logger.removeHandler(handler)


def _add_filter_once(target: logging.Filterer, kind: type[logging.Filter]) -> None:
    if not any(type(f) is kind for f in target.filters):
        target.addFilter(kind())


def mask_third_party_loggers(names: Iterable[str] = THIRD_PARTY_LOGGERS) -> None:
    """Mask at the source: a :class:`MaskingRecordFilter` on each named logger and on
    every handler already attached to it (litellm's and uvicorn's own). Idempotent."""
    for name in names:
        logger = logging.getLogger(name)
        _add_filter_once(logger, MaskingRecordFilter)
        for handler in logger.handlers:
            _add_filter_once(handler, MaskingRecordFilter)


def configure_logging(
    level: int | str = "INFO",
    fmt: LogFormat = "text",
    *,
    stream: IO[str] | None = None,
    litellm_level: int | str = "WARNING",
) -> logging.Handler:
    """Install the masked handler on the root logger (replacing one installed before).

    ``fmt="json"`` writes one JSON object per line. Returns the handler. Pass
    ``log_config=None`` to ``uvicorn.run`` so uvicorn keeps this setup. LiteLLM's own
    loggers are set to ``litellm_level`` (WARNING unless the operator asks for more:
    ``serve --litellm-log-level info``), so a request adds no litellm INFO lines.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f'log format must be "text" or "json", not {fmt!r}')
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(MaskingRecordFilter())
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in LITELLM_LOGGERS:
        logging.getLogger(name).setLevel(litellm_level.upper() if isinstance(litellm_level, str) else litellm_level)
    mask_third_party_loggers()
    route_litellm_through_root()
    return handler


def route_litellm_through_root() -> None:
    """Detach litellm's own stderr handler from its loggers, now and (if litellm is
    imported later) on their first record, so litellm's lines reach only the root
    handler. Idempotent."""
    _detach_litellm_handlers()
    for name in LITELLM_LOGGERS:
        _add_filter_once(logging.getLogger(name), _LitellmHandoff)


# --------------------------------------------------------------------------- the router's lines

config_log = get_logger("tppc_router.config")
models_log = get_logger("tppc_router.models")
breaker_log = get_logger("tppc_router.routing.breaker")


@dataclass(frozen=True, slots=True)
class CredentialResolution:
    """How one provider's key was resolved: ``source`` is ``literal``, ``env`` or
    ``none``; ``outcome`` is ``resolved``, ``missing`` (a variable not set) or ``none``.
    ``reference`` is the reference as written (``os.environ/NAME``), ``masked`` the key."""

    provider: str
    enabled: bool
    source: str
    outcome: str
    reference: str
    masked: str


def credential_resolutions(settings: Settings) -> list[CredentialResolution]:
    """Every configured provider's key resolution (packycode first), from loaded settings."""
    rows: list[tuple[str, bool, str, Any]] = []
    legacy = settings.packycode
    if legacy.enabled or legacy.credentials.openai_api_key is not None:
        rows.append(("packycode", legacy.enabled, legacy.key_source, legacy.credentials.openai_api_key))
    rows += [(p.name or "-", p.enabled, p.key_source, p.api_key) for p in settings.tppc.providers]
    out: list[CredentialResolution] = []
    for provider, enabled, reference, key in rows:
        value = key.get_secret_value() if key is not None else ""
        env = parse_env_reference(reference) is not None
        if value:
            outcome, source = "resolved", "env" if env else "literal"
        else:
            outcome, source = ("missing", "env") if env else ("none", "none")
        out.append(CredentialResolution(provider, enabled, source, outcome, reference if env else source, mask(value)))
    return out


def log_credentials(settings: Settings) -> None:
    for row in credential_resolutions(settings):
        state = "" if row.enabled else " (provider disabled)"
        if row.outcome == "resolved":
            where = row.reference if row.source == "env" else "a literal in the config file"
            config_log.info("provider %s: key from %s (%s)%s", row.provider, where, row.masked, state)
        elif row.outcome == "missing":
            config_log.warning("provider %s: %s is not set, no key%s", row.provider, row.reference, state)
        else:
            config_log.info("provider %s: no key configured%s", row.provider, state)


def log_models(router: TppcRouter) -> None:
    pinned: list[str] = []
    for group in router.model_groups():
        targets = router.targets(group)
        if targets and all(t.call_group == group for t in targets):
            pinned.append(group)
            continue
        served = ", ".join(f"{t.provider} (priority {t.priority})" for t in targets)
        models_log.info("model group %s: %s", group, served or "no provider")
    if pinned:
        models_log.info("pinned groups (one provider each): %s", ", ".join(pinned))


def log_provider_states(router: TppcRouter) -> None:
    for row in router.provider_states():
        if not row.enabled:
            breaker_log.info("provider %s: disabled", row.name)
            continue
        breaker_log.info("provider %s: %s (priority %s)", row.name, row.state, row.priority)


def log_router_state(router: TppcRouter) -> None:
    """Log each credential resolution, model group and provider state. Call at start
    and after every config change."""
    log_credentials(router.tppc_settings)
    log_models(router)
    log_provider_states(router)


def log_breaker_change(breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
    """A breaker listener: ``provider X: closed -> open (retry in 30 s; model gpt-5)``."""
    detail = f"model {breaker.model}"
    fields: dict[str, Any] = {"event": "breaker", "provider": breaker.provider, "model": breaker.model,
                              "from": old.value, "to": new.value}
    if new.value == "open":
        retry = breaker.snapshot().retry_in_s
        if retry is not None:
            detail = f"retry in {retry:.0f} s; {detail}"
            fields["retry_in_s"] = round(retry, 1)
        breaker_log.warning("provider %s: %s -> %s (%s)", breaker.provider, old.value, new.value, detail,
                            extra=fields)
    else:
        breaker_log.info("provider %s: %s -> %s (%s)", breaker.provider, old.value, new.value, detail, extra=fields)


_attached: weakref.WeakSet[Any] = weakref.WeakSet()


def attach(router: TppcRouter, *, log_now: bool = True) -> None:
    """Log every breaker change from now on (idempotent), and the router's state now
    unless ``log_now`` is false."""
    if router not in _attached:
        _attached.add(router)
        router.breakers.add_listener(log_breaker_change)
    if log_now:
        log_router_state(router)
