"""Failed management logins per client address, and the lockout that follows (CLIProxyAPI's rule:
five failures in a row lock the address out for 30 minutes). Time comes from an injected clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from tppc_router.clock import Clock, monotonic

__all__ = ["LOCKOUT_SECONDS", "MAX_FAILURES", "Lockout"]

MAX_FAILURES = 5
LOCKOUT_SECONDS = 30 * 60.0


@dataclass
class _Record:
    failures: int = 0
    locked_until: float | None = None
    last: float = 0.0


@dataclass
class Lockout:
    """Failed attempts per client address; ``max_failures`` in a row lock it out for ``seconds``."""

    clock: Clock = monotonic
    max_failures: int = MAX_FAILURES
    seconds: float = LOCKOUT_SECONDS
    _records: dict[str, _Record] = field(default_factory=dict)

    def remaining(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None when it is not locked out."""
        record = self._records.get(client)
        if record is None or record.locked_until is None:
            return None
        left = record.locked_until - self.clock()
        if left > 0:
            return left
        del self._records[client]
        return None

    def fail(self, client: str) -> int:
        """Count one failure; returns the failures so far (0 once this one locked the client out)."""
        now = self.clock()
        if len(self._records) > 4096:
            self._records = {k: r for k, r in self._records.items() if now - r.last < self.seconds}
        record = self._records.setdefault(client, _Record())
        record.failures += 1
        record.last = now
        if record.failures >= self.max_failures:
            record.failures = 0
            record.locked_until = now + self.seconds
            return 0
        return record.failures

    def reset(self, client: str) -> None:
        self._records.pop(client, None)
