"""Every error the server returns, as an OpenAI-shaped HTTP response.

The body is always ``{"error": {"message", "type", "code", "param", ...}}``, every
string in it goes through :func:`~tppc_router.masking.mask_text`, and no traceback
ever reaches a client. :func:`install_error_handlers` wires this into an app:

==================================  ======  =========================================
error                               status  notes
==================================  ======  =========================================
malformed JSON, missing field       400     :class:`GatewayError` ``invalid_request_error``
bad or missing gateway key          401     ``WWW-Authenticate: Bearer``
unknown model                       404     ``error.available_models`` lists the models
every provider rate-limited or      429     ``Retry-After`` (whole seconds, rounded up)
cooling down
every provider failed               502     ``error.attempts`` lists each try, no keys
the provider refused the request    as is   :class:`ProviderRejected`: its status and body
any other exception                 500     ``internal_error``, logged server-side
==================================  ======  =========================================
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tppc_router.errors import AllProvidersCoolingError, AllProvidersFailedError, Outcome, TppcRouterError
from tppc_router.masking import get_logger, mask_text

__all__ = [
    "PROVIDER_HEADER",
    "GatewayError",
    "ProviderRejected",
    "error_body",
    "error_response",
    "install_error_handlers",
    "masked",
]

logger = get_logger("tppc_router.server")

PROVIDER_HEADER = "x-tppc-provider"


class GatewayError(TppcRouterError):
    """A request the gateway refuses before any provider is called (400, 401, 404)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.type = type
        self.code = code
        self.param = param
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    @property
    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, code=self.code, param=self.param, **self.extra)


class ProviderRejected(TppcRouterError):
    """The provider refused the request itself (400 context length, ...): no failover,
    and its status and body go back to the client as they came."""

    def __init__(self, status_code: int, content: bytes, *, provider: str | None,
                 content_type: str = "application/json") -> None:
        super().__init__(f"provider {provider!r} refused the request with HTTP {status_code}")
        self.status_code = status_code
        self.content = content
        self.provider = provider
        self.content_type = content_type

    @property
    def body(self) -> dict[str, Any]:
        try:
            parsed = json.loads(self.content)
        except ValueError:
            parsed = None
        return parsed if isinstance(parsed, dict) else super().body


def error_body(message: str, *, type: str, code: str | None = None, param: str | None = None,
               **extra: Any) -> dict[str, Any]:
    """``{"error": {...}}`` with the four OpenAI fields, plus ``extra``."""
    return {"error": {"message": message, "type": type, "code": code, "param": param, **extra}}


def masked(value: Any) -> Any:
    """``value`` with every string in it passed through ``mask_text``."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def _retry_after(seconds: float | None) -> dict[str, str]:
    return {} if seconds is None else {"retry-after": str(max(0, math.ceil(seconds)))}


def _all_rate_limited(exc: AllProvidersFailedError) -> bool:
    outcomes = {a.outcome for a in exc.attempts}
    return Outcome.RATE_LIMITED in outcomes and outcomes <= {Outcome.RATE_LIMITED, Outcome.SKIPPED}


def error_response(exc: TppcRouterError) -> Response:
    """The HTTP response for one of our errors."""
    if isinstance(exc, ProviderRejected):
        headers = {PROVIDER_HEADER: exc.provider} if exc.provider else {}
        content = mask_text(exc.content.decode("utf-8", errors="replace")).encode()
        return Response(content, status_code=exc.status_code, media_type=exc.content_type, headers=headers)
    status, body, headers = exc.status_code, exc.body, {}
    if isinstance(exc, GatewayError):
        headers = exc.headers
    elif isinstance(exc, AllProvidersCoolingError):
        headers = _retry_after(exc.retry_after if exc.retry_after is not None else 1.0)
    elif isinstance(exc, AllProvidersFailedError) and _all_rate_limited(exc):
        # Every provider answered 429: the client should back off, not see a gateway failure.
        status = 429
        body["error"].update(type="rate_limit_error", code="all_providers_rate_limited")
        headers = _retry_after(exc.retry_after if exc.retry_after is not None else 1.0)
    return JSONResponse(masked(body), status_code=status, headers=headers)


async def _tppc_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TppcRouterError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()]
    body = error_body("invalid request: " + "; ".join(problems), type="invalid_request_error",
                      code="invalid_request")
    return JSONResponse(masked(body), status_code=400)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    body = error_body(message, type=kind, code=code)
    return JSONResponse(masked(body), status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unhandled %s on %s %s: %s", type(exc).__name__, request.method, request.url.path,
                 mask_text(str(exc)))
    body = error_body(f"internal error ({type(exc).__name__})", type="server_error", code="internal_error")
    return JSONResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the OpenAI-shaped responses above."""
    app.add_exception_handler(TppcRouterError, _tppc_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
