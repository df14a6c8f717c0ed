"""The Redis store: the Lua script against the Python step functions, keys, TTLs, errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tppc_router.routing.breaker import BreakerData, BreakerState, effective_state
from tppc_router.errors import ConfigError
from tppc_router.state import BreakerKey, MemoryStore, StoreResult, RedisStore
from tppc_router.state.redis_store import INSTALL_HINT

from .conftest import RedisServer

KEY = BreakerKey("acme", "gpt-5")


def store_on(server: RedisServer, prefix: str | None = None) -> RedisStore:
    return RedisStore.from_url(server.url, prefix=prefix or f"t{uuid.uuid4().hex[:8]}", op_timeout=1.0)


@dataclass(frozen=True)
class Op:
    name: str
    dt: float = 0.0  # advance the clock first
    open_now: bool = False
    cooldown: float = 30.0
    deadline_in: float = 0.0


ops = st.builds(
    Op,
    name=st.sampled_from(["allow", "allow", "success", "failure", "failure", "block", "load", "reset"]),
    dt=st.sampled_from([0.0, 0.0, 0.5, 1.0, 29.999, 30.0, 61.0]) | st.floats(0, 200, allow_nan=False),
    open_now=st.booleans(),
    cooldown=st.sampled_from([0.0, 1.0, 30.0]) | st.floats(0, 120, allow_nan=False),
    deadline_in=st.floats(-10, 150, allow_nan=False),
)


def apply(store: MemoryStore | RedisStore, op: Op, now: float, threshold: int, probe_timeout: float) -> StoreResult:
    if op.name == "allow":
        return store.allow(KEY, now, probe_timeout_s=probe_timeout)
    if op.name == "success":
        return store.success(KEY, now)
    if op.name == "failure":
        return store.failure(KEY, now, failure_threshold=threshold, cooldown_s=op.cooldown, open_now=op.open_now)
    if op.name == "block":
        return store.block(KEY, now, now + op.deadline_in)
    if op.name == "reset":
        return store.reset(KEY, now)
    return store.load(KEY, now)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(ops, min_size=1, max_size=25), threshold=st.integers(1, 4),
       probe_timeout=st.sampled_from([1.0, 60.0, 0.25]), start=st.floats(1e3, 2e9, allow_nan=False))
def test_lua_script_matches_the_python_step_functions(shared_redis: RedisServer, sequence: list[Op], threshold: int,
                                                      probe_timeout: float, start: float) -> None:
    """Every operation gives the same state, counters, deadlines and answer in Redis as in memory."""
    redis_store, memory = store_on(shared_redis), MemoryStore()
    client = shared_redis.client()
    now = start
    try:
        for op in sequence:
            now += op.dt
            data = memory.load(KEY, now).data
            if data.state is BreakerState.HALF_OPEN and data.probe_lease_until is not None \
                    and now >= data.probe_lease_until:
                client.delete(redis_store.probe_key(KEY))  # the lease's TTL runs on Redis's clock: expire it by hand
            expected = apply(memory, op, now, threshold, probe_timeout)
            assert apply(redis_store, op, now, threshold, probe_timeout) == expected, op
    finally:
        client.close()
        redis_store.close()


def test_hash_holds_the_breaker_fields_and_expires(shared_redis: RedisServer) -> None:
    """An opened breaker is a hash of the BreakerData fields with a TTL of a day past its deadline."""
    store = store_on(shared_redis)
    now = 1_700_000_000.123456
    store.failure(KEY, now, failure_threshold=1, cooldown_s=30.0, open_now=False)
    client = shared_redis.client()
    fields = {k.decode(): v.decode() for k, v in client.hgetall(store.breaker_key(KEY)).items()}
    assert fields == {"state": "open", "consecutive_failures": "1", "total_successes": "0", "total_failures": "1",
                      "opened_count": "1", "opened_until": repr(now + 30.0)}
    assert 86400 <= client.ttl(store.breaker_key(KEY)) <= 86400 + 31
    assert store.load(KEY, now).data.opened_until == now + 30.0  # exact round trip
    client.close()


def test_probe_lease_is_a_set_nx_key_with_the_probe_timeout(shared_redis: RedisServer) -> None:
    """The half-open probe takes {prefix}:probe:{provider}:{model} with a TTL; the outcome deletes it."""
    store = store_on(shared_redis)
    other = RedisStore(shared_redis.client(), prefix=store.prefix)
    client = shared_redis.client()
    store.failure(KEY, 1000.0, failure_threshold=1, cooldown_s=10.0, open_now=True)  # open until 1010
    assert store.allow(KEY, 1011.0, probe_timeout_s=5.0).allowed
    assert client.get(store.probe_key(KEY)) == store.instance_id.encode()
    assert 0 < client.pttl(store.probe_key(KEY)) <= 5000
    assert not other.allow(KEY, 1011.5, probe_timeout_s=5.0).allowed
    assert store.success(KEY, 1012.0).data.state is BreakerState.CLOSED
    assert client.exists(store.probe_key(KEY)) == 0
    assert other.allow(KEY, 1012.5, probe_timeout_s=5.0).allowed
    client.close()


def test_a_live_lease_key_holds_off_a_second_probe_even_when_a_clock_runs_ahead(shared_redis: RedisServer) -> None:
    """An instance whose clock is past the lease still cannot probe while the key lives (TTL on Redis's clock)."""
    store = store_on(shared_redis)
    store.failure(KEY, 1000.0, failure_threshold=1, cooldown_s=10.0, open_now=True)  # open until 1010
    assert store.allow(KEY, 1011.0, probe_timeout_s=60.0).allowed
    skewed = store.allow(KEY, 1011.0 + 61.0, probe_timeout_s=60.0)
    assert not skewed.allowed
    assert effective_state(skewed.data, 1072.0) is BreakerState.HALF_OPEN


def test_prefixes_do_not_share(shared_redis: RedisServer) -> None:
    """Two prefixes on one Redis are two separate sets of breakers."""
    one, two = store_on(shared_redis), store_on(shared_redis)
    one.failure(KEY, 1000.0, failure_threshold=1, cooldown_s=30.0, open_now=False)
    assert two.load(KEY, 1000.0).data == BreakerData()


def test_bad_url_is_a_config_error_without_the_password() -> None:
    """A URL redis-py cannot read is a ConfigError naming router.state.url, password masked."""
    with pytest.raises(ConfigError) as caught:
        RedisStore.from_url("http://user:hunter2hunter2@localhost:6379/0")
    assert "router.state.url" in str(caught.value)
    assert "hunter2hunter2" not in str(caught.value)


def test_missing_redis_package_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the redis package, choosing the redis backend says how to install it."""
    monkeypatch.setitem(__import__("sys").modules, "redis", None)
    with pytest.raises(ConfigError) as caught:
        RedisStore.from_url("redis://127.0.0.1:6379/0")
    assert INSTALL_HINT in str(caught.value)
    assert "pip install 'tppc-router[redis]'" in str(caught.value)
