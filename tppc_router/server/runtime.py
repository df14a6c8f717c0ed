"""What the server's routes share: the live router, the config and its file.

One :class:`Runtime` per app (``app.state.runtime``). Management writes and the
file watcher change it only through :meth:`Runtime.apply`, under ``write_lock``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..logs import log_router_state
from ..router import TppcRouter
from ..upstream import Upstream

__all__ = ["Runtime"]

logger = logging.getLogger("tppc_router.server")


@dataclass
class Runtime:
    """The live state of one gateway process."""

    router: TppcRouter
    config_path: Path | None = None
    # --tppc / --no-tppc: force every tppc provider on (True) or off (False); None = as in the file.
    tppc_override: bool | None = None
    upstream: Upstream | None = None
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    extras: dict[str, Any] = field(default_factory=dict)
    # The settings as loaded from the file (before the --tppc override).
    file_settings: Settings | None = None

    def __post_init__(self) -> None:
        if self.file_settings is None:
            self.file_settings = self.router.settings

    @property
    def settings(self) -> Settings:
        """The effective settings the router serves (after --tppc/--no-tppc)."""
        return self.router.settings

    def effective(self, settings: Settings) -> Settings:
        """``settings`` with the --tppc/--no-tppc override applied."""
        if self.tppc_override is None:
            return settings
        providers = [p.model_copy(update={"enabled": self.tppc_override}) for p in settings.tppc.providers]
        if self.tppc_override:
            providers = [p for p in providers if p.name and p.base_url and p.api_key is not None]
        tppc = settings.tppc.model_copy(update={"providers": providers})
        return settings.model_copy(update={"tppc": tppc})

    def apply(self, settings: Settings) -> None:
        """Swap the router to ``settings`` (already validated); in-flight calls finish on the old one."""
        self.router.reload(self.effective(settings))
        self.file_settings = settings
        metrics = self.extras.get("metrics")
        record = getattr(metrics, "record_credentials", None)
        if callable(record):
            record(self.router.settings)
        log_router_state(self.router)

    def get_upstream(self) -> Upstream:
        if self.upstream is None:
            self.upstream = Upstream()
        return self.upstream
