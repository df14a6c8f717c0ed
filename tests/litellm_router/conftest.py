"""LiteLLM Router behaviours, run three times: on ``litellm.Router`` itself (the reference), on
``TppcRouter`` with no tppc provider, and on ``TppcRouter`` with two tppc providers configured
beside the test's own groups (groups the tests never call, on a closed loopback port).

The tests are written for this project after the router behaviours LiteLLM's own Router unit
tests pin (github.com/BerriAI/litellm, MIT license: tests/local_testing/test_router*.py,
tests/router_unit_tests/); no provider is reached (``mock_response=``, a closed loopback port).
A test that counts ``model_list`` entries says so and reads the caller's deployments only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tppc_router.config.loader import load_settings
from tppc_router.routing.router import TppcRouter

FLAVORS = ("litellm", "tppc-none", "tppc-two")
TPPC_MODEL = "tppc-codex"  # the tppc providers' group: never one of the tests' own groups
TWO_PROVIDERS = f"""\
tppc:
  models: [{TPPC_MODEL}]
  providers:
    - {{name: one, base-url: "http://127.0.0.1:9/v1", api-key: sk-tppc-one-0000000000000000}}
    - {{name: two, base-url: "http://127.0.0.1:9/v1", api-key: sk-tppc-two-0000000000000000}}
"""

BuildRouter = Callable[..., Any]
MESSAGES = [{"role": "user", "content": "Hey, how's it going?"}]


@pytest.fixture(params=FLAVORS)
def flavor(request: pytest.FixtureRequest) -> str:
    """Which router the test runs on."""
    return str(request.param)


@pytest.fixture
def build_router(flavor: str) -> Iterator[BuildRouter]:
    """``build_router(*args, **kwargs)``: ``litellm.Router(*args, **kwargs)``, or a TppcRouter in its place."""
    import litellm

    built: list[Any] = []

    def build(*args: Any, **kwargs: Any) -> Any:
        if flavor == "litellm":
            router: Any = litellm.Router(*args, **kwargs)
        else:
            settings = load_settings(text=TWO_PROVIDERS) if flavor == "tppc-two" else None
            router = TppcRouter(*args, tppc_settings=settings, **kwargs)
        built.append(router)
        return router

    yield build
    for router in built:
        if isinstance(router, TppcRouter):
            router.close()


def own_deployments(router: Any) -> list[dict[str, Any]]:
    """The router's deployments that are not tppc's (a tppc provider adds its own)."""
    return [d for d in router.model_list if "tppc_provider" not in (d.get("model_info") or {})]
