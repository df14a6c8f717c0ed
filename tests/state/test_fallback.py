"""Redis down or slow never fails a request: time-boxed operations, local fallback, log once, reconnect."""

from __future__ import annotations

import logging
import time
import uuid

import pytest

from tppc_router.routing.breaker import BreakerState, CircuitBreaker
from tppc_router.clock import ManualClock
from tppc_router.state import BreakerKey, FallbackStore, RedisStore, SharedBreakerRegistry

from .conftest import RedisServer, SilentServer

KEY = BreakerKey("acme", "gpt-5")
OP_TIMEOUT = 0.05


def fallback_on(url: str, *, prefix: str | None = None, interval: float = 1.0,
                wall: ManualClock | None = None) -> FallbackStore:
    remote = RedisStore.from_url(url, prefix=prefix or f"t{uuid.uuid4().hex[:8]}", op_timeout=OP_TIMEOUT)
    return FallbackStore(remote, where=url, interval=interval, wall=wall)


def state_of(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tppc_router.state" and r.levelno >= logging.WARNING]


def test_a_redis_that_never_answers_costs_one_op_timeout_once(silent_redis: SilentServer,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """The first allow() against a hung Redis returns after ~op_timeout; later ones do not wait at all."""
    store = fallback_on(silent_redis.url)
    registry = SharedBreakerRegistry(store)
    breaker = registry.get("acme", "gpt-5")
    started = time.perf_counter()
    assert breaker.allow() is True
    first = time.perf_counter() - started
    assert first < OP_TIMEOUT + 0.1, f"allow() took {first:.3f} s with op_timeout {OP_TIMEOUT}"
    assert silent_redis.accepted, "the store did try Redis"
    started = time.perf_counter()
    for _ in range(100):
        breaker.allow()
        breaker.record_success()
    assert time.perf_counter() - started < 0.1
    assert registry.backend_info() == {"backend": "redis", "reachable": False, "url": None}
    assert len(warnings_of(caplog)) == 1
    store.close()


def test_a_hung_redis_never_delays_a_redis_store_call_past_op_timeout(silent_redis: SilentServer) -> None:
    """Each RedisStore operation against a hung Redis gives up after about op_timeout (no retries)."""
    store = RedisStore.from_url(silent_redis.url, op_timeout=OP_TIMEOUT)
    for op in (lambda: store.allow(KEY, 1.0, probe_timeout_s=60.0), store.ping,
               lambda: store.failure(KEY, 1.0, failure_threshold=1, cooldown_s=1.0, open_now=True)):
        started = time.perf_counter()
        with pytest.raises(Exception, match="Redis: TimeoutError"):
            op()
        assert time.perf_counter() - started < OP_TIMEOUT + 0.1
    store.close()


def test_outage_falls_back_to_local_state_logs_once_and_resumes(redis_server: RedisServer,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """Redis killed: one warning, local state continues from the last shared state; back: one line, shared again."""
    caplog.set_level(logging.INFO, logger="tppc_router.state")
    wall = ManualClock(1000.0)
    store = fallback_on(redis_server.url, wall=wall)
    store.failure(KEY, 1000.0, failure_threshold=1, cooldown_s=30.0, open_now=False)  # open in Redis
    redis_server.kill()
    for i in range(50):
        outcome = store.allow(KEY, 1001.0 + i * 0.01, probe_timeout_s=60.0)
        assert outcome.allowed is False  # still open: the mirror remembers what Redis said
    assert not store.reachable and store.outages == 1
    assert len(warnings_of(caplog)) == 1
    assert "unreachable" in warnings_of(caplog)[0]
    assert store.check() is False  # still down: no new line
    assert len(warnings_of(caplog)) == 1
    other = BreakerKey("other", "gpt-5")
    store.failure(other, 1002.0, failure_threshold=1, cooldown_s=300.0, open_now=False)  # opens locally only
    redis_server.start()  # same port, empty
    wall.advance(3)
    assert store.check() is True
    assert len(warnings_of(caplog)) == 2 and "reachable again" in warnings_of(caplog)[1]
    # the breakers this instance opened meanwhile were written back; everyone skips them again
    fresh = RedisStore.from_url(redis_server.url, prefix=store.remote.prefix)  # type: ignore[attr-defined]
    assert not fresh.allow(other, 1003.0, probe_timeout_s=5.0).allowed  # held until 1302 everywhere
    assert fresh.load(other, 1003.0).data.opened_until == 1302.0
    assert store.success(KEY, 1040.0).data.state is BreakerState.CLOSED
    assert fresh.load(KEY, 1040.0).data.total_successes == 1  # operations go to Redis again
    fresh.close()
    store.close()


def test_background_check_notices_outage_and_return_without_traffic(redis_server: RedisServer,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The health thread marks Redis unreachable and reachable again on its own."""
    store = fallback_on(redis_server.url, interval=0.05).start()

    def wait_for(reachable: bool) -> None:
        deadline = time.monotonic() + 3
        while store.reachable is not reachable and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.reachable is reachable

    redis_server.kill()
    wait_for(False)
    redis_server.start()
    wait_for(True)
    store.close()


def test_local_fallback_keeps_the_breaker_semantics() -> None:
    """With Redis away from the start, a shared breaker behaves like a local one (open, probe, close)."""
    clock = ManualClock()
    store = fallback_on("redis://127.0.0.1:1/0")  # nothing listens: connection refused
    registry = SharedBreakerRegistry(store, failure_threshold=1, cooldown_s=30.0, clock=clock, wall=clock)
    breaker = registry.get("acme", "gpt-5")
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN and breaker.allow() is False
    assert breaker.retry_at == clock() + 30.0
    clock.advance(30)
    assert breaker.allow() is True and breaker.allow() is False  # one probe
    breaker.record_success()
    assert state_of(breaker) is BreakerState.CLOSED
    assert not store.reachable
    store.close()
