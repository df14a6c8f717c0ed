"""Fixtures: two or three simulated providers and routers built on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from canaries import CANARY_BACKUP, CANARY_PRIMARY, CANARY_THIRD
from simfixtures import instant_backoff, sim_providers

from tppc_router.clock import ManualClock
from tppc_router.config.loader import load_settings
from tppc_router.routing.router import TppcRouter
from tppc_router.sim import ProviderSimulator

PRIMARY_KEY = CANARY_PRIMARY
BACKUP_KEY = CANARY_BACKUP
THIRD_KEY = CANARY_THIRD
KEYS = {"primary": PRIMARY_KEY, "backup": BACKUP_KEY, "third": THIRD_KEY}


_instant_backoff = instant_backoff()
sims = sim_providers(("primary", "backup", "third"), models=("gpt-5", "gpt-5-large"))


def config_text(sims: dict[str, ProviderSimulator], names: tuple[str, ...] = ("primary", "backup"),
                orders: dict[str, int] | None = None, router: dict[str, Any] | None = None,
                models: tuple[str, ...] = ("gpt-5",)) -> str:
    lines = ["tppc:", f"  models: [{', '.join(models)}]", "  providers:"]
    for name in names:
        url = sims[name].url if name in sims else "http://127.0.0.1:9/v1"
        order = f", order: {orders[name]}" if orders and name in orders else ""
        lines.append(f"    - {{name: {name}, base-url: \"{url}\", api-key: {KEYS.get(name, PRIMARY_KEY)}{order}}}")
    if router:
        lines.append("router:")
        lines += [f"  {k}: {v}" for k, v in router.items()]
    return "\n".join(lines) + "\n"


RouterFactory = Callable[..., TppcRouter]


@pytest.fixture
def make_router(sims: dict[str, ProviderSimulator]) -> Iterator[RouterFactory]:
    built: list[TppcRouter] = []

    def make(names: tuple[str, ...] = ("primary", "backup"), *, clock: ManualClock | None = None,
             orders: dict[str, int] | None = None, router: dict[str, Any] | None = None,
             models: tuple[str, ...] = ("gpt-5",), **kwargs: Any) -> TppcRouter:
        settings = load_settings(text=config_text(sims, names, orders, router, models))
        extra = {"clock": clock} if clock is not None else {}
        instance = TppcRouter(settings, **extra, **kwargs)
        built.append(instance)
        return instance

    yield make
    for instance in built:
        instance.close()


def calls(sim: ProviderSimulator) -> int:
    """How many model requests the simulator received."""
    return sum(1 for r in sim.requests if r.path.endswith(("/responses", "/chat/completions")))


MESSAGES = [{"role": "user", "content": "hello"}]
