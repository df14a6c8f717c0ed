"""What the server's routes share: the live router, the config and its file.

One :class:`Runtime` per app (``app.state.runtime``). Management writes and the
file watcher change it only through :meth:`Runtime.apply`, under ``write_lock``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tppc_router.config.schema import ProviderConfig, Settings
from tppc_router.ops.logs import log_router_state
from tppc_router.routing.router import TppcRouter
from tppc_router.routing.upstream import Upstream
from tppc_router.masking import get_logger

__all__ = ["Runtime", "effective_settings"]


def _with_providers(settings: Settings, providers: list[ProviderConfig]) -> Settings:
    return settings.model_copy(update={"tppc": settings.tppc.model_copy(update={"providers": providers})})

logger = get_logger("tppc_router.server")


def effective_settings(settings: Settings, override: bool | None) -> Settings:
    """``settings`` with the --no-tppc (False) override applied: every tppc provider off.

    ``--tppc`` (True) serves the tppc providers exactly as the file and the management API
    enable them: it never switches on a provider that is disabled there.
    """
    if not override and override is not None:
        providers = [p.model_copy(update={"enabled": False}) for p in settings.tppc.providers]
        return _with_providers(settings, providers)
    return settings


@dataclass
class Runtime:
    """The live state of one gateway process."""

    router: TppcRouter
    config_path: Path | None = None
    # --tppc / --no-tppc: the enabled tppc providers serve (True) or none does (False); None = as in the file.
    tppc_override: bool | None = None
    upstream: Upstream | None = None
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    extras: dict[str, Any] = field(default_factory=dict)
    # The settings as loaded from the file (before the --tppc override).
    file_settings: Settings | None = None

    def __post_init__(self) -> None:
        if self.file_settings is None:
            self.file_settings = self.router.tppc_settings

    @property
    def settings(self) -> Settings:
        """The effective settings the router serves (after --tppc/--no-tppc)."""
        return self.router.tppc_settings

    def effective(self, settings: Settings) -> Settings:
        """``settings`` with this process's --tppc/--no-tppc override applied."""
        return effective_settings(settings, self.tppc_override)

    def apply(self, settings: Settings) -> list[str]:
        """Swap the router to ``settings`` (already validated); in-flight calls finish on the old one.

        Returns the providers whose key or base-url changed: they start with fresh breakers and
        rate-limit state (one log line each says so).
        """
        fresh = self.router.reload(self.effective(settings)) or []
        for provider in fresh:
            logger.info("provider %s: key or base-url changed: fresh breaker and rate-limit state", provider,
                        extra={"event": "credential_changed", "provider": provider})
        self.file_settings = settings
        metrics = self.extras.get("metrics")
        record = getattr(metrics, "record_credentials", None)
        if callable(record):
            record(self.router.tppc_settings)
        log_router_state(self.router)
        return fresh

    def get_upstream(self) -> Upstream:
        if self.upstream is None:
            self.upstream = Upstream()
        return self.upstream
