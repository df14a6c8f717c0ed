"""Turn any provider failure into a :class:`Failure`: what kind, which status, when to retry.

:func:`classify` understands litellm's, the openai SDK's and httpx's exceptions,
our own :class:`~tppc_router.errors.ProviderError` and ``TimeoutError``. It matches
by duck typing (class names along the MRO, ``status_code``, ``response.headers``),
so importing it never imports litellm, openai or httpx. Messages are masked.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from tppc_router.errors import FailureKind, ProviderError
from tppc_router.masking import mask_text

__all__ = ["Failure", "FailureKind", "classify", "is_provider_failure", "parse_retry_after", "retry_after_from"]

MAX_RETRY_AFTER_S = 86_400.0  # a provider cannot bench itself for more than a day
_MAX_MESSAGE = 1000
_CAUSE_DEPTH = 5


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified failure. ``message`` is masked; ``provider_code`` is the
    provider's error code when known (``"context_length_exceeded"``)."""

    kind: FailureKind
    status: int | None = None
    retry_after: float | None = None
    message: str = ""
    provider_code: str | None = None
    refused: bool = False  # CONNECTION that never connected (refused, nothing listening): no point retrying there


# --------------------------------------------------------------------------- classify

_TIMEOUT_NAMES = frozenset(
    {"TimeoutError", "Timeout", "APITimeoutError", "TimeoutException", "ReadTimeout", "WriteTimeout", "PoolTimeout"}
)
_CONNECTION_NAMES = frozenset(  # openai/litellm, httpx/httpcore, builtin, DNS, aiohttp
    {"APIConnectionError", "ConnectError", "ReadError", "WriteError", "NetworkError", "RemoteProtocolError"}
    | {"LocalProtocolError", "ProtocolError", "TransportError", "ConnectionError", "gaierror", "herror"}
    | {"ClientConnectionError", "ServerDisconnectedError"}
)
_STATUS_KINDS = {429: FailureKind.RATE_LIMITED, 404: FailureKind.NOT_FOUND, 408: FailureKind.TIMEOUT}
_STATUS_KINDS |= {status: FailureKind.AUTH for status in (401, 402, 403)}
_STATUS_KINDS |= {status: FailureKind.INVALID_REQUEST for status in (400, 413, 422)}
_AUTH_CODES = frozenset({"insufficient_quota", "invalid_api_key", "billing_hard_limit_reached"})
_KNOWN_CODES = re.compile(
    r"\b(context_length_exceeded|content_policy_violation|model_not_found|insufficient_quota|"
    r"invalid_api_key|rate_limit_exceeded|billing_hard_limit_reached|server_error)\b"
)
_CODE_BY_CLASS = {
    "ContextWindowExceededError": "context_length_exceeded",
    "ContentPolicyViolationError": "content_policy_violation",
}
_TIMED_OUT = re.compile(r"(?i)\b(timed out|timeout error|read ?timeout|connect ?timeout)\b")
_STATUS_IN_TEXT = re.compile(r"(?i)\b(?:status[ _]?code|error code|http)[\s:=]+([1-5]\d\d)\b")


def classify(exc: BaseException) -> Failure:
    """Turn an exception from any layer into a :class:`Failure`.

    A 404 that is not about the model (no ``model_not_found`` code, no mention of a model:
    typically ``Invalid URL (POST /responses)``) means the endpoint path does not exist at
    that base-url: a configuration error (:attr:`FailureKind.CONFIG`), with a message that says so.
    """
    failure = _classify(exc, 0)
    if failure.kind is FailureKind.NOT_FOUND and _endpoint_missing(failure):
        return replace(failure, kind=FailureKind.CONFIG, message=ENDPOINT_NOT_FOUND + f" ({failure.message})"
                       if failure.message else ENDPOINT_NOT_FOUND)
    return failure


ENDPOINT_NOT_FOUND = ("configuration error: the provider has no endpoint at this path (HTTP 404); "
                      "check its base-url (it usually ends in /v1)")
_ABOUT_MODEL = re.compile(r"(?i)\bmodels?\b|deployment")


def _endpoint_missing(failure: Failure) -> bool:
    if failure.provider_code is not None and "model" in failure.provider_code:
        return False
    return not _ABOUT_MODEL.search(failure.message.replace("NotFoundError", ""))


def _classify(exc: BaseException, depth: int) -> Failure:
    message = _message(exc)
    if isinstance(exc, ProviderError):
        return _from_provider_error(exc, message)
    names = {cls.__name__ for cls in type(exc).__mro__}
    retry_after = retry_after_from(exc)
    code = _provider_code(exc, names, message)
    if names & _TIMEOUT_NAMES or "ConnectTimeout" in names:
        status = _status_of(exc)
        if status is not None and status >= 500:  # litellm maps a 504 reply to Timeout: the provider answered
            return Failure(FailureKind.SERVER, status, retry_after, message, code)
        kind = FailureKind.FIRST_BYTE_TIMEOUT if "ConnectTimeout" in names else FailureKind.TIMEOUT
        return Failure(kind, None, None, message, code)
    if names & _CONNECTION_NAMES:
        # litellm's APIConnectionError carries a made-up status 500 and often wraps
        # something more specific: look at the cause, then at the text.
        inner = _classify_cause(exc, depth)
        if inner is not None:
            return Failure(inner.kind, inner.status, inner.retry_after, message, inner.provider_code or code,
                           inner.refused)
        if _TIMED_OUT.search(message):
            return Failure(FailureKind.TIMEOUT, None, None, message, code)
        match = _STATUS_IN_TEXT.search(message)
        if match:
            status = int(match.group(1))
            return Failure(_kind_for_status(status, code), status, retry_after, message, code)
        return Failure(FailureKind.CONNECTION, None, None, message, code, refused=_never_connected(exc, names, message))
    status = _status_of(exc)
    if status == 500 and _REFUSED.search(message):  # litellm reports a refused connection as a 500
        return Failure(FailureKind.CONNECTION, None, None, message, code, refused=_never_connected(exc, names, message))
    if status is not None:
        return Failure(_kind_for_status(status, code), status, retry_after, message, code)
    inner = _classify_cause(exc, depth)
    if inner is not None:
        return Failure(inner.kind, inner.status, inner.retry_after, message, inner.provider_code or code,
                       inner.refused)
    return Failure(FailureKind.UNKNOWN, None, retry_after, message, code)


def _kind_for_status(status: int, code: str | None) -> FailureKind:
    if status == 429 and code in _AUTH_CODES:  # quota or billing exhausted: the credential, not the rate
        return FailureKind.AUTH
    if 500 <= status <= 599:
        return FailureKind.SERVER
    return _STATUS_KINDS.get(status, FailureKind.UNKNOWN)


def _classify_cause(exc: BaseException, depth: int) -> Failure | None:
    """The classification of the exception this one wraps, if it says more."""
    inner = exc.__cause__ or exc.__context__
    if inner is None or inner is exc or depth >= _CAUSE_DEPTH:
        return None
    failure = _classify(inner, depth + 1)
    return None if failure.kind is FailureKind.UNKNOWN else failure


def _from_provider_error(exc: ProviderError, message: str) -> Failure:
    status = vars(exc).get("status_code")  # the class default (500) is not a real reply
    status = status if isinstance(status, int) else None
    try:
        kind: FailureKind | None = FailureKind(exc.kind)
    except ValueError:
        kind = None
    code = _code_from_body(exc.body)
    if kind is None:
        kind = _kind_for_status(status, code) if status is not None else FailureKind.UNKNOWN
    return Failure(kind, status, exc.retry_after, message, code)


_NEVER_CONNECTED = re.compile(r"(?i)connection refused|errno 111|connect call failed|cannot connect to host")
_NEVER_CONNECTED_NAMES = frozenset({"ConnectError", "ConnectionRefusedError", "ClientConnectorError"})


def _never_connected(exc: BaseException, names: set[str], message: str) -> bool:
    """A connection that was never made (refused, nothing listening), as opposed to one that broke."""
    return bool(names & _NEVER_CONNECTED_NAMES) or bool(_NEVER_CONNECTED.search(message))


# Where an exception comes from when it is a provider's doing (or the network's): the HTTP stacks.
_PROVIDER_SIDE_MODULES = ("httpx", "httpcore", "h11", "h2", "openai", "litellm", "aiohttp", "anyio", "ssl")


def is_provider_failure(exc: BaseException) -> bool:
    """True when ``exc`` says something about a provider (or the way to it): our own
    :class:`~tppc_router.errors.ProviderError`, a timeout, a socket error, an HTTP status,
    or an exception of the HTTP stacks (httpx, openai, litellm...). False for a plain bug
    in our own code (``TypeError``, ``KeyError``, ``ValueError``...): that is a 500 for
    that request and never a failure charged to a provider."""
    if isinstance(exc, ProviderError | TimeoutError | OSError):
        return True
    if isinstance(_status_of(exc), int):
        return True
    return any(cls.__module__.split(".", 1)[0] in _PROVIDER_SIDE_MODULES for cls in type(exc).__mro__)


_REFUSED = re.compile(r"(?i)connection refused|cannot connect to host|connect call failed|connection reset")
# litellm's wording around a provider's error: "litellm.X: X: OpenAIException - <error>\n\nLiteLLM: model group ..."
_LITELLM_PREFIX = re.compile(r"^litellm\.\w+: (?:\w+: )?(?:\w*Exception - )?")
_LITELLM_SUFFIX = re.compile(r"\s*LiteLLM: model group .*$", re.DOTALL)


def _message(exc: BaseException) -> str:
    try:
        text = str(exc).strip()
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the failure
        text = ""
    if text.startswith("litellm."):
        text = f"{type(exc).__name__}: " + _LITELLM_SUFFIX.sub("", _LITELLM_PREFIX.sub("", text))
    elif type(exc).__name__ == "HTTPStatusError":  # httpx: say the status and the provider's own words, no URL
        body = _response_json(exc)
        error = body.get("error") if isinstance(body, dict) else None
        detail = error.get("message") if isinstance(error, dict) else None
        status = _status_of(exc)
        text = f"HTTP {status}" + (f": {detail}" if isinstance(detail, str) and detail else "")
        return mask_text(text)[:_MAX_MESSAGE]
    name = type(exc).__name__
    if not isinstance(exc, ProviderError) and not text.startswith("litellm.") and name not in text:
        text = f"{name}: {text}" if text else name  # "ConnectError: refused" says more than "refused"
    text = mask_text(text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _status_of(exc: BaseException) -> int | None:
    values = [getattr(exc, name, None) for name in ("provider_status_code", "status_code", "status")]
    for value in [*values, getattr(_response_of(exc), "status_code", None)]:
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    return None


def _response_of(exc: BaseException) -> Any:
    try:
        return getattr(exc, "response", None)
    except RuntimeError:  # httpx raises when a request/response was never set
        return None


def _provider_code(exc: BaseException, names: set[str], message: str) -> str | None:
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code and not code.isdigit():
        return code
    code = _code_from_body(getattr(exc, "body", None)) or _code_from_body(_response_json(exc))
    if code:
        return code
    for name, known in _CODE_BY_CLASS.items():
        if name in names:
            return known
    match = _KNOWN_CODES.search(message)
    return match.group(1) if match else None


def _code_from_body(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        code = (error if isinstance(error, dict) else body).get("code")
        if isinstance(code, str) and code and not code.isdigit():
            return code
    return None


def _response_json(exc: BaseException) -> object:
    response = _response_of(exc)
    try:
        content = response.content if response is not None else b""
        if isinstance(content, bytes) and 0 < len(content) <= 65_536:
            return json.loads(content)
    except (AttributeError, RuntimeError, TypeError, ValueError):  # not read, not JSON
        return None
    return None


# --------------------------------------------------------------------------- Retry-After


def _seconds(value: str) -> float | None:
    """A non-negative finite number, or ``None``."""
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def parse_retry_after(value: str, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value: delta-seconds or an HTTP date
    (relative to ``now``, default the wall clock). ``None`` when unparseable;
    a date in the past gives 0; at most a day."""
    seconds = _seconds(value)
    if seconds is None:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
    return min(seconds, MAX_RETRY_AFTER_S)


def retry_after_from(exc: BaseException, *, now: datetime | None = None) -> float | None:
    """Retry-After of an exception, from ``exc.headers``, ``exc.response.headers``
    or litellm's ``exc.litellm_response_headers``; ``retry-after-ms`` wins."""
    for source in (getattr(exc, "headers", None), getattr(_response_of(exc), "headers", None)):
        found = _retry_after_in(source, now)
        if found is not None:
            return found
    return _retry_after_in(getattr(exc, "litellm_response_headers", None), now)


def _retry_after_in(headers: object, now: datetime | None) -> float | None:
    items = getattr(headers, "items", None)
    if not callable(items):
        return None
    try:
        lowered = {str(k).lower(): str(v) for k, v in items()}
    except (AttributeError, TypeError, ValueError):  # odd header containers
        return None
    millis = _seconds(lowered.get("retry-after-ms", ""))
    if millis is not None:
        return min(millis / 1000.0, MAX_RETRY_AFTER_S)
    if "retry-after" in lowered:
        return parse_retry_after(lowered["retry-after"], now=now)
    return None
