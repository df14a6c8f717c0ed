"""``GET /metrics``: the router's Prometheus metrics in the text exposition format.

The :class:`~tppc_router.ops.metrics.Metrics` is ``runtime.metrics``.
Call :func:`install_metrics` when the app is built, so counting starts with the
first request rather than the first scrape; the route installs it on first use
otherwise. It also counts management writes through the management write hooks.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from tppc_router.ops.metrics import Metrics
from tppc_router.server.deps import MetricsDep
from tppc_router.server.runtime import Runtime

__all__ = ["install_metrics", "router"]

router = APIRouter(tags=["metrics"])


def install_metrics(runtime: Runtime) -> Metrics:
    """The runtime's :class:`Metrics`, created (own registry) and attached on first call."""
    return runtime.ensure_metrics()


@router.get("/metrics", include_in_schema=False)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text format."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
