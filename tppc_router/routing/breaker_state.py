"""The breaker's state machine as pure functions: data in, data out, no lock, no clock.

States, as :attr:`CircuitBreaker.state` reports them::

    CLOSED ──(failures >= threshold, open_now, block_until)──> OPEN
    OPEN ──(cooldown elapsed)──> HALF_OPEN       probes may be handed out
    HALF_OPEN ──(probe succeeds)──> CLOSED
    HALF_OPEN ──(probe fails, block_until)──> OPEN

``HALF_OPEN`` covers both "the cooldown is over and nobody holds the probe yet"
and "one caller holds the probe lease". :meth:`CircuitBreaker.allow` hands the
probe to exactly one caller; the others get ``False`` until the probe's outcome
is recorded or its lease (``probe_timeout_s``) runs out, so a lost probe cannot
wedge the breaker.

The mutable state lives in :class:`BreakerData`, a frozen dataclass, and every
transition is a pure function ``(data, now, ...) -> data`` (:func:`step_allow`,
:func:`step_success`, :func:`step_failure`, :func:`step_block`). The
:class:`CircuitBreaker` only adds a lock, the clock and listeners, so the data
can later live in Redis with the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = [
    "DEFAULT_PROBE_TIMEOUT_S",
    "BreakerData",
    "BreakerSnapshot",
    "BreakerState",
    "blocked",
    "effective_state",
    "next_probe_at",
    "step_allow",
    "step_block",
    "step_failure",
    "step_reset",
    "step_success",
]

DEFAULT_PROBE_TIMEOUT_S = 60.0


class BreakerState(StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


"""Called as ``listener(breaker, old_state, new_state)`` on every transition."""


@dataclass(frozen=True, slots=True)
class BreakerData:
    """Everything a breaker remembers. ``state`` is the *stored* state: a stored
    ``OPEN`` whose ``opened_until`` has passed is effectively ``HALF_OPEN``, and a
    stored ``HALF_OPEN`` means a probe lease was handed out."""

    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    opened_until: float | None = None
    probe_lease_until: float | None = None
    total_successes: int = 0
    total_failures: int = 0
    opened_count: int = 0


def effective_state(data: BreakerData, now: float) -> BreakerState:
    """The state callers see: an ``OPEN`` whose cooldown is over is ``HALF_OPEN``."""
    if data.state is BreakerState.OPEN and data.opened_until is not None and now >= data.opened_until:
        return BreakerState.HALF_OPEN
    return data.state


def blocked(data: BreakerData, now: float) -> bool:
    """Closed, but not to be used before ``opened_until`` (a Retry-After or rate-limit
    block): when it passes the provider is simply usable again, no probe needed."""
    return data.state is BreakerState.CLOSED and data.opened_until is not None and now < data.opened_until


def next_probe_at(data: BreakerData) -> float | None:
    """Clock time at which a probe will next be let through; ``None`` when closed.

    For an open breaker that is the end of its cooldown; while a probe is out it
    is the end of the probe's lease (the earliest another probe may go).
    """
    if data.state in (BreakerState.OPEN, BreakerState.CLOSED):
        return data.opened_until  # closed: the end of a rate-limit block, if any
    if data.state is BreakerState.HALF_OPEN:
        return data.probe_lease_until
    return None


def _open(data: BreakerData, now: float, until: float) -> BreakerData:
    """Open until ``until``; an existing open is extended, never shortened."""
    was_open = effective_state(data, now) is BreakerState.OPEN
    if data.opened_until is not None:  # an open cooldown or a rate-limit block: never shortened
        until = max(until, data.opened_until)
    return replace(
        data,
        state=BreakerState.OPEN,
        opened_until=until,
        probe_lease_until=None,
        opened_count=data.opened_count + (0 if was_open else 1),
    )


def step_allow(data: BreakerData, now: float, *, probe_timeout_s: float) -> tuple[BreakerData, bool]:
    """May a request go? Closed: yes. Open: no, and nothing changes. Half-open:
    the first caller gets the probe lease, the others wait for its outcome or
    for the lease to run out."""
    state = effective_state(data, now)
    if state is BreakerState.CLOSED:
        return data, not blocked(data, now)
    if state is BreakerState.OPEN:
        return data, False
    lease = data.probe_lease_until if data.state is BreakerState.HALF_OPEN else None
    if lease is not None and now < lease:
        return data, False
    return replace(data, state=BreakerState.HALF_OPEN, probe_lease_until=now + probe_timeout_s), True


def step_success(data: BreakerData, now: float) -> BreakerData:
    """A success closes a half-open breaker and resets the failure run. A late
    success while still open (a call that started earlier) only counts."""
    total = data.total_successes + 1  # one replace() per success: this runs on every call
    if effective_state(data, now) is BreakerState.OPEN:
        return replace(data, total_successes=total)
    if blocked(data, now):  # healthy, so the failure run ends; the rate-limit block stays
        return replace(data, total_successes=total, consecutive_failures=0)
    return replace(
        data,
        total_successes=total,
        state=BreakerState.CLOSED,
        consecutive_failures=0,
        opened_until=None,
        probe_lease_until=None,
    )

def step_failure(
    data: BreakerData,
    now: float,
    *,
    failure_threshold: int,
    cooldown_s: float,
    open_now: bool = False,
) -> BreakerData:
    """Count a failure. Opens when the run reaches ``failure_threshold``, when
    ``open_now`` is set, or when the half-open probe fails. A failure while
    already open only counts (and extends the cooldown if ``open_now``)."""
    state = effective_state(data, now)
    counted = replace(
        data,
        consecutive_failures=data.consecutive_failures + 1,
        total_failures=data.total_failures + 1,
    )
    if state is BreakerState.OPEN:
        return _open(counted, now, now + cooldown_s) if open_now else counted
    if state is BreakerState.HALF_OPEN or open_now or counted.consecutive_failures >= failure_threshold:
        return _open(counted, now, now + cooldown_s)
    return counted


def step_block(data: BreakerData, now: float, deadline: float) -> BreakerData:
    """Do not use the provider before ``deadline`` (e.g. Retry-After). Opens the
    breaker or extends its cooldown; never shortens it. A deadline in the past
    changes nothing."""
    if deadline <= now:
        return data
    if effective_state(data, now) is BreakerState.CLOSED:  # block without opening: no probe afterwards
        until = deadline if data.opened_until is None else max(deadline, data.opened_until)
        return replace(data, opened_until=until)
    return _open(data, now, deadline)


def step_reset(data: BreakerData, now: float) -> BreakerData:
    """A fresh start (the provider's key or base-url changed): closed, no failure run, no
    cooldown, no rate-limit block, no probe out. The lifetime counters stay."""
    return replace(data, state=BreakerState.CLOSED, consecutive_failures=0, opened_until=None,
                   probe_lease_until=None)


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A read-only view of one breaker, for metrics and the management API."""

    provider: str
    model: str
    state: BreakerState
    consecutive_failures: int
    total_successes: int
    total_failures: int
    opened_count: int
    retry_in_s: float | None

    @classmethod
    def of(cls, provider: str, model: str, data: BreakerData, now: float) -> BreakerSnapshot:
        """The view of ``data`` at clock time ``now``."""
        retry_at = next_probe_at(data)
        return cls(
            provider=provider,
            model=model,
            state=effective_state(data, now),
            consecutive_failures=data.consecutive_failures,
            total_successes=data.total_successes,
            total_failures=data.total_failures,
            opened_count=data.opened_count,
            retry_in_s=None if retry_at is None else max(0.0, retry_at - now),
        )
