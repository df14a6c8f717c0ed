"""Fixture factories for tests that run a TppcRouter against simulated providers.

A test module (or conftest) assigns what it needs at module level, under the
fixture's name, so pytest collects it there and only there::

    _instant_backoff = instant_backoff()
    sims = sim_providers()                      # primary + backup
    make_router = router_factory()              # needs ``sims``

Each call returns a fresh fixture; ``tests/`` is on sys.path (rootdir conftest),
so ``from simfixtures import ...`` works like ``from canaries import ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from canaries import CANARY_BACKUP, CANARY_PRIMARY, CANARY_THIRD

from tppc_router.routing.failover import set_testing
from tppc_router.config.loader import load_settings
from tppc_router.routing.router import TppcRouter
from tppc_router.sim import ProviderSimulator

KEYS = {"primary": CANARY_PRIMARY, "backup": CANARY_BACKUP, "third": CANARY_THIRD}
RouterFactory = Callable[..., TppcRouter]
Sims = dict[str, ProviderSimulator]


def instant_backoff() -> Any:
    """An autouse fixture: backoff sleeps are instant for every test of the module."""

    @pytest.fixture(autouse=True)
    def _instant_backoff() -> Iterator[None]:
        set_testing(True)
        yield
        set_testing(False)

    return _instant_backoff


def sim_providers(names: tuple[str, ...] = ("primary", "backup"), *, models: tuple[str, ...] | None = None) -> Any:
    """A ``sims`` fixture: ``{name: simulator}`` for ``names`` (in order), each requiring its canary key."""

    @pytest.fixture
    def sims() -> Iterator[Sims]:
        extra: dict[str, Any] = {"models": models} if models is not None else {}
        with ExitStack() as stack:
            yield {name: stack.enter_context(ProviderSimulator(name, api_key=KEYS[name], **extra)) for name in names}

    return sims


def config_text(sims: Sims, *, router: str = "", extra: str = "") -> str:
    """Settings text serving ``sims`` (in order) for model ``gpt-5``; ``extra`` is appended to the ``tppc`` section,
    ``router`` (indented lines) becomes the ``router`` section."""
    providers = "".join(
        f'    - {{name: {name}, base-url: "{sim.url}", api-key: {KEYS[name]}}}\n' for name, sim in sims.items()
    )
    text = f"tppc:\n  models: [gpt-5]\n  providers:\n{providers}{extra}"
    return text + (f"router:\n{router}" if router else "")


def router_factory() -> Any:
    """A ``make_router`` fixture (needs ``sims``): ``make_router(*, router="", extra="", env=None, **kwargs)``
    builds a TppcRouter from :func:`config_text` (``kwargs`` go to TppcRouter); all are closed at teardown."""

    @pytest.fixture
    def make_router(sims: Sims) -> Iterator[RouterFactory]:
        built: list[TppcRouter] = []

        def make(*, router: str = "", extra: str = "", env: dict[str, str] | None = None,
                 **kwargs: Any) -> TppcRouter:
            settings = load_settings(text=config_text(sims, router=router, extra=extra), env=env or {})
            instance = TppcRouter(settings, **kwargs)
            built.append(instance)
            return instance

        yield make
        for instance in built:
            instance.close()

    return make_router
