"""How ``tppc-router serve`` runs the app under uvicorn, with the limits uvicorn lacks.

uvicorn bounds a request head's size (``h11_max_incomplete_event_size``) but not the
time a client may take to send it, and ``limit_concurrency`` answers 503 while still
accepting every socket. :class:`GuardedH11Protocol` adds both:

* a **header timeout**: a new connection must send a whole request head within
  ``server.limits.header-timeout`` seconds, and so must a kept-alive connection once
  the first byte of its next request arrives (idle kept-alive connections are
  uvicorn's ``timeout_keep_alive``); a slow-header connection is closed;
* a **connection cap**: with ``server.limits.max-connections`` connections open, a new
  one is closed as soon as it is accepted, so its file descriptor is freed at once.

Proxy headers (``X-Forwarded-For``) are believed only from ``server.trusted-proxies``;
by default none, so ``request.client`` is always the real TCP peer.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from tppc_router.config.schema import LimitsSection, Settings
from tppc_router.masking import get_logger

__all__ = ["KEEP_ALIVE_S", "GuardedH11Protocol", "guarded_protocol", "uvicorn_config"]

logger = get_logger("tppc_router.server")

# Keep idle connections longer than clients do (Codex CLI: 90 s), so a request never races the
# server closing its connection (a reset before any byte, seen with the 5 s default).
KEEP_ALIVE_S = 120


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a connection cap (see the module doc)."""

    limits: ClassVar[LimitsSection] = LimitsSection()
    refused: ClassVar[int] = 0  # connections closed by the cap, this process

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            type(self).refused += 1
            transport.abort()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the request head is complete

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timeout)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(limits: LimitsSection) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` subclass bound to ``limits``."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits, "refused": 0})


def uvicorn_config(app: Any, settings: Settings, *, host: str, port: int, log_level: str = "info",
                   **overrides: Any) -> uvicorn.Config:
    """The uvicorn config ``serve`` runs ``app`` with: limits, proxy headers, keep-alive."""
    limits = settings.server.limits
    proxies = list(settings.server.trusted_proxies)
    options: dict[str, Any] = {
        "host": host, "port": port, "log_config": None, "log_level": log_level.lower(),
        "timeout_keep_alive": KEEP_ALIVE_S, "server_header": False,
        "http": guarded_protocol(limits), "h11_max_incomplete_event_size": limits.max_header_bytes,
        "proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None,
        "backlog": min(2048, max(128, limits.max_connections)),
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)
