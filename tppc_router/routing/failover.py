"""Which provider failure is retried, which fails over, and which goes back as is.

:func:`~tppc_router.routing.classify.classify` (re-exported here) turns any exception (litellm, openai SDK, httpx, our own
:class:`~tppc_router.errors.ProviderError`, ``TimeoutError``) into a
:class:`Failure`. :func:`decide` applies the fault table to it under a
:class:`RouterPolicy`; :func:`apply_decision` feeds the result to a breaker. The engine
(:mod:`tppc_router.routing.engine`) runs the quick same-provider retry (tenacity, once a first
attempt has failed), asking :func:`decide` after each failure.

Exceptions are matched by duck typing (class names along the MRO, ``status_code``,
``response.headers``), so importing this module never imports litellm, openai or
httpx.

Fault table (``decide``)::

    CONNECTION, SERVER (5xx)          quick jittered retry (same_provider_retries), then fail over; counts
      ... connection refused          fail over at once, open at once (default cooldown): nothing listens there
      ... 5xx with Retry-After        fail over, block until Retry-After; counts
    RATE_LIMITED + Retry-After        fail over, block until Retry-After; not a health failure
    RATE_LIMITED, no Retry-After      fail over, block for a jittered rate_limit_backoff_s; counts
    AUTH (401/402/403, quota gone)    fail over, open for auth_cooldown_s
    NOT_FOUND (404 for the model)     fail over, open for not_found_cooldown_s
    CONFIG (404 for the path)         the same; a configuration error (check base-url), said so in the reason
    FIRST_BYTE/FIRST_TOKEN_TIMEOUT,   fail over, never retry here, open at once (default cooldown)
      TIMEOUT
    STREAM_IDLE/BROKEN, UNKNOWN       fail over; counts
    INVALID_REQUEST (400/413/422)     returned as is: no retry, no failover, not held against the provider
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tppc_router.routing.breaker import CircuitBreaker
from tppc_router.routing.classify import Failure, FailureKind, classify, parse_retry_after, retry_after_from

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
    "set_testing",
]

MAX_RETRY_DELAY_S = 1.0  # same-provider retries stay sub-second


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
    total_budget_s: float = 900.0  # per request, all attempts together
    first_byte_timeout_s: float = 10.0  # headers / first SSE event
    first_token_timeout_s: float | None = None  # first output token; None = no separate limit
    stream_idle_timeout_s: float = 300.0  # silence mid-stream
    timeout_s: float = 600.0  # whole non-streaming call
    max_cooldown_wait_s: float = 10.0  # every provider cooling: wait this long at most for the first one back
    allow_client_store: bool = False  # False: a client's `store` is replaced by the provider's default (false)

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
        if failure.refused:
            return _failover(open_breaker=True)
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
    if kind in (FailureKind.NOT_FOUND, FailureKind.CONFIG):
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


# --------------------------------------------------------------------------- test mode

_testing = False


def set_testing(testing: bool) -> None:
    """Test mode: the engine's default backoff sleeps return at once. Decisions and
    computed delays are unchanged (an injected sleep gets the real delay)."""
    global _testing
    _testing = testing


def is_testing() -> bool:
    return _testing
