"""``create_app(settings)``: the gateway as a FastAPI app. Nothing is built at import time.

The app holds one :class:`~tppc_router.server.runtime.Runtime` on ``app.state.runtime``
(with its Prometheus :class:`~tppc_router.ops.metrics.Metrics` as ``runtime.metrics``)
and four routers: the gateway (``/v1``), management (``/v0/management``), health
(``/healthz``, ``/readyz``, ``/status``) and ``/metrics``. While the app runs, the
active health checks run too (when ``router.health-check.enabled``); on shutdown
they stop and the pooled provider client is closed. A router's own ``lifespan``
(``APIRouter(lifespan=...)``) is merged into the app's, so an area can start and
stop its own background work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from tppc_router.config.schema import Settings
from tppc_router.ops.probes import start_probes, stop_probes
from tppc_router.routing.litellm_logging import LitellmCallLogger
from tppc_router.routing.router import TppcRouter
from tppc_router.server import gateway, health, management, metrics_route
from tppc_router.ops.requestid import RequestIdMiddleware
from tppc_router.server.errors import install_error_handlers
from tppc_router.server.guards import Guard
from tppc_router.server.metrics_route import install_metrics
from tppc_router.server.runtime import Runtime, effective_settings

__all__ = ["create_app"]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime: Runtime = app.state.runtime
    probes = start_probes(runtime.router, on_result=install_metrics(runtime).record_probe)
    try:
        yield
    finally:
        await stop_probes(probes)
        if runtime.litellm_logging is not None:
            await runtime.litellm_logging.drain()
        if runtime.upstream is not None:
            await runtime.upstream.aclose()
            runtime.upstream = None


def install_litellm_logging(runtime: Runtime) -> LitellmCallLogger:
    """LiteLLM's configured callbacks see each gateway call once: the router's own logger
    (``TppcRouter.litellm_logging``), kept on ``runtime.litellm_logging`` so shutdown drains it."""
    if runtime.litellm_logging is None:
        runtime.litellm_logging = runtime.router.litellm_logging
    return runtime.litellm_logging


def create_app(
    settings: Settings,
    *,
    config_path: str | Path | None = None,
    tppc_override: bool | None = None,
    router: TppcRouter | None = None,
) -> FastAPI:
    """The gateway app for ``settings`` (as loaded from ``config_path``, if any).

    ``tppc_override`` is ``--tppc`` (True: the enabled tppc providers, never a disabled one) /
    ``--no-tppc`` (False: every tppc provider off); None serves the file as it is. ``router``
    replaces the :class:`TppcRouter` built from ``settings``.
    """
    runtime = Runtime(
        router=router if router is not None else TppcRouter(effective_settings(settings, tppc_override)),
        config_path=Path(config_path) if config_path is not None else None,
        tppc_override=tppc_override,
        file_settings=settings,
    )
    if router is not None and tppc_override is not None:
        runtime.apply(settings)  # a router built by the caller: apply the override to it
    runtime.ensure_metrics()
    install_litellm_logging(runtime)
    app = FastAPI(title="tppc-router", lifespan=_lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(Guard)
    app.add_middleware(RequestIdMiddleware)  # outermost: every response, refusals included, has an id
    app.include_router(gateway.router)
    app.include_router(management.router)
    app.include_router(health.router)
    app.include_router(metrics_route.router)
    return app
