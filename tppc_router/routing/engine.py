"""The failover engine: tries targets in priority order, under a per-request budget.

It knows nothing of litellm or HTTP. The router and the gateway hand it the
targets (one per provider for the requested model) and an ``attempt`` function;
the engine applies the breaker, the same-provider retry (tenacity, retrying while
:func:`~tppc_router.routing.failover.decide` allows it; a healthy first attempt builds no
retry object), the
failover rules of :mod:`tppc_router.routing.failover`, and records every attempt.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never

from tppc_router.routing.breaker import BreakerRegistry
from tppc_router.clock import Clock, monotonic
from tppc_router.config.defaults import DEFAULT_REASONING_EFFORT, DEFAULT_STORE
from tppc_router.errors import AllProvidersCoolingError, AllProvidersFailedError, Attempt, Outcome
from tppc_router.routing.classify import is_provider_failure
from tppc_router.routing.failover import Decision, Failure, FailureKind, RouterPolicy, apply_decision, classify, decide, is_testing
from tppc_router.secret import Secret
from tppc_router.masking import get_logger

__all__ = ["Engine", "EngineObserver", "Target", "TargetAttempt"]

logger = get_logger("tppc_router.routing.failover")
T = TypeVar("T")

_MAX_PASSES = 3


@dataclass(frozen=True, slots=True)
class Target:
    """One provider able to serve one model: where to send it and how."""

    provider: str
    model: str  # the model name the provider is asked for
    group: str  # the model group the request named
    priority: int
    base_url: str
    api_key: Secret = field(repr=False)
    call_group: str = ""  # the litellm group that reaches only this provider
    reasoning_effort: str = DEFAULT_REASONING_EFFORT  # this provider's default (the legacy block may set its own)
    store: bool = DEFAULT_STORE


class EngineObserver(Protocol):
    def on_attempt(self, attempt: Attempt) -> None: ...

    def on_failover(self, group: str, from_provider: str, to_provider: str | None, reason: str, seconds: float) -> None: ...

    def on_stream_start(self, provider: str, group: str, seconds: float) -> None: ...


class _NullObserver:
    def on_attempt(self, attempt: Attempt) -> None:
        pass

    def on_failover(self, group: str, from_provider: str, to_provider: str | None, reason: str, seconds: float) -> None:
        pass

    def on_stream_start(self, provider: str, group: str, seconds: float) -> None:
        pass


class AttemptFailed(Exception):
    """Internal: one attempt failed, with its classification and decision."""

    def __init__(self, exc: BaseException, failure: Failure, decision: Decision) -> None:
        super().__init__(failure.message)
        self.exc = exc
        self.failure = failure
        self.decision = decision


class _RetrySame(Exception):
    """Internal: the attempt failed and the fault table allows another try on the same provider."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(f"retry the same provider after {delay_s:.3f} s")
        self.delay_s = delay_s


def _decided_wait(state: RetryCallState) -> float:
    """tenacity wait: the jittered delay :func:`~tppc_router.routing.failover.decide` chose."""
    exc = state.outcome.exception() if state.outcome is not None else None
    return exc.delay_s if isinstance(exc, _RetrySame) else 0.0


@dataclass
class TargetAttempt:
    """What an attempt function receives: the target and the time it may take."""

    target: Target
    deadline: float
    clock: Clock

    @property
    def remaining(self) -> float:
        return max(0.0, self.deadline - self.clock())


class Engine:
    """Priority failover over targets, shared by the router and the gateway."""

    def __init__(
        self,
        policy: RouterPolicy,
        breakers: BreakerRegistry,
        *,
        clock: Clock = monotonic,
        observer: EngineObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.policy = policy
        self.breakers = breakers
        self.clock = clock
        self.observer: EngineObserver = observer or _NullObserver()
        # Backoff before a same-provider retry: instant in test mode unless a sleep is injected.
        self._sleep = sleep or _sleep
        # Waiting for a cooling provider: the injected sleep, else a real one (the clock must move).
        self._cooling_sleep = sleep or asyncio.sleep
        self._rotation: dict[tuple[str, int], itertools.count[int]] = {}

    # -- ordering -----------------------------------------------------------------

    def order(self, targets: Sequence[Target], prefer: str | None = None) -> list[Target]:
        """Priority order; equal priorities take turns (round robin); ``prefer`` first."""
        ordered: list[Target] = []
        for priority, same in itertools.groupby(sorted(targets, key=lambda t: t.priority), key=lambda t: t.priority):
            tier = list(same)
            if len(tier) > 1:
                counter = self._rotation.setdefault((tier[0].group, priority), itertools.count())
                shift = next(counter) % len(tier)
                tier = tier[shift:] + tier[:shift]
            ordered.extend(tier)
        if prefer is not None:
            ordered.sort(key=lambda t: t.provider != prefer)
        return ordered

    # -- one target, with same-provider retries -------------------------------------

    async def _try_target(
        self,
        target: Target,
        attempt_fn: Callable[[TargetAttempt], Awaitable[T]],
        deadline: float,
        attempts: list[Attempt],
        record_success: bool = True,
    ) -> T:
        breaker = self.breakers.get(target.provider, target.model)
        number = 0

        async def once() -> T:
            """One attempt: its result, or :class:`_RetrySame` when the fault table allows another
            try on this provider within the budget, or :class:`AttemptFailed`."""
            nonlocal number
            number += 1
            started = self.clock()
            try:
                result = await attempt_fn(TargetAttempt(target, deadline, self.clock))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_provider_failure(exc):
                    raise  # our own bug: this request fails, the provider is not charged
                failure = classify(exc)
                decision = decide(failure, attempt_on_provider=number, policy=self.policy)
                attempt = Attempt(
                    target.provider, target.model, Outcome.of(failure.kind), failure.status, failure.message,
                    self.clock() - started,
                )
                attempts.append(attempt)
                self.observer.on_attempt(attempt)
                apply_decision(breaker, decision)
                if failure.kind is FailureKind.AUTH:
                    logger.warning(
                        "provider %s rejected its credential (%s, key %s): not used for %.0f s",
                        target.provider, failure.status, target.api_key.masked,
                        decision.cooldown_s or self.policy.auth_cooldown_s,
                    )
                if decision.retry_same and self.clock() + decision.delay_s < deadline:
                    raise _RetrySame(decision.delay_s) from exc
                raise AttemptFailed(exc, failure, decision) from exc
            if record_success:
                breaker.record_success()
            attempt = Attempt(target.provider, target.model, Outcome.OK, None, "", self.clock() - started)
            attempts.append(attempt)
            self.observer.on_attempt(attempt)
            return result

        try:
            return await once()  # the healthy path: no retry machinery at all
        except _RetrySame as first:
            await self._sleep(first.delay_s)
        # The same-provider retry, driven by tenacity: retry while the fault table says so (once()
        # raises _RetrySame), waiting the delay decide() chose; anything else ends the loop as is.
        retrying = AsyncRetrying(retry=retry_if_exception_type(_RetrySame), wait=_decided_wait, stop=stop_never,
                                 sleep=self._sleep, reraise=True)
        async for try_ in retrying:
            with try_:
                return await once()
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    # -- the whole request ----------------------------------------------------------

    async def run(
        self,
        group: str,
        targets: Sequence[Target],
        attempt_fn: Callable[[TargetAttempt], Awaitable[T]],
        *,
        prefer: str | None = None,
        on_leave: Callable[[Target], None] | None = None,
        record_success: bool = True,
        attempts: list[Attempt] | None = None,
    ) -> tuple[T, Target, list[Attempt]]:
        """Try ``targets`` until one answers. Returns (result, target, attempts).

        Raises the provider's own exception for errors that must not fail over
        (invalid request), :class:`AllProvidersCoolingError` when every provider is
        cooling down, and :class:`AllProvidersFailedError` otherwise.
        ``record_success=False`` leaves the breaker's success to the caller (a
        stream is a success only once it completes). Attempts are appended to ``attempts``
        when given (the caller sees them even when the call fails).
        """
        started = self.clock()
        deadline = started + self.policy.total_budget_s
        attempts = [] if attempts is None else attempts
        excluded: set[str] = set()
        ordered = self.order(targets, prefer)
        last_failed: tuple[Target, str, float] | None = None
        for pass_number in range(1, _MAX_PASSES + 1):
            for target in ordered:
                if target.provider in excluded:
                    continue
                if self.clock() >= deadline:
                    break
                breaker = self.breakers.get(target.provider, target.model)
                if not breaker.allow():
                    state = breaker.state.value
                    reason = "rate limited" if state == "closed" else f"breaker {state}"
                    skipped = Attempt(target.provider, target.model, Outcome.SKIPPED, None, reason)
                    attempts.append(skipped)
                    continue
                if last_failed is not None and last_failed[0].provider != target.provider:
                    self.observer.on_failover(group, last_failed[0].provider, target.provider, last_failed[1],
                                              self.clock() - last_failed[2])
                tried_at = self.clock()
                try:
                    result = await self._try_target(target, attempt_fn, deadline, attempts, record_success)
                except AttemptFailed as failed:
                    if not failed.decision.failover:
                        raise failed.exc from None
                    if failed.failure.kind is not FailureKind.RATE_LIMITED:
                        excluded.add(target.provider)  # tried and failed: not again for this request
                    if on_leave is not None:
                        on_leave(target)
                    last_failed = (target, failed.failure.kind.value, tried_at)  # the time lost on it
                    continue
                return result, target, attempts
            # Nothing answered. A provider that is only cooling (rate-limited, Retry-After) and
            # back soon is waited for, within max-cooldown-wait and the budget.
            retry_ats = [at for t in ordered if t.provider not in excluded
                         and (at := self.breakers.get(t.provider, t.model).retry_at) is not None]
            now = self.clock()
            wait = max(0.0, min(retry_ats) - now) if retry_ats else None
            if (wait is None or pass_number == _MAX_PASSES or now + wait >= deadline
                    or wait > self.policy.max_cooldown_wait_s):
                break
            await self._cooling_sleep(wait + 0.01)  # just past the retry time (a loop may wake a hair early)
        if last_failed is not None:
            self.observer.on_failover(group, last_failed[0].provider, None, last_failed[1], self.clock() - last_failed[2])
        retry_after = None
        retry_ats = [b.retry_at for t in targets if (b := self.breakers.get(t.provider, t.model)).retry_at is not None]
        if retry_ats:
            retry_after = max(0.0, min(retry_ats) - self.clock())
        if attempts and all(a.outcome in (Outcome.SKIPPED, Outcome.RATE_LIMITED) for a in attempts) and retry_after is not None:
            raise AllProvidersCoolingError(group, attempts, retry_after=retry_after)
        raise AllProvidersFailedError(group, attempts, retry_after=retry_after)


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(0 if is_testing() else seconds)
