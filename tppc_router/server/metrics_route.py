"""``GET /metrics``: the router's Prometheus metrics in the text exposition format.

The :class:`~tppc_router.ops.metrics.Metrics` lives in ``runtime.extras["metrics"]``.
Call :func:`install_metrics` when the app is built, so counting starts with the
first request rather than the first scrape; the route installs it on first use
otherwise. It also counts management writes through the management write hooks.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from tppc_router.ops.metrics import Metrics
from tppc_router.server.management import HOOKS_KEY, WriteEvent
from tppc_router.server.runtime import Runtime

__all__ = ["install_metrics", "router"]

router = APIRouter(tags=["metrics"])


def install_metrics(runtime: Runtime) -> Metrics:
    """The runtime's :class:`Metrics`, created (own registry) and attached on first call."""
    metrics = runtime.extras.get("metrics")
    if not isinstance(metrics, Metrics):
        metrics = Metrics().attach(runtime.router)
        runtime.extras["metrics"] = metrics
        record = metrics.record_management_write

        def count_write(event: WriteEvent) -> None:
            record(event.outcome)

        runtime.extras.setdefault(HOOKS_KEY, []).append(count_write)
    return metrics


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    runtime: Runtime = request.app.state.runtime
    return Response(install_metrics(runtime).render(), media_type=CONTENT_TYPE_LATEST)
