"""What ``TppcRouter.provider_states()`` reports: one frozen :class:`ProviderStatus` per
configured provider (like :class:`BreakerSnapshot` for one breaker).

Readers use attributes (``status.state``, ``status.breakers``); ``as_dict()`` gives the
JSON shape (``retry_in_s`` rounded to ms, breaker states as strings).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tppc_router.config.deployments import Credential
from tppc_router.config.schema import Settings
from tppc_router.routing.breaker import BreakerSnapshot, BreakerState
from tppc_router.routing.observe import ProviderStats

__all__ = ["ProviderState", "ProviderStatus", "provider_statuses"]

#: A provider's state: its worst breaker (open > half-open > closed), or disabled.
ProviderState = Literal["closed", "half_open", "open", "disabled"]


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """One configured provider as the router sees it now."""

    name: str
    source: Literal["tppc", "packycode"]
    enabled: bool  # configured enabled and serving
    priority: int | None  # None when disabled
    base_url: str | None  # None when disabled
    state: ProviderState
    breakers: tuple[BreakerSnapshot, ...] = ()
    requests: int = 0  # attempts (not skips) since start
    outcomes: Mapping[str, int] = field(default_factory=dict)  # attempts by outcome
    error_rate: float = 0.0  # over the last 100 attempts
    last_error: str = ""
    last_latency_ms: float | None = None
    failovers_from: int = 0  # failovers away from this provider

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape: every field, the breakers as dicts."""
        return {
            "name": self.name,
            "source": self.source,
            "enabled": self.enabled,
            "priority": self.priority,
            "base_url": self.base_url,
            "state": self.state,
            "breakers": [_breaker_dict(b) for b in self.breakers],
            "requests": self.requests,
            "outcomes": dict(self.outcomes),
            "error_rate": self.error_rate,
            "last_error": self.last_error,
            "last_latency_ms": self.last_latency_ms,
            "failovers_from": self.failovers_from,
        }


def _breaker_dict(snapshot: BreakerSnapshot) -> dict[str, Any]:
    data = dataclasses.asdict(snapshot)
    data["state"] = snapshot.state.value
    if snapshot.retry_in_s is not None:
        data["retry_in_s"] = round(snapshot.retry_in_s, 3)
    return data


def _worst(breakers: Sequence[BreakerSnapshot]) -> ProviderState:
    states = {b.state for b in breakers}
    if BreakerState.OPEN in states:
        return "open"
    return "half_open" if BreakerState.HALF_OPEN in states else "closed"


def provider_statuses(settings: Settings, chain: Sequence[Credential],
                      breakers: Mapping[str, Sequence[BreakerSnapshot]], stats: ProviderStats) -> list[ProviderStatus]:
    """Each configured provider (packycode first when it serves), from the settings, the serving
    credential ``chain``, each provider's breaker snapshots and the counters."""
    serving = {c.provider: c for c in chain}
    names: list[tuple[str, Literal["tppc", "packycode"], bool]] = []
    if settings.packycode.enabled or "packycode" in serving and serving["packycode"].source == "packycode":
        names.append(("packycode", "packycode", "packycode" in serving))
    names += [(p.name, "tppc", p.enabled and p.name in serving) for p in settings.tppc.providers]
    out: list[ProviderStatus] = []
    for name, source, enabled in names:
        cred = serving.get(name) if enabled else None
        snapshots = tuple(breakers.get(name, ())) if enabled else ()
        counts = stats.snapshot(name)
        out.append(ProviderStatus(
            name=name, source=source, enabled=enabled,
            priority=cred.priority if cred else None, base_url=cred.base_url if cred else None,
            state=_worst(snapshots) if enabled else "disabled", breakers=snapshots,
            requests=counts.requests, outcomes=counts.outcomes, error_rate=counts.error_rate,
            last_error=counts.last_error, last_latency_ms=counts.last_latency_ms, failovers_from=counts.failovers_from,
        ))
    return out
