"""A real gateway on loopback for tests: simulators, a uvicorn thread, a canary guard.

Fixtures (imported by ``tests/server/conftest.py`` and ``tests/acceptance/conftest.py``):

* ``primary`` / ``backup``: running simulators that require the canary keys;
* ``live_server``: a factory, ``live_server(settings=None, **create_app_kwargs)``,
  that starts ``create_app(settings)`` under uvicorn on a free port and returns a
  :class:`LiveServer`; the default settings serve ``primary`` then ``backup``.
  Every server is stopped at teardown. The app is served wrapped in the suite's
  canary guard (``tests/canary_guard.py``: ``canary_asgi``), so a test fails if any
  canary key is sent in any response header or body, streams included;
* ``gateway`` / ``http``: the default gateway (``live_server()``) and an ``httpx.Client``
  on its ``/v1`` base URL;
* ``running(app)``: the same as a context manager, for module-scoped gateways.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest
import uvicorn
from canaries import CANARY_BACKUP, CANARY_GATEWAY, CANARY_PRIMARY  # tests/ is on sys.path
from canary_guard import canary_asgi
from fastapi import FastAPI

from tppc_router.config import Settings
from tppc_router.routing.failover import is_testing, set_testing
from tppc_router.config.loader import settings_from_data
from tppc_router.server import create_app
from tppc_router.server.runtime import Runtime
from tppc_router.sim import ProviderSimulator

__all__ = [
    "CANARY_BACKUP",
    "CANARY_GATEWAY",
    "CANARY_PRIMARY",
    "LiveServer",
    "backup",
    "free_port",
    "gateway",
    "gateway_settings",
    "http",
    "live_server",
    "primary",
    "running",
    "serve",
    "testing_mode",
]

_START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A gateway served by uvicorn in a thread."""

    app: FastAPI
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client is given: ``http://127.0.0.1:PORT/v1``."""
        return self.url + "/v1"

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(_START_TIMEOUT)


def serve(app: FastAPI) -> LiveServer:
    """Run ``app`` under uvicorn on a free loopback port; return once it accepts connections."""
    port = free_port()
    config = uvicorn.Config(canary_asgi(app), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"gateway-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.005)
    return LiveServer(app, port, server, thread)


class Provider(Protocol):
    """Anything with a base URL: a simulator, or a hand-made fake."""

    @property
    def url(self) -> str: ...


@contextmanager
def running(app: FastAPI) -> Iterator[LiveServer]:
    """``app`` served for the ``with`` block."""
    live = serve(app)
    try:
        yield live
    finally:
        live.stop()


def gateway_settings(
    providers: Mapping[str, Provider] | None = None,
    *,
    keys: Mapping[str, str] | None = None,
    **sections: Any,
) -> Settings:
    """Validated settings serving ``providers`` (name -> simulator, or anything with ``url``) in that order.

    Keys default to the canaries (``primary``, ``backup``); ``sections`` adds or
    replaces top-level sections (``router={"first-byte-timeout": 0.5}``).
    """
    keys = {"primary": CANARY_PRIMARY, "backup": CANARY_BACKUP, **(keys or {})}
    entries = [{"name": name, "base-url": sim.url, "api-key": keys[name]} for name, sim in (providers or {}).items()]
    data: dict[str, Any] = {"tppc": {"models": ["gpt-5"], "providers": entries}, **sections}
    return settings_from_data(data, env={})


@pytest.fixture(autouse=True)
def testing_mode() -> Iterator[None]:
    """Backoff sleeps are instant (decisions and delays are unchanged)."""
    before = is_testing()
    set_testing(True)
    yield
    set_testing(before)


@pytest.fixture
def primary() -> Iterator[ProviderSimulator]:
    """The first-priority provider: a simulator that requires ``CANARY_PRIMARY``."""
    with ProviderSimulator("primary", api_key=CANARY_PRIMARY) as sim:
        yield sim


@pytest.fixture
def backup() -> Iterator[ProviderSimulator]:
    """The second-priority provider: a simulator that requires ``CANARY_BACKUP``."""
    with ProviderSimulator("backup", api_key=CANARY_BACKUP) as sim:
        yield sim


StartServer = Callable[..., LiveServer]


@pytest.fixture
def live_server(primary: ProviderSimulator, backup: ProviderSimulator) -> Iterator[StartServer]:
    """``live_server(settings=None, **create_app_kwargs)``: a running gateway (see module doc)."""
    with ExitStack() as stack:

        def start(settings: Settings | None = None, /, **kwargs: Any) -> LiveServer:
            if settings is None:
                settings = gateway_settings({"primary": primary, "backup": backup})
            return stack.enter_context(running(create_app(settings, **kwargs)))

        yield start


@pytest.fixture
def gateway(live_server: StartServer) -> LiveServer:
    """The default gateway: primary then backup."""
    return live_server()


@pytest.fixture
def http(gateway: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.base_url, timeout=10) as client:
        yield client
