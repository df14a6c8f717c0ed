"""One exception tree for tppc-router.

::

    TppcRouterError
    ├── ConfigError (also ValueError)        bad config file, env or management body
    │   ├── ConfigEditError                   a requested edit is itself invalid (field twice, wrong type, masked key)
    │   ├── ConfigFileError                   the file on disk cannot be edited as it is (fix it by hand)
    │   ├── ConfigConflictError               the edit conflicts with the config now (name taken, file changed)
    │   └── ConfigNotFoundError               the edit names an entry the config does not have
    ├── ProviderError                         one provider failed one attempt
    │   └── StreamInterruptedError            a stream broke after content went out
    ├── AllProvidersFailedError               every candidate provider failed
    │   └── AllProvidersCoolingError          every provider is cooling down (429-like)
    └── ManagementError                       management API refused a request (HTTP status + problems)

Config code raises only ``ConfigError`` and its subclasses; the server maps them to
HTTP statuses at its boundary (:mod:`tppc_router.server.config_errors`, as httpx maps
transport errors), into the public :class:`ManagementError`.

Messages name the provider and the config path, never a key. Errors that reach
clients are "OpenAI-style": they carry ``status_code``, ``type``, ``code`` and a
``body`` of the form ``{"error": {...}}`` that openai clients understand.

Once litellm is imported (a router was built), ``ProviderError`` and
``AllProvidersFailedError`` (and their subclasses) are raised as subclasses of the
matching LiteLLM exception too (``litellm.RateLimitError``, ``litellm.Timeout``, ...,
always ``litellm.APIError``), so ``except litellm.RateLimitError`` or ``except
openai.APIError`` catches them; the rule is in ``tppc_router/routing/litellm_errors.py``.
This module never imports litellm.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tppc_router.masking import mask_text

__all__ = [
    "AllProvidersCoolingError",
    "AllProvidersFailedError",
    "Attempt",
    "ConfigConflictError",
    "ConfigEditError",
    "ConfigError",
    "ConfigFileError",
    "ConfigNotFoundError",
    "FailureKind",
    "ManagementError",
    "Outcome",
    "ProviderError",
    "StreamInterruptedError",
    "TppcRouterError",
]


class TppcRouterError(Exception):
    """Base class of every error raised by tppc-router."""

    status_code: int = 500
    type: str = "tppc_router_error"
    code: str | None = None

    def __init__(self, *args: Any) -> None:
        # Exception's own constructor, never a LiteLLM exception's (see _as_litellm).
        Exception.__init__(self, *args)

    @property
    def message(self) -> str:
        return str(self)

    @property
    def body(self) -> dict[str, Any]:
        """The OpenAI-shaped error body: ``{"error": {...}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": None,
            }
        }


class ConfigError(TppcRouterError, ValueError):
    """A config is invalid. ``problems`` holds one line per problem, each starting
    with its field path (``tppc.providers[1].base-url: ...``)."""

    status_code = 422
    type = "invalid_request_error"
    code = "invalid_config"

    def __init__(self, problems: Sequence[str] = (), *, source: str | None = None, summary: str | None = None) -> None:
        self.problems: list[str] = [mask_text(p) for p in problems]  # a value may echo a key
        self.source = source
        #: One line saying what went wrong; the problems say where.
        self.summary = summary or (f"invalid config ({source})" if source else "invalid config")
        lines = "".join(f"\n  {p}" for p in self.problems)
        super().__init__(self.summary + (":" + lines if lines else ""))


class ConfigEditError(ConfigError):
    """A requested edit is itself invalid: a field given twice, of the wrong type, a masked key."""


class ConfigFileError(ConfigError):
    """The config file on disk cannot be edited as it is (not YAML, not a mapping, a section
    of the wrong kind): it has to be fixed by hand first."""


class ConfigConflictError(ConfigError):
    """The edit conflicts with the config as it is now: a name already taken, or the file
    changed on disk while the edit was being applied."""


class ConfigNotFoundError(ConfigError):
    """The edit names an entry (a provider) the config does not have."""


class FailureKind(StrEnum):
    """Why one attempt against one provider failed."""

    CONNECTION = "connection"  # refused, reset before headers, DNS, protocol error before headers
    SERVER = "server_error"  # 5xx
    RATE_LIMITED = "rate_limited"  # 429
    AUTH = "auth"  # 401, 402, 403, exhausted quota: this provider's credential
    NOT_FOUND = "model_not_found"  # 404 at this provider
    CONFIG = "config_error"  # 404 for the endpoint path ("Invalid URL"): the base-url is wrong
    FIRST_BYTE_TIMEOUT = "first_byte_timeout"  # no headers / first SSE event in time
    TIMEOUT = "timeout"  # whole non-streaming call timed out
    FIRST_TOKEN_TIMEOUT = "first_token_timeout"
    STREAM_IDLE = "stream_idle"  # stream went silent mid-way
    STREAM_BROKEN = "stream_broken"  # cut mid-stream or ended without a terminal event
    INVALID_REQUEST = "invalid_request"  # 400, 413, 422: the request itself is at fault
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    """How one attempt ended: ``ok``, ``skipped`` (breaker open, not tried), ``interrupted``
    (a stream broke after content went out) or the :class:`FailureKind` it failed with.
    String-valued, so JSON bodies, log lines and metric labels read as before."""

    OK = "ok"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    CONNECTION = FailureKind.CONNECTION.value
    SERVER = FailureKind.SERVER.value
    RATE_LIMITED = FailureKind.RATE_LIMITED.value
    AUTH = FailureKind.AUTH.value
    NOT_FOUND = FailureKind.NOT_FOUND.value
    CONFIG = FailureKind.CONFIG.value
    FIRST_BYTE_TIMEOUT = FailureKind.FIRST_BYTE_TIMEOUT.value
    TIMEOUT = FailureKind.TIMEOUT.value
    FIRST_TOKEN_TIMEOUT = FailureKind.FIRST_TOKEN_TIMEOUT.value
    STREAM_IDLE = FailureKind.STREAM_IDLE.value
    STREAM_BROKEN = FailureKind.STREAM_BROKEN.value
    INVALID_REQUEST = FailureKind.INVALID_REQUEST.value
    UNKNOWN = FailureKind.UNKNOWN.value

    @classmethod
    def of(cls, kind: FailureKind) -> Outcome:
        """The outcome of an attempt that failed with ``kind``."""
        return cls(kind.value)

    @property
    def failed(self) -> bool:
        """True for a failure kind (not ok, skipped or interrupted)."""
        return self not in (Outcome.OK, Outcome.SKIPPED, Outcome.INTERRUPTED)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try against one provider: what happened and how long it took."""

    provider: str
    model: str
    outcome: Outcome
    status: int | None = None
    reason: str = ""
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "outcome": self.outcome.value,
            "status": self.status,
            "reason": self.reason,
            "duration_ms": round(self.duration_s * 1000, 1),
        }

    def describe(self) -> str:
        status = f" {self.status}" if self.status is not None else ""
        reason = f": {self.reason}" if self.reason else ""
        return f"{self.provider} [{self.outcome.value}{status}]{reason} ({self.duration_s * 1000:.0f} ms)"


def _as_litellm(cls: type, class_name: str) -> type:
    """``cls``, or once litellm is imported, ``cls`` that is also ``litellm.<class_name>``."""
    if "litellm" not in sys.modules:
        return cls
    from tppc_router.routing.litellm_errors import flavored

    return flavored(cls, class_name)


def _fill_litellm_fields(error: TppcRouterError, *, model: str | None, provider: str | None) -> None:
    litellm = sys.modules.get("litellm")
    if litellm is None or not isinstance(error, getattr(litellm, "APIError", ())):
        return  # a plain error (litellm not imported)
    from tppc_router.routing.litellm_errors import fill_litellm_fields

    fill_litellm_fields(error, model=model, provider=provider)


class ProviderError(TppcRouterError):
    """One provider failed. ``reason`` has already been masked."""

    type = "api_error"
    _litellm_class: str | None = None  # fixed LiteLLM class; None: from ``kind``

    def __new__(cls, *args: Any, **kwargs: Any) -> ProviderError:
        from_kind = cls._litellm_class
        if from_kind is None and "litellm" in sys.modules:
            from tppc_router.routing.litellm_errors import litellm_class_for

            from_kind = litellm_class_for([str(kwargs.get("kind", "provider_error"))])
        flavored = _as_litellm(cls, from_kind) if from_kind else cls
        error: ProviderError = super().__new__(flavored)
        return error

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        kind: str = "provider_error",
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.kind = kind
        self.retry_after = retry_after
        self._body = body
        if status_code is not None:
            self.status_code = status_code
        _fill_litellm_fields(self, model=None, provider=provider)

    @property
    def body(self) -> dict[str, Any]:
        if self._body is not None:
            return self._body
        return super().body


class StreamInterruptedError(ProviderError):
    """A stream failed after content had reached the caller. The stream is not
    complete: ``text`` is what was delivered before the cut."""

    code = "stream_interrupted"
    _litellm_class = "APIConnectionError"

    def __init__(self, message: str, *, provider: str, text: str, cause_kind: str) -> None:
        super().__init__(message, provider=provider, status_code=502, kind=cause_kind)
        self.text = text


class AllProvidersFailedError(TppcRouterError):
    """Every provider that could serve the request failed. ``attempts`` lists each
    try (provider, outcome, status, reason, duration); no keys."""

    status_code = 502
    type = "api_error"
    code = "all_providers_failed"
    _cooling = False

    def __new__(cls, model: str, attempts: Sequence[Attempt], *, retry_after: float | None = None
                ) -> AllProvidersFailedError:
        flavored = cls
        if "litellm" in sys.modules:
            from tppc_router.routing.litellm_errors import litellm_class_for

            flavored = _as_litellm(cls, litellm_class_for([a.outcome for a in attempts], cooling=cls._cooling))
        error: AllProvidersFailedError = super().__new__(flavored)
        return error

    def __init__(self, model: str, attempts: Sequence[Attempt], *, retry_after: float | None = None) -> None:
        self.model = model
        self.attempts: list[Attempt] = list(attempts)
        self.retry_after = retry_after
        lines = "; ".join(a.describe() for a in self.attempts) or "no provider is enabled"
        super().__init__(f"all providers failed for model {model!r}: {lines}")
        failed = {a.outcome for a in self.attempts} - {"ok", "skipped"}
        if failed == {"rate_limited"}:
            self.status_code = 429  # every provider answered 429: a rate limit, as the gateway says too
        _fill_litellm_fields(self, model=model, provider=None)

    @property
    def body(self) -> dict[str, Any]:
        body = super().body
        body["error"]["attempts"] = [a.as_dict() for a in self.attempts]
        return body


class AllProvidersCoolingError(AllProvidersFailedError):
    """Every provider is cooling down; ``retry_after`` says when one is back."""

    status_code = 429
    type = "rate_limit_error"
    code = "all_providers_cooling_down"
    _cooling = True


class ManagementError(TppcRouterError):
    """The management API refused a request: the server-side error, with its HTTP status and
    problems. Config code never raises it: the server maps a :class:`ConfigError` into it."""

    type = "management_error"

    def __init__(self, message: str, *, status_code: int, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.problems = list(problems)

    @property
    def body(self) -> dict[str, Any]:
        body = super().body
        if self.problems:
            body["error"]["problems"] = self.problems
        return body
