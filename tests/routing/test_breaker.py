"""Circuit breaker: states, probes, leases, blocks, listeners and the registry."""

from __future__ import annotations

import itertools
import threading

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tppc_router.routing.breaker import (
    BreakerData,
    BreakerRegistry,
    BreakerSnapshot,
    BreakerState,
    CircuitBreaker,
    effective_state,
    step_allow,
    step_failure,
)
from tppc_router.clock import ManualClock

Transition = tuple[str, BreakerState, BreakerState]


def make(
    clock: ManualClock, *, failure_threshold: int = 3, cooldown_s: float = 30.0, probe_timeout_s: float = 60.0
) -> tuple[CircuitBreaker, list[Transition]]:
    events: list[Transition] = []

    def listener(breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        events.append((breaker.provider, old, new))

    breaker = CircuitBreaker(
        "acme",
        "gpt-5",
        failure_threshold=failure_threshold,
        cooldown_s=cooldown_s,
        probe_timeout_s=probe_timeout_s,
        clock=clock,
        listeners=[listener],
    )
    return breaker, events


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()


def test_starts_closed_and_allows_everyone() -> None:
    """A new breaker is closed, lets every caller through and has no retry time."""
    breaker, events = make(ManualClock())
    assert breaker.state is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(10))
    assert breaker.retry_at is None
    assert events == []


def test_full_cycle_closed_open_half_open_closed() -> None:
    """Threshold failures open it; after the cooldown one probe goes; its success closes it."""
    clock = ManualClock()
    breaker, events = make(clock)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.snapshot().state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_at == clock.now + 30.0
    assert not breaker.allow()
    clock.advance(29.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.snapshot().state is BreakerState.HALF_OPEN
    assert breaker.allow()
    breaker.record_success()
    assert breaker.snapshot().state is BreakerState.CLOSED
    assert breaker.snapshot().consecutive_failures == 0
    assert breaker.retry_at is None
    assert [(old, new) for _, old, new in events] == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


def test_half_open_probe_failure_reopens() -> None:
    """A failed probe opens the breaker again for a fresh cooldown."""
    clock = ManualClock()
    breaker, events = make(clock)
    trip(breaker)
    clock.advance(30)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_at == clock.now + 30.0
    assert breaker.snapshot().opened_count == 2
    assert [(old, new) for _, old, new in events][-1] == (BreakerState.HALF_OPEN, BreakerState.OPEN)


def test_failure_after_cooldown_without_probe_reports_both_transitions() -> None:
    """Time alone moves open to half-open; listeners learn it on the next call, in order."""
    clock = ManualClock()
    breaker, events = make(clock)
    trip(breaker)
    clock.advance(31)
    breaker.record_failure()
    assert [(old, new) for _, old, new in events] == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.OPEN),
    ]


def test_only_one_probe_in_half_open() -> None:
    """After the cooldown exactly one caller gets the probe; the rest wait for its outcome."""
    clock = ManualClock()
    breaker, _ = make(clock)
    trip(breaker)
    clock.advance(30)
    assert [breaker.allow() for _ in range(5)] == [True, False, False, False, False]
    assert breaker.retry_at == clock.now + 60.0


def test_only_one_probe_under_threads() -> None:
    """Many threads asking at once after the cooldown: exactly one gets the probe."""
    clock = ManualClock()
    breaker, _ = make(clock)
    trip(breaker)
    clock.advance(30)
    barrier = threading.Barrier(32)
    results: list[bool] = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait()
        allowed = breaker.allow()
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=ask) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
    assert len(results) == 32


def test_probe_lease_expires() -> None:
    """A lost probe does not wedge the breaker: after probe_timeout_s another probe goes."""
    clock = ManualClock()
    breaker, _ = make(clock, probe_timeout_s=10.0)
    trip(breaker)
    clock.advance(30)
    assert breaker.allow()
    clock.advance(9.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.allow()
    assert not breaker.allow()


def test_open_now_opens_at_once_with_given_cooldown() -> None:
    """open_now opens on the first failure, for the given cooldown."""
    clock = ManualClock()
    breaker, _ = make(clock)
    breaker.record_failure(open_now=True, cooldown_s=300.0)
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_at == clock.now + 300.0
    clock.advance(299)
    assert not breaker.allow()
    clock.advance(1)
    assert breaker.allow()


def test_late_open_now_extends_but_plain_failure_does_not() -> None:
    """While open, an open_now failure extends the cooldown; a plain one only counts."""
    clock = ManualClock()
    breaker, _ = make(clock)
    trip(breaker)
    until = breaker.retry_at
    breaker.record_failure()
    assert breaker.retry_at == until
    breaker.record_failure(open_now=True, cooldown_s=100.0)
    assert breaker.retry_at == clock.now + 100.0
    breaker.record_failure(open_now=True, cooldown_s=1.0)
    assert breaker.retry_at == clock.now + 100.0


def test_block_until_blocks_and_extends_but_never_shortens() -> None:
    """block_until keeps a closed breaker from being used until the deadline (no state change, so no
    probe afterwards: every caller may go again), extends a longer block, ignores a shorter one."""
    clock = ManualClock()
    breaker, events = make(clock)
    breaker.block_until(clock.now + 7)
    assert breaker.state is BreakerState.CLOSED and not breaker.allow()
    assert breaker.retry_at == clock.now + 7
    breaker.block_until(clock.now + 20)
    assert breaker.retry_at == clock.now + 20
    breaker.block_until(clock.now + 5)
    assert breaker.retry_at == clock.now + 20
    breaker.record_success()  # a late success does not lift the block
    assert not breaker.allow()
    clock.advance(20)
    assert breaker.allow() and breaker.allow()
    assert events == []


def test_block_until_on_an_open_breaker_extends_its_cooldown() -> None:
    """A block on an open breaker extends the open cooldown; the probe comes after it."""
    clock = ManualClock()
    breaker, _ = make(clock)
    breaker.record_failure(open_now=True)
    breaker.block_until(clock.now + 100)
    assert breaker.state is BreakerState.OPEN and breaker.retry_at == clock.now + 100


def test_failures_during_a_block_never_shorten_it() -> None:
    """A breaker that opens while a longer rate-limit block runs stays unusable until the block ends."""
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=1, cooldown_s=30.0)
    breaker.block_until(clock.now + 120)
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and breaker.retry_at == clock.now + 120


def test_block_until_in_the_past_is_a_no_op() -> None:
    """A deadline that has already passed changes nothing."""
    clock = ManualClock()
    breaker, events = make(clock)
    breaker.block_until(clock.now)
    assert breaker.state is BreakerState.CLOSED
    assert events == []


def test_block_until_during_probe_reopens_and_late_success_keeps_it_open() -> None:
    """A Retry-After block during a probe reopens; the probe's late success does not close it."""
    clock = ManualClock()
    breaker, _ = make(clock)
    trip(breaker)
    clock.advance(30)
    assert breaker.allow()
    breaker.block_until(clock.now + 10)
    assert breaker.state is BreakerState.OPEN
    breaker.record_success()
    assert breaker.state is BreakerState.OPEN
    assert breaker.snapshot().total_successes == 1


def test_success_resets_failure_run_when_closed() -> None:
    """Failures must be consecutive: a success in between resets the run."""
    breaker, _ = make(ManualClock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_listener_errors_are_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    """A listener that raises is logged and does not break the breaker or other listeners."""
    seen: list[BreakerState] = []

    def broken(breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        raise RuntimeError("metrics down")

    def good(breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        seen.append(new)

    breaker = CircuitBreaker("acme", "m", failure_threshold=1, clock=ManualClock(), listeners=[broken, good])
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert seen == [BreakerState.OPEN]
    assert "breaker listener failed" in caplog.text


def test_listener_may_read_the_breaker() -> None:
    """Listeners run under a reentrant lock, so they can take a snapshot."""
    snapshots: list[BreakerSnapshot] = []

    def listener(breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        snapshots.append(breaker.snapshot())

    breaker = CircuitBreaker("acme", "m", failure_threshold=1, clock=ManualClock(), listeners=[listener])
    breaker.record_failure()
    assert snapshots[0].state is BreakerState.OPEN


def test_snapshot_fields() -> None:
    """A snapshot carries identity, state, counters and the seconds until the next probe."""
    clock = ManualClock()
    breaker, _ = make(clock)
    breaker.record_success()
    trip(breaker)
    clock.advance(10)
    assert breaker.snapshot() == BreakerSnapshot(
        provider="acme",
        model="gpt-5",
        state=BreakerState.OPEN,
        consecutive_failures=3,
        total_successes=1,
        total_failures=3,
        opened_count=1,
        retry_in_s=20.0,
    )
    clock.advance(100)
    assert breaker.snapshot().retry_in_s == 0.0
    assert breaker.snapshot().state is BreakerState.HALF_OPEN


def test_rejects_bad_settings() -> None:
    """A zero threshold, negative cooldown or non-positive probe lease is refused."""
    with pytest.raises(ValueError):
        CircuitBreaker("a", "m", failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("a", "m", cooldown_s=-1)
    with pytest.raises(ValueError):
        CircuitBreaker("a", "m", probe_timeout_s=0)


def test_pure_steps_do_not_mutate() -> None:
    """The transition functions return new data and leave their input alone."""
    data = BreakerData()
    opened = step_failure(data, 0.0, failure_threshold=1, cooldown_s=5.0)
    assert data == BreakerData()
    assert effective_state(opened, 1.0) is BreakerState.OPEN
    assert effective_state(opened, 5.0) is BreakerState.HALF_OPEN
    probing, allowed = step_allow(opened, 5.0, probe_timeout_s=1.0)
    assert allowed and probing.state is BreakerState.HALF_OPEN and opened.state is BreakerState.OPEN


def test_registry_one_breaker_per_provider_and_model() -> None:
    """The registry creates one breaker per (provider, model) and returns the same one after."""
    clock = ManualClock()
    registry = BreakerRegistry(failure_threshold=2, cooldown_s=5.0, clock=clock)
    a1 = registry.get("a", "m1")
    assert registry.get("a", "m1") is a1
    a2 = registry.get("a", "m2")
    b1 = registry.get("b", "m1")
    assert len({id(a1), id(a2), id(b1)}) == 3
    assert a1.failure_threshold == 2 and a1.cooldown_s == 5.0 and a1.clock is clock
    a1.record_failure()
    a1.record_failure()
    assert a1.state is BreakerState.OPEN and a2.state is BreakerState.CLOSED
    assert [(s.provider, s.model, s.state) for s in registry.snapshots()] == [
        ("a", "m1", BreakerState.OPEN),
        ("a", "m2", BreakerState.CLOSED),
        ("b", "m1", BreakerState.CLOSED),
    ]
    assert registry.for_provider("a") == [a1, a2]
    registry.forget("a")
    assert registry.for_provider("a") == []
    assert registry.get("a", "m1") is not a1
    assert registry.get("a", "m1").state is BreakerState.CLOSED


def test_registry_listeners_reach_existing_and_new_breakers() -> None:
    """Listeners given to or added on the registry see transitions of every breaker."""
    seen: list[tuple[str, BreakerState]] = []

    def listener(breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        seen.append((breaker.provider, new))

    registry = BreakerRegistry(failure_threshold=1, clock=ManualClock())
    early = registry.get("early", "m")
    registry.add_listener(listener)
    early.record_failure()
    registry.get("late", "m").record_failure()
    assert seen == [("early", BreakerState.OPEN), ("late", BreakerState.OPEN)]


def test_registry_get_is_thread_safe() -> None:
    """Concurrent first use of the same key yields one breaker."""
    registry = BreakerRegistry()
    barrier = threading.Barrier(16)
    found: list[CircuitBreaker] = []

    def get() -> None:
        barrier.wait()
        found.append(registry.get("p", "m"))

    threads = [threading.Thread(target=get) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(b) for b in found}) == 1


_ACTIONS = st.lists(
    st.one_of(
        st.just(("allow", 0.0)),
        st.just(("success", 0.0)),
        st.just(("failure", 0.0)),
        st.just(("open_now", 0.0)),
        st.tuples(st.just("advance"), st.floats(min_value=0.0, max_value=120.0)),
        st.tuples(st.just("block"), st.floats(min_value=-10.0, max_value=120.0)),
    ),
    max_size=60,
)


def blocked_allow_check(breaker: CircuitBreaker) -> bool:
    """Whether allow() would let a caller through, without taking a probe (reads the data only)."""
    from tppc_router.routing.breaker import blocked

    return not blocked(breaker.data, breaker.clock())


@settings(max_examples=300, deadline=None)
@given(actions=_ACTIONS, threshold=st.integers(min_value=1, max_value=4))
@example(actions=[("failure", 0.0), ("advance", 30.0), ("allow", 0.0), ("allow", 0.0)], threshold=1)
@example(actions=[("open_now", 0.0), ("advance", 30.0), ("allow", 0.0), ("advance", 20.0), ("allow", 0.0)], threshold=3)
def test_invariants_hold_for_any_sequence(actions: list[tuple[str, float]], threshold: int) -> None:
    """Any mix of calls and clock moves keeps the invariants (one live probe, closed => no retry_at, ...)."""
    # Checked after every step: at most one unexpired, unresolved probe; closed means no retry
    # time and a failure run below the threshold; open means a future retry time; listeners
    # report a connected chain of transitions starting from closed.
    clock = ManualClock()
    breaker, events = make(clock, failure_threshold=threshold, cooldown_s=30.0, probe_timeout_s=20.0)
    live_probes: list[float] = []  # lease expiries of probes whose outcome is not recorded
    for action, value in actions:
        before = breaker.state
        if action == "allow":
            if breaker.allow() and before is not BreakerState.CLOSED:
                live_probes.append(clock.now + 20.0)
        elif action == "advance":
            clock.advance(value)
        elif action == "block":
            breaker.block_until(clock.now + value)
            if value > 0 and before is not BreakerState.CLOSED:  # reopens: the probe can no longer close it
                live_probes.clear()
        else:
            if action == "success":
                breaker.record_success()
            else:
                breaker.record_failure(open_now=action == "open_now")
            live_probes.clear()
        assert sum(1 for lease in live_probes if lease > clock.now) <= 1
        state, retry_at, snap = breaker.state, breaker.retry_at, breaker.snapshot()
        assert snap.state is state
        if state is BreakerState.CLOSED:
            # closed: no retry time, unless a rate-limit block holds it (then it lets nobody through)
            assert (retry_at is None) == (snap.retry_in_s is None)
            if retry_at is not None and retry_at > clock.now:
                assert not blocked_allow_check(breaker)
            assert snap.consecutive_failures < threshold
        else:
            assert retry_at is not None and snap.retry_in_s is not None and snap.retry_in_s >= 0
        if state is BreakerState.OPEN:
            assert retry_at is not None and retry_at > clock.now
        assert snap.total_failures >= snap.consecutive_failures
    for (_, _, new), (_, old, _) in itertools.pairwise(events):
        assert new is old
    if events:
        assert events[0][1] is BreakerState.CLOSED


def test_success_during_a_block_ends_the_failure_run() -> None:
    """A success while rate-limit blocked proves health: the failure run restarts, the block stays, so
    scattered failures around a block never add up to opening the breaker."""
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    breaker.block_until(clock.now + 2)
    breaker.record_success()
    assert breaker.snapshot().consecutive_failures == 0 and not breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
