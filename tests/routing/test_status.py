"""provider_states(): one frozen ProviderStatus per configured provider, with the JSON shape kept by as_dict()."""

from __future__ import annotations

import dataclasses

import pytest

from tppc_router import ProviderStatus
from tppc_router.routing.breaker import BreakerState
from tppc_router.sim import Fault, ProviderSimulator

from .conftest import MESSAGES, RouterFactory

JSON_KEYS = ["name", "source", "enabled", "priority", "base_url", "state", "breakers", "requests", "outcomes",
             "error_rate", "last_error", "last_latency_ms", "failovers_from"]
BREAKER_KEYS = ["provider", "model", "state", "consecutive_failures", "total_successes", "total_failures",
                "opened_count", "retry_in_s"]


def test_statuses_are_frozen_and_typed(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """After a failover each provider's status carries its breakers and counters as attributes, and cannot change."""
    router = make_router(router={"failure-threshold": 1, "cooldown": 30})
    sims["primary"].set_fault(Fault.parse("status:500"))
    router.completion(model="gpt-5", messages=MESSAGES)
    primary, backup = router.provider_states()
    assert isinstance(primary, ProviderStatus)
    assert (primary.name, primary.source, primary.enabled, primary.state) == ("primary", "tppc", True, "open")
    assert primary.breakers[0].state is BreakerState.OPEN and primary.failovers_from == 1
    assert primary.outcomes == {"server_error": primary.requests} and primary.error_rate == 1.0
    assert (backup.state, backup.requests, backup.outcomes, backup.error_rate) == ("closed", 1, {"ok": 1}, 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        primary.state = "closed"  # type: ignore[misc]


def test_as_dict_keeps_the_json_shape(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """as_dict() has the keys and plain-JSON values the dict rows had (breaker state as a string)."""
    router = make_router()
    router.completion(model="gpt-5", messages=MESSAGES)
    row = router.provider_states()[0].as_dict()
    assert list(row) == JSON_KEYS
    assert list(row["breakers"][0]) == BREAKER_KEYS
    assert row["breakers"][0]["state"] == "closed" and type(row["breakers"][0]["state"]) is str
    assert (row["priority"], row["base_url"], row["outcomes"]) == (1, sims["primary"].url, {"ok": 1})


def test_disabled_provider_reports_disabled(make_router: RouterFactory) -> None:
    """A provider that does not serve (here: nothing listening, disabled) is reported disabled with no breakers."""
    router = make_router(names=("primary", "backup"))
    settings = router.tppc_settings.model_copy(deep=True)
    settings.tppc.providers[1].enabled = False
    router.reload(settings)
    backup = router.provider_states()[1]
    assert (backup.name, backup.enabled, backup.state, backup.priority, backup.base_url, backup.breakers) == (
        "backup", False, "disabled", None, None, ())
