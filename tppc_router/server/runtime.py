"""What the server's routes share: the live router, the config and its file.

One :class:`Runtime` per app (``app.state.runtime``). Management writes and the
file watcher change it only through :meth:`Runtime.apply`, under ``write_lock``.
Everything else a route or the watcher needs is a typed attribute (metrics, the
management gate, the config store, counters); routes reach them through the
``Annotated`` dependencies of :mod:`tppc_router.server.deps`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tppc_router.config.schema import ProviderConfig, Settings
from tppc_router.configfile.store import ConfigStore
from tppc_router.ops.logs import log_router_state
from tppc_router.ops.metrics import Metrics
from tppc_router.routing.router import TppcRouter
from tppc_router.routing.upstream import Upstream
from tppc_router.server.lockout import LogBudget
from tppc_router.masking import get_logger, secrets

if TYPE_CHECKING:  # these modules import Runtime
    from tppc_router.server.watcher import ConfigWatcher
    from tppc_router.routing.litellm_logging import LitellmCallLogger
    from tppc_router.server.management import WriteEvent
    from tppc_router.server.mgmt_auth import ManagementAuth

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


def _provider_names(settings: Settings) -> set[str]:
    return {p.name for p in settings.tppc.providers} | ({"packycode"} if settings.packycode.enabled else set())


def _secret_values(settings: Settings) -> set[str]:
    keys = [p.api_key for p in settings.tppc.providers] + [settings.packycode.credentials.openai_api_key]
    keys += [*settings.server.api_keys, settings.remote_management.secret_key]
    return {k.get_secret_value() for k in keys if k is not None}


@dataclass
class Runtime:
    """The live state of one gateway process."""

    router: TppcRouter
    config_path: Path | None = None
    # --tppc / --no-tppc: the enabled tppc providers serve (True) or none does (False); None = as in the file.
    tppc_override: bool | None = None
    upstream: Upstream | None = None
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The settings as loaded from the file (before the --tppc override).
    file_settings: Settings | None = None
    # The file's settings when the server started: the env references management writes may use.
    startup_settings: Settings | None = None
    # When the app started (unix seconds): /v1/models "created", /status uptime.
    started_at: int = field(default_factory=lambda: int(time.time()))
    # Prometheus metrics of this app (ensure_metrics creates them).
    metrics: Metrics | None = None
    # The management gate (mgmt_auth.auth_for creates it; a test may set its own).
    management_auth: ManagementAuth | None = None
    # The config file (or in-memory document) management writes and the watcher edit (store_for creates it).
    store: ConfigStore | None = None
    # The config-file watcher while it runs, and seconds between its looks (None: its default; 0: no watching).
    watcher: ConfigWatcher | None = None
    watch_interval: float | None = None
    # Management writes by outcome, and the callables each write event is passed to (metrics adds one).
    management_writes: Counter[str] = field(default_factory=Counter)
    write_hooks: list[Callable[[WriteEvent], None]] = field(default_factory=list)
    # Passes each gateway call to LiteLLM's configured callbacks once (app.install_litellm_logging sets it).
    litellm_logging: LitellmCallLogger | None = None
    # Rate limit for log lines about refused management writes.
    management_log_budget: LogBudget = field(default_factory=LogBudget)
    # Hand edits of the config file by outcome: applied, rejected, unchanged.
    config_reloads: Counter[str] = field(default_factory=Counter)

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
        before = self.file_settings or self.router.tppc_settings
        fresh = self.router.reload(self.effective(settings)) or []
        for provider in fresh:
            logger.info("provider %s: key or base-url changed: fresh breaker and rate-limit state", provider,
                        extra={"event": "credential_changed", "provider": provider})
        self.file_settings = settings
        if self.metrics is not None:
            self.metrics.record_credentials(self.router.tppc_settings)
            self.metrics.forget_providers(_provider_names(before) - _provider_names(settings))
        secrets.forget(_secret_values(before) - _secret_values(settings))  # a deleted provider's key
        log_router_state(self.router)
        return fresh

    def ensure_metrics(self) -> Metrics:
        """This app's :class:`Metrics` (own registry), created, attached to the router and
        hooked to management writes on first call."""
        if self.metrics is None:
            self.metrics = Metrics().attach(self.router)
            record = self.metrics.record_management_write
            self.write_hooks.append(lambda event: record(event.outcome))
        return self.metrics

    def get_upstream(self) -> Upstream:
        if self.upstream is None:
            self.upstream = Upstream()
        return self.upstream
