"""Breaker data in Redis: one Lua script applies each transition atomically.

Keys, for a ``prefix`` (``router.state.prefix``, default ``tppc``)::

    {prefix}:breaker:{provider}:{model}   hash: the BreakerData fields (state, counters, deadlines)
    {prefix}:probe:{provider}:{model}     the half-open probe lease: SET NX PX probe-timeout

The hash holds the state name, counters and wall-clock timestamps only; the
lease holds a random id of the instance that took it. Never a key, a URL or a
prompt. A hash expires a day after its last change (later if it is open longer).

Why Lua and not an optimistic ``WATCH``/``MULTI`` around the Python step
functions: a script is one round trip per operation whatever the contention
(``WATCH`` needs three, and retries when two instances write the same breaker,
which they do on every success). The script mirrors :mod:`tppc_router.routing.breaker`
line by line; ``tests/state/test_redis_store.py`` checks it against the Python
step functions on random operation sequences. Numbers travel as ``%.17g`` text,
so deadlines round-trip exactly.

Every operation is time-boxed by the client's socket timeouts (``op_timeout``)
and never retried here: a failure raises :class:`StateUnavailableError` at once,
and the caller (:class:`~tppc_router.state.fallback.FallbackStore`) falls back.
"""

from __future__ import annotations

import uuid
from typing import Any

from tppc_router.routing.breaker import BreakerData, BreakerState
from tppc_router.errors import ConfigError
from tppc_router.masking import mask_redis_url, mask_text

from tppc_router.state.store import BreakerKey, StoreResult, StateUnavailableError

__all__ = ["INSTALL_HINT", "RedisStore", "import_redis"]

INSTALL_HINT = "router.state.backend: 'redis' needs the redis package: pip install 'tppc-router[redis]'"

# Mirrors tppc_router.routing.breaker: effective_state, _open, step_allow, step_success, step_failure, step_block,
# step_reset.
_SCRIPT = """
local key, probe = KEYS[1], KEYS[2]
local op, now, owner = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local KEEP = 86400
local f = redis.call('HMGET', key, 'state', 'consecutive_failures', 'opened_until', 'probe_lease_until',
                     'total_successes', 'total_failures', 'opened_count')
local d = {
  state = f[1] or 'closed',
  consecutive_failures = tonumber(f[2]) or 0,
  opened_until = tonumber(f[3]),
  probe_lease_until = tonumber(f[4]),
  total_successes = tonumber(f[5]) or 0,
  total_failures = tonumber(f[6]) or 0,
  opened_count = tonumber(f[7]) or 0,
}

local function effective()
  if d.state == 'open' and d.opened_until and now >= d.opened_until then return 'half_open' end
  return d.state
end

local function blocked()
  return d.state == 'closed' and d.opened_until and now < d.opened_until
end

local function open(untl)
  local was_open = effective() == 'open'
  if d.opened_until and d.opened_until > untl then untl = d.opened_until end
  d.state = 'open'
  d.opened_until = untl
  d.probe_lease_until = nil
  if not was_open then d.opened_count = d.opened_count + 1 end
  redis.call('DEL', probe)
end

local function num(x)
  if x then return string.format('%.17g', x) end
  return ''
end

local before = effective()
local allowed = 0
local changed = false
if op == 'allow' then
  if before == 'closed' then
    if not blocked() then allowed = 1 end
  elseif before == 'half_open' then
    local timeout = tonumber(ARGV[4])
    local lease = nil
    if d.state == 'half_open' then lease = d.probe_lease_until end
    if not (lease and now < lease)
        and redis.call('SET', probe, owner, 'NX', 'PX', math.max(1, math.ceil(timeout * 1000))) then
      d.state = 'half_open'
      d.probe_lease_until = now + timeout
      allowed = 1
      changed = true
    end
  end
elseif op == 'success' then
  d.total_successes = d.total_successes + 1
  if blocked() then
    d.consecutive_failures = 0
  elseif before ~= 'open' then
    if d.state ~= 'closed' then redis.call('DEL', probe) end
    d.state = 'closed'
    d.consecutive_failures = 0
    d.opened_until = nil
    d.probe_lease_until = nil
  end
  changed = true
elseif op == 'failure' then
  local threshold, cooldown, open_now = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
  d.consecutive_failures = d.consecutive_failures + 1
  d.total_failures = d.total_failures + 1
  if before == 'open' then
    if open_now then open(now + cooldown) end
  elseif before == 'half_open' or open_now or d.consecutive_failures >= threshold then
    open(now + cooldown)
  end
  changed = true
elseif op == 'block' then
  local deadline = tonumber(ARGV[4])
  if deadline > now then
    if before == 'closed' then
      if not d.opened_until or d.opened_until < deadline then d.opened_until = deadline end
    else
      open(deadline)
    end
    changed = true
  end
elseif op == 'reset' then
  d.state = 'closed'
  d.consecutive_failures = 0
  d.opened_until = nil
  d.probe_lease_until = nil
  redis.call('DEL', probe)
  changed = true
elseif op ~= 'load' then
  return redis.error_reply('unknown breaker operation ' .. op)
end

if changed then
  redis.call('HSET', key, 'state', d.state, 'consecutive_failures', num(d.consecutive_failures),
             'total_successes', num(d.total_successes), 'total_failures', num(d.total_failures),
             'opened_count', num(d.opened_count))
  local unset = {}
  for _, field in ipairs({'opened_until', 'probe_lease_until'}) do
    if d[field] then redis.call('HSET', key, field, num(d[field])) else unset[#unset + 1] = field end
  end
  if #unset > 0 then redis.call('HDEL', key, unpack(unset)) end
  local ttl = KEEP
  if d.opened_until and d.opened_until - now + KEEP > ttl then ttl = d.opened_until - now + KEEP end
  redis.call('EXPIRE', key, math.ceil(ttl))
end
return {before, allowed, d.state, num(d.consecutive_failures), num(d.opened_until), num(d.probe_lease_until),
        num(d.total_successes), num(d.total_failures), num(d.opened_count)}
"""


def import_redis() -> Any:
    """The ``redis`` module, or a :class:`ConfigError` with the install hint."""
    try:
        import redis
    except ImportError:
        raise ConfigError([INSTALL_HINT]) from None
    return redis


class RedisStore:
    """A :class:`~tppc_router.state.store.BreakerStore` in Redis, shared by every
    instance that uses the same Redis and ``prefix``. Thread-safe (the client pools
    its connections)."""

    def __init__(self, client: Any, *, prefix: str = "tppc", instance_id: str | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self._script = client.register_script(_SCRIPT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "tppc", op_timeout: float = 0.05) -> RedisStore:
        """A store on ``url`` whose every operation gives up after about ``op_timeout`` seconds.

        The client never retries (redis-py retries three times by default) and
        connects lazily, so this does no I/O. A malformed URL is a :class:`ConfigError`.
        """
        redis = import_redis()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        try:
            client = redis.Redis.from_url(
                url,
                socket_timeout=op_timeout,
                socket_connect_timeout=op_timeout,
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
                protocol=2,  # RESP2: a shorter handshake on (re)connect, and no push messages
            )
        except ValueError as exc:
            raise ConfigError([f"router.state.url: {mask_redis_url(url)!r} is not a Redis URL ({exc})"]) from None
        return cls(client, prefix=prefix)

    def breaker_key(self, key: BreakerKey) -> str:
        return f"{self.prefix}:breaker:{key.provider}:{key.model}"

    def probe_key(self, key: BreakerKey) -> str:
        return f"{self.prefix}:probe:{key.provider}:{key.model}"

    # -- the store operations ---------------------------------------------------------

    def allow(self, key: BreakerKey, now: float, *, probe_timeout_s: float) -> StoreResult:
        return self._run(key, "allow", now, _num(probe_timeout_s))

    def success(self, key: BreakerKey, now: float) -> StoreResult:
        return self._run(key, "success", now)

    def failure(
        self, key: BreakerKey, now: float, *, failure_threshold: int, cooldown_s: float, open_now: bool
    ) -> StoreResult:
        return self._run(key, "failure", now, str(int(failure_threshold)), _num(cooldown_s), "1" if open_now else "0")

    def block(self, key: BreakerKey, now: float, deadline: float) -> StoreResult:
        return self._run(key, "block", now, _num(deadline))

    def load(self, key: BreakerKey, now: float) -> StoreResult:
        return self._run(key, "load", now)

    def reset(self, key: BreakerKey, now: float) -> StoreResult:
        return self._run(key, "reset", now)

    # -- connection -------------------------------------------------------------------

    def ping(self) -> None:
        """Raise :class:`StateUnavailableError` unless Redis answers within ``op_timeout``."""
        try:
            self.client.ping()
        except Exception as exc:
            raise _unavailable(exc) from exc

    def reset_connections(self) -> None:
        """Drop every pooled connection (after an outage, they are all dead)."""
        try:
            self.client.connection_pool.disconnect()
        except Exception:  # noqa: BLE001, S110 - closing a dead socket may fail; nothing to do about it
            pass

    def close(self) -> None:
        self.reset_connections()
        try:
            self.client.close()
        except Exception:  # noqa: BLE001, S110
            pass

    def _run(self, key: BreakerKey, op: str, now: float, *args: str) -> StoreResult:
        try:
            reply = self._script(
                keys=[self.breaker_key(key), self.probe_key(key)], args=[op, _num(now), self.instance_id, *args]
            )
        except Exception as exc:
            raise _unavailable(exc) from exc
        return _parse(reply)


def _num(value: float) -> str:
    """A float as text that Lua's ``tonumber`` reads back exactly."""
    return repr(float(value))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _float(value: Any) -> float | None:
    text = _text(value)
    return float(text) if text else None


def _int(value: Any) -> int:
    return int(float(_text(value)))


def _parse(reply: Any) -> StoreResult:
    before, allowed, state, failures, opened_until, lease, successes, total_failures, opened = reply
    data = BreakerData(
        state=BreakerState(_text(state)),
        consecutive_failures=_int(failures),
        opened_until=_float(opened_until),
        probe_lease_until=_float(lease),
        total_successes=_int(successes),
        total_failures=_int(total_failures),
        opened_count=_int(opened),
    )
    return StoreResult(BreakerState(_text(before)), data, bool(int(allowed)))


def _unavailable(exc: BaseException) -> StateUnavailableError:
    return StateUnavailableError(f"Redis: {type(exc).__name__}: {mask_text(str(exc))}")
