"""Failover policy: classify real exceptions and apply the fault table."""

from __future__ import annotations

import inspect

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TypedDict

import httpx
import httpx2
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litellm import exceptions as lx

from tppc_router import masking
from tppc_router.routing.breaker import BreakerState, CircuitBreaker
from tppc_router.clock import ManualClock
from tppc_router.errors import ProviderError, StreamInterruptedError
from tppc_router.routing.classify import is_provider_failure
from tppc_router.routing.failover import (
    Decision,
    Failure,
    FailureKind,
    RouterPolicy,
    apply_decision,
    classify,
    decide,
    is_testing,
    parse_retry_after,
    retry_after_from,
    set_testing,
)

URL = "http://127.0.0.1/v1/responses"
REQUEST = httpx.Request("POST", URL)
CANARY = "sk-canary-XYZ123456789"
POLICY = RouterPolicy()
K = FailureKind


def reply(status: int, headers: dict[str, str] | None = None, json: object = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, json=json, request=REQUEST)


def sdk_reply(status: int, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, headers=headers, request=httpx2.Request("POST", URL))


class _Origin(TypedDict):
    llm_provider: str
    model: str


LL = _Origin(llm_provider="openai", model="gpt-5")


@pytest.fixture
def testing_mode() -> Iterator[None]:
    set_testing(True)
    yield
    set_testing(False)


@pytest.fixture
def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> masking.SecretRegistry:
    registry = masking.SecretRegistry()
    monkeypatch.setattr(masking, "secrets", registry)
    return registry


# ----------------------------------------------------------------------------- classify: litellm

LITELLM_CASES = [
    (lx.InternalServerError(message="boom", **LL), K.SERVER, 500),
    (lx.ServiceUnavailableError(message="down", **LL), K.SERVER, 503),
    (lx.BadGatewayError(message="bad gateway", **LL), K.SERVER, 502),
    (lx.APIError(status_code=503, message="x", **LL), K.SERVER, 503),
    (lx.APIError(status_code=418, message="teapot", **LL), K.UNKNOWN, 418),
    (lx.APIConnectionError(message="Connection error.", **LL), K.CONNECTION, None),
    (lx.AuthenticationError(message="bad key", **LL), K.AUTH, 401),
    (lx.PaymentRequiredError(message="pay up", **LL), K.AUTH, 402),
    (lx.PermissionDeniedError(message="no", response=reply(403), **LL), K.AUTH, 403),
    (lx.NotFoundError(message="model gpt-9 does not exist", **LL), K.NOT_FOUND, 404),
    (lx.NotFoundError(message="route /v1/responses not found", **LL), K.CONFIG, 404),
    (lx.BadRequestError(message="invalid input", **LL), K.INVALID_REQUEST, 400),
    (lx.UnprocessableEntityError(message="bad schema", response=reply(422), **LL), K.INVALID_REQUEST, 422),
    (lx.Timeout(message="Request timed out", **LL), K.TIMEOUT, None),
    (lx.RateLimitError(message="slow down", **LL), K.RATE_LIMITED, 429),
]


@pytest.mark.parametrize(("exc", "kind", "status"), LITELLM_CASES, ids=lambda v: type(v).__name__)
def test_classify_litellm_exceptions(exc: Exception, kind: FailureKind, status: int | None) -> None:
    """Each litellm exception type maps to its failure kind and real HTTP status."""
    failure = classify(exc)
    assert (failure.kind, failure.status) == (kind, status)
    assert failure.message


def test_litellm_rate_limit_retry_after_from_response_headers() -> None:
    """A litellm 429 reads Retry-After from the upstream response headers."""
    exc = lx.RateLimitError(message="slow down", response=reply(429, {"retry-after": "7"}), **LL)
    assert classify(exc) == Failure(K.RATE_LIMITED, 429, 7.0, "RateLimitError: slow down", None)


def test_litellm_retry_after_from_litellm_response_headers() -> None:
    """Retry-After attached by litellm's exception mapping (litellm_response_headers) is used."""
    exc = lx.ServiceUnavailableError(message="busy", **LL)
    exc.litellm_response_headers = httpx.Headers({"Retry-After": "12"})  # type: ignore[attr-defined]
    assert classify(exc).retry_after == 12.0


def test_litellm_retry_after_ms_from_explicit_headers() -> None:
    """Headers passed to litellm's RateLimitError (retry-after-ms) are read too."""
    exc = lx.RateLimitError(message="slow", headers={"retry-after-ms": "250"}, **LL)
    assert classify(exc).retry_after == 0.25


def test_litellm_provider_codes() -> None:
    """Context-window and content-policy errors are invalid requests with their provider code."""
    ctx = classify(lx.ContextWindowExceededError(message="too long", **LL))
    policy = classify(lx.ContentPolicyViolationError(message="nope", **LL))
    assert (ctx.kind, ctx.provider_code) == (K.INVALID_REQUEST, "context_length_exceeded")
    assert (policy.kind, policy.provider_code) == (K.INVALID_REQUEST, "content_policy_violation")


def test_litellm_gateway_timeout_is_a_server_error() -> None:
    """litellm maps a 504 reply to Timeout; the provider answered, so it is a 5xx."""
    failure = classify(lx.Timeout(message="gateway timeout", exception_status_code=504, **LL))
    assert (failure.kind, failure.status) == (K.SERVER, 504)


@pytest.mark.skipif("provider_status_code" not in inspect.signature(lx.InternalServerError).parameters,
                    reason="this litellm's InternalServerError has no provider_status_code (1.106.2)")
def test_litellm_internal_server_error_keeps_provider_status() -> None:
    """An InternalServerError that carries provider_status_code reports that status."""
    exc = lx.InternalServerError(message="overloaded", provider_status_code=529, **LL)
    assert (classify(exc).kind, classify(exc).status) == (K.SERVER, 529)


def test_litellm_connection_error_wrapping_a_5xx_or_timeout() -> None:
    """A litellm APIConnectionError whose text or cause says more is classified by that."""
    wrapped_5xx = lx.APIConnectionError(message="OpenAIException - Error code: 502 - bad gateway", **LL)
    wrapped_timeout = lx.APIConnectionError(message="OpenAIException - Request timed out.", **LL)
    with_cause = lx.APIConnectionError(message="Connection error.", **LL)
    with_cause.__cause__ = httpx.ConnectTimeout("connect timed out", request=REQUEST)
    assert (classify(wrapped_5xx).kind, classify(wrapped_5xx).status) == (K.SERVER, 502)
    assert classify(wrapped_timeout).kind is K.TIMEOUT
    assert classify(with_cause).kind is K.FIRST_BYTE_TIMEOUT


# ----------------------------------------------------------------------------- classify: httpx, openai, ours


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused", request=REQUEST), K.CONNECTION),
        (httpx.RemoteProtocolError("peer closed connection without sending headers"), K.CONNECTION),
        (httpx.ReadError("connection reset"), K.CONNECTION),
        (httpx.ConnectTimeout("timed out", request=REQUEST), K.FIRST_BYTE_TIMEOUT),
        (httpx.ReadTimeout("timed out", request=REQUEST), K.TIMEOUT),
        (httpx.PoolTimeout("pool exhausted"), K.TIMEOUT),
        (TimeoutError(), K.TIMEOUT),
        (ConnectionRefusedError(111, "refused"), K.CONNECTION),
        (ValueError("something odd"), K.UNKNOWN),
    ],
    ids=lambda v: type(v).__name__,
)
def test_classify_transport_exceptions(exc: BaseException, kind: FailureKind) -> None:
    """httpx transport errors, builtin timeouts and connection errors map to their kinds."""
    assert classify(exc).kind is kind


def test_classify_httpx_status_errors() -> None:
    """httpx.HTTPStatusError is classified by its response, including Retry-After and body code."""
    unavailable = httpx.HTTPStatusError("503", request=REQUEST, response=reply(503, {"Retry-After": "4"}))
    too_long = httpx.HTTPStatusError(
        "400", request=REQUEST, response=reply(400, json={"error": {"code": "context_length_exceeded"}})
    )
    assert classify(unavailable) == Failure(K.SERVER, 503, 4.0, "HTTP 503", None)
    assert (classify(too_long).kind, classify(too_long).provider_code) == (K.INVALID_REQUEST, "context_length_exceeded")
    assert classify(httpx.HTTPStatusError("413", request=REQUEST, response=reply(413))).kind is K.INVALID_REQUEST


def test_classify_openai_sdk_exceptions() -> None:
    """openai SDK status, connection and timeout errors are understood by duck typing."""
    limited = openai.RateLimitError("slow", response=sdk_reply(429, {"retry-after-ms": "1500"}), body=None)
    quota = openai.RateLimitError("quota", response=sdk_reply(429), body={"code": "insufficient_quota"})
    request = httpx2.Request("POST", URL)
    assert (classify(limited).kind, classify(limited).retry_after) == (K.RATE_LIMITED, 1.5)
    assert classify(quota).kind is K.AUTH
    assert classify(openai.APIStatusError("x", response=sdk_reply(500), body=None)).kind is K.SERVER
    assert classify(openai.APIConnectionError(request=request)).kind is K.CONNECTION
    assert classify(openai.APITimeoutError(request=request)).kind is K.TIMEOUT


def test_classify_provider_error_uses_its_own_fields() -> None:
    """Our ProviderError is already classified: kind, status and retry_after are taken as is."""
    failure = classify(ProviderError("slow", provider="acme", status_code=429, kind="rate_limited", retry_after=3))
    assert (failure.kind, failure.status, failure.retry_after) == (K.RATE_LIMITED, 429, 3)
    idle = classify(ProviderError("no bytes for 300 s", provider="acme", kind="stream_idle"))
    assert (idle.kind, idle.status) == (K.STREAM_IDLE, None)
    by_status = classify(ProviderError("odd", provider="acme", status_code=401))
    assert by_status.kind is K.AUTH
    broken = classify(StreamInterruptedError("cut", provider="acme", text="par", cause_kind="stream_broken"))
    assert (broken.kind, broken.provider_code) == (K.STREAM_BROKEN, "stream_interrupted")


def test_classify_follows_the_cause_of_an_unknown_wrapper() -> None:
    """An unknown exception raised from a known one is classified by its cause."""
    try:
        try:
            raise httpx.ConnectError("refused", request=REQUEST)
        except httpx.ConnectError as err:
            raise RuntimeError("upstream failed") from err
    except RuntimeError as exc:
        failure = classify(exc)
    assert (failure.kind, failure.message) == (K.CONNECTION, "RuntimeError: upstream failed")


# ----------------------------------------------------------------------------- masking


def test_registered_canary_key_is_masked(fresh_secrets: masking.SecretRegistry) -> None:
    """A provider key echoed in an error message never reaches Failure.message."""
    fresh_secrets.add(CANARY)
    exc = lx.AuthenticationError(message=f"Incorrect API key provided: {CANARY}", **LL)
    failure = classify(exc)
    assert CANARY not in failure.message
    assert "sk-c...6789" in failure.message


def test_bearer_and_query_keys_are_masked_without_registration(fresh_secrets: masking.SecretRegistry) -> None:
    """Keys in an Authorization header or api-key query parameter are masked even if unknown."""
    header = httpx.ConnectError(f"failed with headers {{'Authorization': 'Bearer {CANARY}'}}", request=REQUEST)
    query = httpx.HTTPStatusError(f"error for url {URL}?api-key={CANARY}", request=REQUEST, response=reply(500))
    assert CANARY not in classify(header).message
    assert CANARY not in classify(query).message


def test_long_messages_are_truncated() -> None:
    """Failure.message stays short enough for logs and attempt lists."""
    assert len(classify(RuntimeError("x" * 10_000)).message) <= 1000


# ----------------------------------------------------------------------------- Retry-After

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("999999999", 86_400.0),
        ("soon", None),
        ("-3", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    """Retry-After accepts delta-seconds and HTTP dates, clamps to a day, rejects junk."""
    assert parse_retry_after(value, now=NOW) == seconds


def test_retry_after_ms_wins_over_retry_after() -> None:
    """retry-after-ms is more precise than retry-after and is preferred."""
    exc = httpx.HTTPStatusError(
        "429", request=REQUEST, response=reply(429, {"retry-after": "9", "retry-after-ms": "40"})
    )
    assert retry_after_from(exc) == 0.04


def test_retry_after_http_date_on_an_exception() -> None:
    """An HTTP-date Retry-After on a response is turned into seconds from now."""
    date = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    exc = httpx.HTTPStatusError("429", request=REQUEST, response=reply(429, {"Retry-After": date}))
    assert retry_after_from(exc, now=NOW) == 90.0


# ----------------------------------------------------------------------------- decide: the fault table


def fail(kind: FailureKind, retry_after: float | None = None) -> Failure:
    return Failure(kind, None, retry_after, "x", None)


@pytest.mark.parametrize("kind", [K.CONNECTION, K.SERVER])
def test_connection_and_server_errors_retry_once_then_fail_over(kind: FailureKind) -> None:
    """CONNECTION/SERVER: one quick sub-second retry on the same provider, then failover; both count."""
    first = decide(fail(kind), attempt_on_provider=1, policy=POLICY, rng=random.Random(1))
    second = decide(fail(kind), attempt_on_provider=2, policy=POLICY)
    assert first.retry_same and not first.failover and first.count_failure and not first.open_breaker
    assert 0.1 <= first.delay_s <= 0.3
    assert second == Decision(False, True, 0.0, False, None, True)


def test_no_same_provider_retry_when_disabled() -> None:
    """same_provider_retries=0 fails over on the first 5xx."""
    decision = decide(fail(K.SERVER), attempt_on_provider=1, policy=RouterPolicy(same_provider_retries=0))
    assert decision.failover and not decision.retry_same


def test_server_error_with_retry_after_fails_over_and_blocks() -> None:
    """A 503 with Retry-After is not retried; the provider is blocked that long."""
    decision = decide(fail(K.SERVER, 20.0), attempt_on_provider=1, policy=POLICY)
    assert decision == Decision(False, True, 0.0, False, 20.0, True)


def test_rate_limited_with_retry_after() -> None:
    """429 + Retry-After: no retry, fail over at once, block until Retry-After, not a health failure."""
    decision = decide(fail(K.RATE_LIMITED, 7.0), attempt_on_provider=1, policy=POLICY)
    assert decision == Decision(False, True, 0.0, True, 7.0, False)


def test_rate_limited_without_retry_after() -> None:
    """429 without Retry-After: fail over, count a failure, bench the provider for a jittered backoff."""
    decision = decide(fail(K.RATE_LIMITED), attempt_on_provider=1, policy=POLICY)
    assert decision.failover and not decision.retry_same and decision.count_failure and not decision.open_breaker
    assert decision.cooldown_s is not None and 1.0 <= decision.cooldown_s <= 2.0


@pytest.mark.parametrize(
    ("kind", "cooldown"), [(K.AUTH, POLICY.auth_cooldown_s), (K.NOT_FOUND, POLICY.not_found_cooldown_s)]
)
def test_auth_and_not_found_open_for_minutes(kind: FailureKind, cooldown: float) -> None:
    """AUTH and NOT_FOUND fail over and open the breaker at once for their long cooldown."""
    assert decide(fail(kind), attempt_on_provider=1, policy=POLICY) == Decision(False, True, 0.0, True, cooldown, True)


@pytest.mark.parametrize("kind", [K.FIRST_BYTE_TIMEOUT, K.TIMEOUT, K.FIRST_TOKEN_TIMEOUT])
def test_timeouts_never_retry_and_open_at_once(kind: FailureKind) -> None:
    """Timeouts fail over, never retry the same provider and open its breaker at once."""
    assert decide(fail(kind), attempt_on_provider=1, policy=POLICY) == Decision(False, True, 0.0, True, None, True)


@pytest.mark.parametrize("kind", [K.STREAM_IDLE, K.STREAM_BROKEN, K.UNKNOWN])
def test_stream_and_unknown_failures_fail_over_and_count(kind: FailureKind) -> None:
    """Broken or idle streams and unknown errors fail over and count towards the breaker."""
    assert decide(fail(kind), attempt_on_provider=1, policy=POLICY) == Decision(False, True, 0.0, False, None, True)


@pytest.mark.parametrize(
    "bad",
    [{"same_provider_retries": -1}, {"failure_threshold": 0}, {"retry_backoff_s": -0.1}, {"cooldown_s": -1.0}],
)
def test_policy_rejects_nonsense(bad: dict[str, float]) -> None:
    """RouterPolicy refuses negative retries or durations and a zero failure threshold."""
    with pytest.raises(ValueError):
        RouterPolicy(**bad)  # type: ignore[arg-type]


def test_invalid_request_is_returned_as_is() -> None:
    """400/413/422 are the caller's problem: no retry, no failover, no breaker impact."""
    exc = lx.ContextWindowExceededError(message="too long", **LL)
    decision = decide(classify(exc), attempt_on_provider=1, policy=POLICY)
    assert decision == Decision(False, False, 0.0, False, None, False)


@given(
    kind=st.sampled_from(list(FailureKind)),
    attempt=st.integers(min_value=1, max_value=10),
    retries=st.integers(min_value=0, max_value=5),
    backoff=st.floats(min_value=0.0, max_value=10.0),
    retry_after=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1000.0)),
)
def test_decisions_are_coherent(
    kind: FailureKind, attempt: int, retries: int, backoff: float, retry_after: float | None
) -> None:
    """Never both retry and failover; a delay only with a retry, at most 1 s; retries bounded."""
    policy = RouterPolicy(same_provider_retries=retries, retry_backoff_s=backoff)
    decision = decide(fail(kind, retry_after), attempt_on_provider=attempt, policy=policy)
    assert not (decision.retry_same and decision.failover)
    assert 0.0 <= decision.delay_s <= 1.0
    assert decision.delay_s == 0.0 or decision.retry_same
    assert not decision.retry_same or attempt <= retries
    assert decision.failover or decision.retry_same or kind is K.INVALID_REQUEST


# ----------------------------------------------------------------------------- apply_decision


def breaker_after(failure: Failure, *, attempt: int = 1) -> tuple[CircuitBreaker, ManualClock]:
    clock = ManualClock()
    breaker = CircuitBreaker("acme", "gpt-5", failure_threshold=3, cooldown_s=30.0, clock=clock)
    apply_decision(breaker, decide(failure, attempt_on_provider=attempt, policy=POLICY))
    return breaker, clock


def test_apply_auth_opens_for_auth_cooldown() -> None:
    """An auth failure opens the breaker for auth_cooldown_s."""
    breaker, clock = breaker_after(fail(K.AUTH))
    assert breaker.state is BreakerState.OPEN and breaker.retry_at == clock.now + 300.0


def test_apply_retry_after_blocks_without_counting() -> None:
    """429 + Retry-After blocks until then but is not counted as a failure."""
    breaker, clock = breaker_after(fail(K.RATE_LIMITED, 7.0))
    assert breaker.retry_at == clock.now + 7.0
    assert breaker.snapshot().total_failures == 0


def test_apply_rate_limit_without_retry_after_counts_and_benches() -> None:
    """429 without Retry-After counts one failure and benches the provider for 1-2 s."""
    breaker, clock = breaker_after(fail(K.RATE_LIMITED))
    assert breaker.snapshot().total_failures == 1
    assert breaker.retry_at is not None and 1.0 <= breaker.retry_at - clock.now <= 2.0


def test_apply_server_error_counts_but_stays_closed() -> None:
    """A single 5xx counts towards the failure run without opening the breaker."""
    breaker, _ = breaker_after(fail(K.SERVER))
    assert breaker.state is BreakerState.CLOSED and breaker.snapshot().consecutive_failures == 1


def test_apply_timeout_opens_with_default_cooldown() -> None:
    """A timeout opens the breaker at once for its default cooldown."""
    breaker, clock = breaker_after(fail(K.FIRST_BYTE_TIMEOUT))
    assert breaker.retry_at == clock.now + 30.0


def test_apply_invalid_request_closes_a_half_open_probe() -> None:
    """A 400 shows the provider is up: it is not a failure, and a half-open probe closes."""
    clock = ManualClock()
    breaker = CircuitBreaker("acme", "gpt-5", failure_threshold=1, cooldown_s=30.0, clock=clock)
    breaker.record_failure()
    clock.advance(30)
    assert breaker.allow()
    apply_decision(breaker, decide(fail(K.INVALID_REQUEST), attempt_on_provider=1, policy=POLICY))
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().total_failures == 1


# ----------------------------------------------------------------------------- refused, own bugs


def test_refused_connection_fails_over_at_once_and_opens() -> None:
    """A connection that was never made is not retried on the same provider: fail over and open at once."""
    failure = classify(httpx.ConnectError("[Errno 111] Connection refused", request=REQUEST))
    assert failure.kind is K.CONNECTION and failure.refused
    decision = decide(failure, attempt_on_provider=1, policy=POLICY)
    assert (decision.retry_same, decision.failover, decision.open_breaker) == (False, True, True)


def test_broken_connection_is_retried_once() -> None:
    """A connection that broke after it was made (reset) keeps the quick same-provider retry."""
    failure = classify(httpx.ReadError("connection reset by peer", request=REQUEST))
    assert failure.kind is K.CONNECTION and not failure.refused
    assert decide(failure, attempt_on_provider=1, policy=POLICY).retry_same


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("x", request=REQUEST), lx.InternalServerError(message="boom", **LL),
     openai.APIConnectionError(request=httpx2.Request("POST", URL)), TimeoutError(), ConnectionResetError(),
     ProviderError("p: cut", provider="p", kind="stream_broken")],
    ids=lambda v: type(v).__name__,
)
def test_provider_failures_are_recognised(exc: BaseException) -> None:
    """Errors of the HTTP stacks, timeouts, socket errors and our ProviderError are a provider's doing."""
    assert is_provider_failure(exc)


@pytest.mark.parametrize("exc", [TypeError("x"), KeyError("reasoning"), ValueError("dict update"),
                                 AttributeError("no"), AssertionError()], ids=lambda v: type(v).__name__)
def test_own_bugs_are_not_provider_failures(exc: BaseException) -> None:
    """A plain bug in our own code is not charged to any provider."""
    assert not is_provider_failure(exc)


# The same-provider retry itself runs in the engine: tests/routing/test_engine.py.


def test_set_testing_toggles() -> None:
    """set_testing switches test mode on and off."""
    before = is_testing()
    try:
        set_testing(True)
        assert is_testing()
        set_testing(False)
        assert not is_testing()
    finally:
        set_testing(before)


def test_importing_does_not_import_litellm() -> None:
    """breaker and failover stay light: importing them pulls in neither litellm, openai nor httpx."""
    code = (
        "import sys, tppc_router.routing.breaker, tppc_router.routing.failover; "
        "print(sorted(m for m in ('litellm', 'openai', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
