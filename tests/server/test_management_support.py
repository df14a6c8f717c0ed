"""Helpers for the management tests: a real uvicorn on 127.0.0.1, a commented config, canary keys.

Holds no tests; the ``test_management*`` modules import from it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import bcrypt
import httpx
import uvicorn
from fastapi import FastAPI

from tppc_router.clock import Clock
from tppc_router.config.loader import load_settings
from tppc_router.server import create_app
from tppc_router.server.mgmt_auth import ManagementAuth
from tppc_router.server.runtime import Runtime

MGMT_KEY = "mgmt-canary-4b8d2e6f1a"
MGMT_HASH = bcrypt.hashpw(MGMT_KEY.encode(), bcrypt.gensalt(4)).decode()
ALPHA_KEY = "sk-canary-alpha-5f3c9e1d"
BETA_KEY = "sk-canary-beta-7a2b4c6d"
GAMMA_KEY = "sk-canary-gamma-0e9f8a7b"
NEW_KEY = "sk-canary-new-3c1d5e7f"
CANARIES = (MGMT_KEY, ALPHA_KEY, BETA_KEY, GAMMA_KEY, NEW_KEY)
ENV = {"BETA_KEY": BETA_KEY, "GAMMA_KEY": GAMMA_KEY}

CONFIG = f"""\
# tppc-router test config
server:
  host: 127.0.0.1   # loopback only

tppc:
  # the models every provider serves
  models: [gpt-5]
  providers:
    - name: alpha           # primary
      base-url: "https://alpha.invalid/v1"
      api-key: {ALPHA_KEY}
      order: 1
    # the backup
    - name: beta
      base-url: https://beta.invalid/v1
      api-key: os.environ/BETA_KEY
    - name: gamma
      enabled: false
      base-url: https://gamma.invalid/v1
      api-key: ${{GAMMA_KEY}}

remote-management:
  allow-remote: false
  secret-key: "{MGMT_HASH}"   # bcrypt
"""


class LiveServer:
    """``app`` served by uvicorn on 127.0.0.1 in a thread, lifespan included."""

    def __init__(self, app: FastAPI) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="mgmt-test-uvicorn", daemon=True)
        self.url = ""

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class Served:
    """A running app: its runtime, its config file (if any) and a client that sends the key."""

    server: LiveServer
    runtime: Runtime
    path: Path | None
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def text(self) -> str:
        assert self.path is not None
        return self.path.read_text(encoding="utf-8")


def build_app(
    path: Path | None,
    *,
    text: str = CONFIG,
    clock: Clock | None = None,
    watch: float = 0.0,
    override: bool | None = None,
    env: dict[str, str] | None = None,
) -> tuple[FastAPI, Runtime]:
    """``create_app`` for ``text`` (written to ``path``, or kept in memory when ``path`` is None)."""
    if path is not None:
        path.write_text(text, encoding="utf-8")
    settings = load_settings(path, text=text, env=env)
    app = create_app(settings, config_path=path, tppc_override=override)
    runtime: Runtime = app.state.runtime
    runtime.watch_interval = watch
    if clock is not None:
        runtime.management_auth = ManagementAuth(clock=clock, env=env or {})
    return app, runtime


@contextmanager
def serve(path: Path | None, *, key: str | None = MGMT_KEY, **kwargs: Any) -> Iterator[Served]:
    """Build and serve an app; the client sends ``key`` as ``X-Management-Key``."""
    app, runtime = build_app(path, **kwargs)
    headers = {"X-Management-Key": key} if key is not None else {}
    with LiveServer(app) as server, httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        yield Served(server, runtime, path, client)


def assert_no_canary(*texts: str) -> None:
    """No canary key appears in any of ``texts``."""
    for text in texts:
        for canary in CANARIES:
            assert canary not in text, f"a canary key leaked: {canary[:8]}..."
