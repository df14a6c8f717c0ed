"""Which provider failure is retried, which fails over, and which goes back as is.

:func:`classify` turns any exception (litellm, openai SDK, httpx, our own
:class:`~tppc_router.errors.ProviderError`, ``TimeoutError``) into a
:class:`Failure`. :func:`decide` applies the fault table to it under a
:class:`RouterPolicy`; :func:`apply_decision` feeds the result to a breaker, and
:func:`same_provider_retrying` lets tenacity drive the quick same-provider retry.

Exceptions are matched by duck typing (class names along the MRO, ``status_code``,
``response.headers``), so importing this module never imports litellm, openai or
httpx.

Fault table (``decide``)::

    CONNECTION, SERVER (5xx)          quick jittered retry (same_provider_retries), then fail over; counts
      ... 5xx with Retry-After        fail over, block until Retry-After; counts
    RATE_LIMITED + Retry-After        fail over, block until Retry-After; not a health failure
    RATE_LIMITED, no Retry-After      fail over, block for a jittered rate_limit_backoff_s; counts
    AUTH (401/402/403, quota gone)    fail over, open for auth_cooldown_s
    NOT_FOUND (404)                   fail over, open for not_found_cooldown_s
    FIRST_BYTE/FIRST_TOKEN_TIMEOUT,   fail over, never retry here, open at once (default cooldown)
      TIMEOUT
    STREAM_IDLE/BROKEN, UNKNOWN       fail over; counts
    INVALID_REQUEST (400/413/422)     returned as is: no retry, no failover, not held against the provider
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

import tenacity

from tppc_router.breaker import CircuitBreaker
from tppc_router.errors import ProviderError
from tppc_router.masking import mask_text

__all__ = [
    "Decision",
    "Failure",
    "FailureKind",
    "RouterPolicy",
    "apply_decision",
    "backoff_delay",
    "classify",
    "decide",
    "is_testing",
    "parse_retry_after",
    "retry_after_from",
    "retry_same_provider",
    "same_provider_retrying",
    "set_testing",
    "wait_jittered",
]

MAX_RETRY_DELAY_S = 1.0  # same-provider retries stay sub-second
MAX_RETRY_AFTER_S = 86_400.0  # a provider cannot bench itself for more than a day
_MAX_MESSAGE = 1000
_CAUSE_DEPTH = 5


class FailureKind(StrEnum):
    """Why one attempt against one provider failed."""

    CONNECTION = "connection"  # refused, reset before headers, DNS, protocol error before headers
    SERVER = "server_error"  # 5xx
    RATE_LIMITED = "rate_limited"  # 429
    AUTH = "auth"  # 401, 402, 403, exhausted quota: this provider's credential
    NOT_FOUND = "model_not_found"  # 404 at this provider
    FIRST_BYTE_TIMEOUT = "first_byte_timeout"  # no headers / first SSE event in time
    TIMEOUT = "timeout"  # whole non-streaming call timed out
    FIRST_TOKEN_TIMEOUT = "first_token_timeout"
    STREAM_IDLE = "stream_idle"  # stream went silent mid-way
    STREAM_BROKEN = "stream_broken"  # cut mid-stream or ended without a terminal event
    INVALID_REQUEST = "invalid_request"  # 400, 413, 422: the request itself is at fault
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified failure. ``message`` is masked; ``provider_code`` is the
    provider's error code when known (``"context_length_exceeded"``)."""

    kind: FailureKind
    status: int | None = None
    retry_after: float | None = None
    message: str = ""
    provider_code: str | None = None


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
    """Turn an exception from any layer into a :class:`Failure`."""
    return _classify(exc, 0)


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
            return Failure(inner.kind, inner.status, inner.retry_after, message, inner.provider_code or code)
        if _TIMED_OUT.search(message):
            return Failure(FailureKind.TIMEOUT, None, None, message, code)
        match = _STATUS_IN_TEXT.search(message)
        if match:
            status = int(match.group(1))
            return Failure(_kind_for_status(status, code), status, retry_after, message, code)
        return Failure(FailureKind.CONNECTION, None, None, message, code)
    status = _status_of(exc)
    if status == 500 and _REFUSED.search(message):  # litellm reports a refused connection as a 500
        return Failure(FailureKind.CONNECTION, None, None, message, code)
    if status is not None:
        return Failure(_kind_for_status(status, code), status, retry_after, message, code)
    inner = _classify_cause(exc, depth)
    if inner is not None:
        return Failure(inner.kind, inner.status, inner.retry_after, message, inner.provider_code or code)
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


_REFUSED = re.compile(r"(?i)connection refused|cannot connect to host|connect call failed|connection reset")
# litellm's wording around a provider's error: "litellm.X: X: OpenAIException - <error>\n\nLiteLLM: model group ..."
_LITELLM_PREFIX = re.compile(r"^litellm\.\w+: (?:\w+: )?(?:\w*Exception - )?")
_LITELLM_SUFFIX = re.compile(r"\s*LiteLLM: model group .*$", re.S)


def _message(exc: BaseException) -> str:
    try:
        text = str(exc).strip()
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the failure
        text = ""
    if text.startswith("litellm."):
        text = f"{type(exc).__name__}: " + _LITELLM_SUFFIX.sub("", _LITELLM_PREFIX.sub("", text))
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


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class RouterPolicy:
    """Retry, failover and timeout settings (the ``router:`` config section)."""

    same_provider_retries: int = 1  # quick retries on the same provider for CONNECTION/SERVER
    retry_backoff_s: float = 0.2  # base of the jittered sub-second backoff (capped at 1 s)
    rate_limit_backoff_s: float = 1.0  # 429 without Retry-After: provider benched for base..2*base
    auth_cooldown_s: float = 300.0  # 401/402/403: provider cools for minutes
    not_found_cooldown_s: float = 300.0  # 404 for that model
    failure_threshold: int = 3  # consecutive failures that open a breaker
    cooldown_s: float = 30.0  # default breaker cooldown
    total_budget_s: float = 600.0  # per request, all attempts together
    first_byte_timeout_s: float = 10.0  # headers / first SSE event
    first_token_timeout_s: float | None = None  # first output token; None = no separate limit
    stream_idle_timeout_s: float = 300.0  # silence mid-stream
    timeout_s: float = 600.0  # whole non-streaming call
    max_cooldown_wait_s: float = 10.0  # every provider cooling: wait this long at most for the first one back

    def __post_init__(self) -> None:
        durations = [self.retry_backoff_s, self.rate_limit_backoff_s, self.auth_cooldown_s, self.not_found_cooldown_s]
        durations += [self.cooldown_s, self.max_cooldown_wait_s]
        if self.same_provider_retries < 0 or self.failure_threshold < 1 or min(durations) < 0:
            raise ValueError("RouterPolicy: retries and durations must not be negative, failure_threshold >= 1")


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after one failed attempt. The breaker side is applied by
    :func:`apply_decision`."""

    retry_same: bool  # one more try on the same provider (after ``delay_s``)
    failover: bool  # move to the next provider
    delay_s: float  # jittered delay before the retry (0 when failing over)
    open_breaker: bool  # open the breaker at once
    cooldown_s: float | None  # how long to block this provider; None = breaker default
    count_failure: bool  # counts towards the breaker's failure run


_RNG = random.Random()
_RETURN_AS_IS = Decision(False, False, 0.0, False, None, False)
_OPEN_AT_ONCE = frozenset({FailureKind.FIRST_BYTE_TIMEOUT, FailureKind.TIMEOUT, FailureKind.FIRST_TOKEN_TIMEOUT})


def _failover(*, open_breaker: bool = False, cooldown_s: float | None = None, count: bool = True) -> Decision:
    return Decision(False, True, 0.0, open_breaker, cooldown_s, count)


def backoff_delay(policy: RouterPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Jittered exponential delay before same-provider retry ``attempt`` (1-based), at most 1 s."""
    base = policy.retry_backoff_s * 2.0 ** max(attempt - 1, 0)
    return min(MAX_RETRY_DELAY_S, base * (rng or _RNG).uniform(0.5, 1.5))


def decide(
    failure: Failure, *, attempt_on_provider: int, policy: RouterPolicy, rng: random.Random | None = None
) -> Decision:
    """Apply the fault table. ``attempt_on_provider`` counts the attempts this
    provider has had for this request, including the one that just failed."""
    kind = failure.kind
    if kind is FailureKind.INVALID_REQUEST:
        return _RETURN_AS_IS
    if kind in (FailureKind.CONNECTION, FailureKind.SERVER):
        if failure.retry_after is not None:
            return _failover(cooldown_s=failure.retry_after)
        if attempt_on_provider <= policy.same_provider_retries:
            delay = backoff_delay(policy, attempt_on_provider, rng)
            return Decision(True, False, delay, False, None, True)
        return _failover()
    if kind is FailureKind.RATE_LIMITED:
        if failure.retry_after is not None:
            return _failover(open_breaker=True, cooldown_s=failure.retry_after, count=False)
        return _failover(cooldown_s=policy.rate_limit_backoff_s * (rng or _RNG).uniform(1.0, 2.0))
    if kind is FailureKind.AUTH:
        return _failover(open_breaker=True, cooldown_s=policy.auth_cooldown_s)
    if kind is FailureKind.NOT_FOUND:
        return _failover(open_breaker=True, cooldown_s=policy.not_found_cooldown_s)
    if kind in _OPEN_AT_ONCE:
        return _failover(open_breaker=True)
    return _failover()  # STREAM_IDLE, STREAM_BROKEN, UNKNOWN


def apply_decision(breaker: CircuitBreaker, decision: Decision) -> None:
    """Tell the breaker what a decision means for it.

    * ``count_failure``: a failure (opening at once with ``cooldown_s`` if ``open_breaker``);
      a ``cooldown_s`` without ``open_breaker`` (429, 503 + Retry-After) also blocks that long.
    * not counted but ``open_breaker``/``cooldown_s`` (429 + Retry-After): only blocks.
    * neither (invalid request): the provider answered, so it counts as a success
      (a half-open probe closes).
    """
    if decision.count_failure:
        breaker.record_failure(
            open_now=decision.open_breaker, cooldown_s=decision.cooldown_s if decision.open_breaker else None
        )
        if decision.cooldown_s is not None and not decision.open_breaker:
            breaker.block_until(breaker.clock() + decision.cooldown_s)
    elif decision.open_breaker or decision.cooldown_s is not None:
        cooldown = breaker.cooldown_s if decision.cooldown_s is None else decision.cooldown_s
        breaker.block_until(breaker.clock() + cooldown)
    else:
        breaker.record_success()


# --------------------------------------------------------------------------- tenacity

_testing = False


def set_testing(testing: bool) -> None:
    """Test mode: the default backoff sleeps return at once. Decisions and
    computed delays are unchanged."""
    global _testing
    _testing = testing


def is_testing() -> bool:
    return _testing


async def _async_sleep(seconds: float) -> None:
    await asyncio.sleep(0 if _testing else seconds)


def _decision(retry_state: tenacity.RetryCallState, policy: RouterPolicy, rng: random.Random | None) -> Decision | None:
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None and outcome.failed else None
    if exc is None:
        return None
    return decide(classify(exc), attempt_on_provider=retry_state.attempt_number, policy=policy, rng=rng)


class retry_same_provider(tenacity.retry_base):
    """Tenacity retry strategy: retry only when :func:`decide` says ``retry_same``."""

    def __init__(self, policy: RouterPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        decision = _decision(retry_state, self.policy, _RNG)
        return decision is not None and decision.retry_same


class wait_jittered(tenacity.wait.wait_base):
    """Tenacity wait strategy: the ``delay_s`` of :func:`decide` for the failure."""

    def __init__(self, policy: RouterPolicy, *, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.rng = rng

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        decision = _decision(retry_state, self.policy, self.rng)
        return 0.0 if decision is None else decision.delay_s


BeforeSleep = Callable[[tenacity.RetryCallState], Awaitable[None] | None]


def _retrying_kwargs(policy: RouterPolicy, rng: random.Random | None) -> dict[str, Any]:
    return {
        "stop": tenacity.stop_after_attempt(policy.same_provider_retries + 1),
        "wait": wait_jittered(policy, rng=rng),
        "retry": retry_same_provider(policy),
        "reraise": True,
    }


def same_provider_retrying(
    policy: RouterPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    rng: random.Random | None = None,
    before_sleep: BeforeSleep | None = None,
) -> tenacity.AsyncRetrying:
    """Tenacity driving the quick retries on one provider::

        async for attempt in same_provider_retrying(policy):
            with attempt:
                return await call_provider()

    Retries only what :func:`decide` marks ``retry_same`` (at most
    ``same_provider_retries`` times) and re-raises the last exception, for the
    caller to classify and fail over. The default sleep honours :func:`set_testing`;
    an explicit ``sleep`` gets the real delay.
    """
    kwargs = _retrying_kwargs(policy, rng)
    return tenacity.AsyncRetrying(sleep=sleep or _async_sleep, before_sleep=before_sleep, **kwargs)
