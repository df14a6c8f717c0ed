"""What routes depend on, as ``Annotated`` aliases (as the FastAPI full-stack template
does): the runtime (router, pooled provider client, settings), its metrics, config
store and management gate, the parsed JSON body, and the gateway key check."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from fastapi import Depends, Request

from tppc_router.configfile.store import ConfigStore, store_for
from tppc_router.ops.metrics import Metrics
from tppc_router.routing.router import TppcRouter
from tppc_router.server.errors import GatewayError
from tppc_router.server.runtime import Runtime
from tppc_router.server.validation import json_depth

__all__ = [
    "JsonBody",
    "MetricsDep",
    "RouterDep",
    "RuntimeDep",
    "StoreDep",
    "get_metrics",
    "get_router",
    "get_runtime",
    "get_store",
    "json_body",
    "require_api_key",
]


# Every dependency is ``async def``: FastAPI runs a plain ``def`` one in a worker
# thread, which costs far more than the function itself on the hot path.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_router(runtime: RuntimeDep) -> TppcRouter:
    return runtime.router


RouterDep = Annotated[TppcRouter, Depends(get_router)]


async def get_metrics(runtime: RuntimeDep) -> Metrics:
    return runtime.ensure_metrics()


MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def get_store(runtime: RuntimeDep) -> ConfigStore:
    return store_for(runtime)


StoreDep = Annotated[ConfigStore, Depends(get_store)]


async def json_body(request: Request) -> dict[str, Any]:
    """The request body parsed once, as a JSON object; 400 otherwise."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except RecursionError:
        raise _too_deep(request) from None
    except ValueError:
        raise GatewayError("We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                           "using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
                           status_code=400, code="invalid_json") from None
    if not isinstance(body, dict):
        raise GatewayError("The request body must be a JSON object.", status_code=400, code="invalid_json")
    limit = _depth_limit(request)
    if raw.count(b"[") + raw.count(b"{") > limit and json_depth(body, limit) > limit:  # few brackets: shallow
        raise _too_deep(request)
    return body


def _depth_limit(request: Request) -> int:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings.server.limits.max_json_depth


def _too_deep(request: Request) -> GatewayError:
    return GatewayError(f"The JSON body is nested more than {_depth_limit(request)} levels deep "
                        "(server.limits.max-json-depth).", status_code=400, code="invalid_json")


JsonBody = Annotated[dict[str, Any], Depends(json_body)]


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def require_api_key(request: Request, runtime: RuntimeDep) -> None:
    """With ``server.api-keys`` set, ``Authorization: Bearer <one of them>`` or 401."""
    keys = runtime.settings.server.api_keys
    if not keys:
        return
    token = _bearer(request)
    if token is not None:
        given = token.encode()
        # Compare with every key, so the time taken does not say which one matched.
        matched = [hmac.compare_digest(given, key.get_secret_value().encode()) for key in keys]
        if any(matched):
            return
    message = ("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
               if token is None else "Incorrect API key provided.")
    raise GatewayError(message, status_code=401, code="invalid_api_key", headers={"www-authenticate": "Bearer"})
