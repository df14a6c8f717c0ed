"""Failed management logins per client, and the lockout that follows (CLIProxyAPI's rule:
five failures in a row lock the client out for 30 minutes). Time comes from an injected clock.

A client is its real TCP peer, folded by :func:`peer_key`: every loopback address
(127.0.0.0/8, ``::1``, ``::ffff:127.x``) is one client, as is every IPv6 address of one
/64. On top, a **global budget**: ``global_max_failures`` failures from anyone within
``global_window`` seconds lock every client out until the oldest of them ages out, so
an attacker with many addresses gains nothing. The table is bounded (``max_clients``,
oldest dropped first), and so are the log lines about it (:class:`LogBudget`).
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field

from tppc_router.clock import Clock, monotonic

__all__ = [
    "GLOBAL_MAX_FAILURES",
    "GLOBAL_WINDOW",
    "LOCKOUT_SECONDS",
    "MAX_CLIENTS",
    "MAX_FAILURES",
    "LOOPBACK",
    "LogBudget",
    "Lockout",
    "peer_key",
]

MAX_FAILURES = 5
LOCKOUT_SECONDS = 30 * 60.0
GLOBAL_MAX_FAILURES = 100
GLOBAL_WINDOW = 10 * 60.0
MAX_CLIENTS = 4096
LOOPBACK = "loopback"


def peer_key(peer: str) -> str:
    """The lockout key of a peer address: ``loopback`` for any loopback spelling, the /64 of an
    IPv6 address, the address itself otherwise (an unparsable one as it is)."""
    text = peer.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:].partition("]")[0]
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return peer
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return LOOPBACK
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


@dataclass
class _Record:
    failures: int = 0
    locked_until: float | None = None
    last: float = 0.0


@dataclass
class Lockout:
    """Failed attempts per client; ``max_failures`` in a row lock it out for ``seconds``;
    ``global_max_failures`` within ``global_window`` lock everyone out (see the module doc)."""

    clock: Clock = monotonic
    max_failures: int = MAX_FAILURES
    seconds: float = LOCKOUT_SECONDS
    global_max_failures: int = GLOBAL_MAX_FAILURES
    global_window: float = GLOBAL_WINDOW
    max_clients: int = MAX_CLIENTS
    _records: dict[str, _Record] = field(default_factory=dict)
    _recent: deque[float] = field(default_factory=deque)

    def __len__(self) -> int:
        return len(self._records)

    def _global_left(self, now: float) -> float | None:
        while self._recent and now - self._recent[0] >= self.global_window:
            self._recent.popleft()
        if len(self._recent) < self.global_max_failures:
            return None
        return self._recent[0] + self.global_window - now

    def remaining(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None when it is not locked out."""
        now = self.clock()
        record = self._records.get(peer_key(client))
        own: float | None = None
        if record is not None and record.locked_until is not None:
            left = record.locked_until - now
            if left > 0:
                own = left
            else:
                del self._records[peer_key(client)]
        shared = self._global_left(now)
        if own is None or shared is None:
            return own if shared is None else shared
        return max(own, shared)

    def globally_locked(self) -> bool:
        """True while the global failure budget is spent."""
        return self._global_left(self.clock()) is not None

    def fail(self, client: str) -> int:
        """Count one failure; returns the failures so far (0 once this one locked the client out)."""
        now = self.clock()
        self._recent.append(now)
        if len(self._recent) > self.global_max_failures:
            self._recent.popleft()
        key = peer_key(client)
        if key not in self._records and len(self._records) >= self.max_clients:
            self._prune(now)
        record = self._records.setdefault(key, _Record())
        record.failures += 1
        record.last = now
        if record.failures >= self.max_failures:
            record.failures = 0
            record.locked_until = now + self.seconds
            return 0
        return record.failures

    def _prune(self, now: float) -> None:
        """Forget expired clients; if that is not enough, the quarter least recently seen."""
        self._records = {k: r for k, r in self._records.items()
                         if (r.locked_until or r.last + self.seconds) > now}
        if len(self._records) >= self.max_clients:
            keep = sorted(self._records.items(), key=lambda item: item[1].last)[self.max_clients // 4:]
            self._records = dict(keep)

    def reset(self, client: str) -> None:
        self._records.pop(peer_key(client), None)


@dataclass
class LogBudget:
    """At most ``lines`` log lines per ``window`` seconds; :meth:`take` says whether one may be
    written now, and how many were suppressed since the last one that was."""

    clock: Clock = monotonic
    lines: int = 20
    window: float = 60.0
    _start: float | None = None
    _used: int = 0
    _suppressed: int = 0

    def take(self) -> tuple[bool, int]:
        now = self.clock()
        if self._start is None or now - self._start >= self.window:
            self._start, self._used = now, 0
        if self._used >= self.lines:
            self._suppressed += 1
            return False, 0
        self._used += 1
        suppressed, self._suppressed = self._suppressed, 0
        return True, suppressed
