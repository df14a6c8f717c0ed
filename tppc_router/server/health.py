"""``/healthz``, ``/readyz`` and ``/status``: is the process up, can it serve, and how.

* ``GET /healthz``: 200 ``{"status": "ok"}`` whenever the process answers.
* ``GET /readyz``: 200 when at least one enabled provider has a breaker that is
  not open (a provider no request has reached yet counts as closed); otherwise
  503, naming every enabled provider with its state and ``next_probe_in_s``: the
  seconds until it is tried again (by the next request, or by the next active
  probe when ``router.health-check`` is on). The 503 carries ``Retry-After``.
* ``GET /status``: the public summary ``tppc-router status`` prints: per provider
  its name, enabled, priority, state, requests, recent error rate, last latency and
  failovers; the model groups; the state backend. No key, no URL, no error text.

None of these require a key; mount them outside any auth dependency.
"""

from __future__ import annotations

import math
import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tppc_router.routing.breaker import BreakerState
from tppc_router.ops.probes import prober_for
from tppc_router.routing.router import TppcRouter
from tppc_router.server.deps import RouterDep, RuntimeDep
from tppc_router.server.runtime import Runtime

__all__ = ["provider_readiness", "readiness", "router", "status_document"]

router = APIRouter(tags=["health"])

def provider_readiness(tppc: TppcRouter) -> list[dict[str, Any]]:
    """Each configured provider: name, enabled, state, available, next_probe_in_s."""
    prober = prober_for(tppc)
    rows: list[dict[str, Any]] = []
    for row in tppc.provider_states():
        snapshots = row.breakers
        available = row.enabled and (not snapshots or any(s.state is not BreakerState.OPEN for s in snapshots))
        retry = [s.retry_in_s for s in snapshots if s.state is BreakerState.OPEN and s.retry_in_s is not None]
        next_in: float | None = None
        if row.enabled and not available and retry:
            earliest = min(retry)
            next_in = prober.next_probe_in(earliest) if prober is not None else earliest
        rows.append(
            {
                "name": row.name,
                "enabled": row.enabled,
                "priority": row.priority,
                "state": row.state,
                "available": available,
                "next_probe_in_s": None if next_in is None else round(next_in, 1),
            }
        )
    return rows


def readiness(tppc: TppcRouter) -> tuple[bool, dict[str, Any]]:
    """(ready, body) as ``/readyz`` reports them."""
    rows = provider_readiness(tppc)
    enabled = [r for r in rows if r["enabled"]]
    available = [r["name"] for r in enabled if r["available"]]
    if available:
        return True, {"status": "ready", "available": available}
    if not enabled:
        reason = "no provider is enabled"
    else:
        reason = "every enabled provider's breaker is open: " + ", ".join(
            f"{r['name']} (next probe in {_seconds(r['next_probe_in_s'])})" for r in enabled
        )
    providers = [{k: r[k] for k in ("name", "state", "next_probe_in_s")} for r in enabled]
    return False, {"status": "unavailable", "reason": reason, "providers": providers}


def _backend(tppc: TppcRouter) -> tuple[str, bool | None]:
    """(backend, reachable) as the router's breaker registry reports them."""
    info = getattr(tppc, "state_backend_info", None)
    if callable(info):
        reported = info()
        return str(reported.get("backend")), reported.get("reachable")
    backend = tppc.tppc_settings.router.state.backend
    return backend, True if backend == "memory" else None


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g} s"


def status_document(runtime: Runtime) -> dict[str, Any]:
    """The ``/status`` body: nothing secret, no URLs."""
    tppc = runtime.router
    ready, _ = readiness(tppc)
    readiness_rows = {r["name"]: r for r in provider_readiness(tppc)}
    providers = []
    for row in tppc.provider_states():
        extra = readiness_rows.get(row.name, {})
        providers.append(
            {
                "name": row.name,
                "enabled": row.enabled,
                "priority": row.priority,
                "state": row.state,
                "requests": row.requests,
                "error_rate": row.error_rate,
                "last_latency_ms": row.last_latency_ms,
                "failovers": row.failovers_from,
                "next_probe_in_s": extra.get("next_probe_in_s"),
            }
        )
    groups = []
    for group in tppc.model_groups():
        targets = tppc.targets(group)
        if targets and all(t.call_group == group for t in targets):
            continue
        groups.append({"group": group, "providers": [t.provider for t in targets]})
    metrics = runtime.metrics
    backend, reachable = metrics.state_backend() if metrics is not None else _backend(tppc)
    health = tppc.tppc_settings.router.health_check
    return {
        "status": "ready" if ready else "unavailable",
        "uptime_s": round(time.time() - runtime.started_at, 1),
        "providers": providers,
        "model_groups": groups,
        "state_backend": {"backend": backend, "reachable": reachable},
        "health_check": {"enabled": health.enabled, "interval": health.interval,
                         "running": health.enabled and prober_for(tppc) is not None},
    }


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(router: RouterDep) -> JSONResponse:
    """200 when some enabled provider can be tried now; 503 naming them all otherwise."""
    ready, body = readiness(router)
    if ready:
        return JSONResponse(body)
    waits = [p["next_probe_in_s"] for p in body["providers"] if p["next_probe_in_s"] is not None]
    headers = {"retry-after": str(max(1, math.ceil(min(waits))))} if waits else {}
    return JSONResponse(body, status_code=503, headers=headers)


@router.get("/status")
async def status(runtime: RuntimeDep) -> dict[str, Any]:
    """Providers, states and recent error rates; no keys, no URLs."""
    return status_document(runtime)
