"""The lockout table: peers folded, a global budget, bounded size, bounded log lines."""

from __future__ import annotations

import pytest

from tppc_router.clock import ManualClock
from tppc_router.server.lockout import LOOPBACK, Lockout, LogBudget, peer_key


@pytest.mark.parametrize(
    ("peer", "key"),
    [("127.0.0.1", LOOPBACK), ("127.45.6.7", LOOPBACK), ("::1", LOOPBACK), ("::ffff:127.0.0.9", LOOPBACK),
     ("[::1]", LOOPBACK), ("203.0.113.7", "203.0.113.7"), ("::ffff:203.0.113.7", "203.0.113.7"),
     ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"), ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
     ("not-an-ip", "not-an-ip")],
)
def test_peer_key_folds_loopback_and_ipv6_prefixes(peer: str, key: str) -> None:
    """Every loopback spelling is one client; an IPv6 /64 is one client; other addresses stay themselves."""
    assert peer_key(peer) == key


def test_loopback_addresses_share_one_record() -> None:
    """Failures from different loopback addresses add up to one lockout."""
    lockout = Lockout(ManualClock())
    for i, peer in enumerate(["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.3"], start=1):
        assert lockout.fail(peer) == i
    assert lockout.fail("127.8.8.8") == 0
    assert lockout.remaining("127.0.0.1") == pytest.approx(1800)


def test_global_budget_locks_everyone_until_the_oldest_failure_ages_out() -> None:
    """Failures spread over many addresses still spend the global budget; then every client waits."""
    clock = ManualClock()
    lockout = Lockout(clock, global_max_failures=10, global_window=60)
    for i in range(10):
        assert lockout.fail(f"198.51.100.{i}") == 1
        clock.advance(1)
    assert lockout.globally_locked()
    assert lockout.remaining("203.0.113.1") == pytest.approx(50)
    clock.advance(51)
    assert lockout.remaining("203.0.113.1") is None


def test_table_stays_bounded() -> None:
    """However many addresses fail, the table never holds more than max_clients records."""
    lockout = Lockout(ManualClock(), max_clients=64, global_max_failures=10**9)
    for i in range(1000):
        lockout.fail(f"10.0.{i // 256}.{i % 256}")
        assert len(lockout) <= 64


def test_log_budget_suppresses_and_reports() -> None:
    """Past ``lines`` per window, lines are suppressed; the next allowed line learns how many were."""
    clock = ManualClock()
    budget = LogBudget(clock, lines=2, window=10)
    assert [budget.take() for _ in range(5)] == [(True, 0), (True, 0), (False, 0), (False, 0), (False, 0)]
    clock.advance(10)
    assert budget.take() == (True, 3)
