"""Checks every request passes before any route sees it (one pure ASGI layer).

* **Host** (every route): the ``Host`` header must be an IP address, a loopback name
  (``localhost``, ``*.localhost``) or a name in ``server.allowed-hosts``; when the
  socket is bound to loopback, only loopback addresses count. Anything else gets 421:
  a web page that rebinds its own DNS name to 127.0.0.1 cannot reach the gateway.
* **Header size**: request line and headers past ``server.limits.max-header-bytes`` get
  431 (uvicorn refuses a head that arrives in pieces past it with 400).
* **Body size**: a body larger than ``server.limits.max-body-bytes`` (``/v1/*``) or
  ``management-max-body-bytes`` (``/v0/management``) gets 413, from its
  ``Content-Length`` before a byte is read, or as soon as a chunked body passes it.
* **Management requests from browsers**: a write with a body must be ``Content-Type:
  application/json`` (415 otherwise) and a request carrying an ``Origin`` header not
  listed in ``remote-management.allowed-origins`` gets 403. A form or ``text/plain``
  POST from a web page is therefore refused before authentication, and never counts
  toward the management lockout.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tppc_router.config.schema import Settings
from tppc_router.server.errors import GatewayError, error_body

__all__ = ["Guard", "host_allowed", "host_name"]

MANAGEMENT_PREFIX = "/v0/management"
_WRITES = frozenset({"POST", "PUT", "PATCH"})
_LOOPBACK_NAMES = ("localhost", "localhost.")


def host_name(header: str) -> str:
    """``"[::1]:8317"`` -> ``::1``; ``"Example.COM:80"`` -> ``example.com``."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _loopback_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def host_allowed(header: str | None, *, bound_to_loopback: bool, allowed: Iterable[str] = ()) -> bool:
    """Whether a request with this ``Host`` header may be served (see the module doc)."""
    if header is None:
        return True  # HTTP/1.0 without Host: no browser sends that
    name = host_name(header)
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    if any(name == host_name(a) for a in allowed):
        return True
    address = _ip(name)
    if address is None:
        return False
    return _loopback_ip(address) or not bound_to_loopback


def _bound_to_loopback(scope: Scope) -> bool:
    server = scope.get("server")
    if not server or not isinstance(server[0], str):
        return True  # a unix socket or an unknown transport: judge it strictly
    address = _ip(server[0])
    return address is not None and _loopback_ip(address)


def _reply(status: int, body: dict[str, Any], headers: Iterable[tuple[bytes, bytes]] = ()) -> list[Message]:
    data = json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
            (b"connection", b"close"), *headers]
    return [{"type": "http.response.start", "status": status, "headers": head},
            {"type": "http.response.body", "body": data}]


def _too_large(limit: int) -> GatewayError:
    return GatewayError(f"The request body is larger than this server accepts ({limit} bytes).", status_code=413,
                        code="request_too_large")


class Guard:
    """The ASGI layer that runs the checks of the module doc. ``settings`` is read per request
    (``app.state.runtime.settings``), so a reload changes the limits at once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.runtime.settings
        refusal = _refusal(scope, settings)
        if refusal is not None:
            for message in refusal:
                await send(message)
            return
        path: str = scope["path"]
        limits = settings.server.limits
        limit = limits.management_max_body_bytes if path.startswith(MANAGEMENT_PREFIX) else limits.max_body_bytes
        await self.app(scope, _counting(receive, limit), send)


def _refusal(scope: Scope, settings: Settings) -> list[Message] | None:
    """The response refusing this request, or None to let it through."""
    host: str | None = None
    origin: str | None = None
    content_type = ""
    length: int | None = None
    chunked = False
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    for name, value in scope["headers"]:
        size += len(name) + len(value) + 4
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"origin":
            origin = value.decode("latin-1")
        elif name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
    server = settings.server
    if size > server.limits.max_header_bytes:
        message = f"Request header fields too large (server.limits.max-header-bytes: {server.limits.max_header_bytes})."
        return _reply(431, error_body(message, type="invalid_request_error", code="headers_too_large"))
    if not host_allowed(host, bound_to_loopback=_bound_to_loopback(scope), allowed=server.allowed_hosts):
        message = ("Misdirected request: this server does not answer for that Host name "
                   "(add it to server.allowed-hosts to allow it).")
        return _reply(421, error_body(message, type="invalid_request_error", code="host_not_allowed"))
    path: str = scope["path"]
    management = path.startswith(MANAGEMENT_PREFIX)
    if management:
        if origin is not None and origin.strip().rstrip("/") not in {
            o.strip().rstrip("/") for o in settings.remote_management.allowed_origins
        }:
            message = ("cross-origin request refused: this Origin is not in remote-management.allowed-origins")
            return _reply(403, error_body(message, type="management_error", code="origin_not_allowed"))
        media = content_type.partition(";")[0].strip().lower()
        has_body = chunked or (length is not None and length > 0)
        if scope["method"] in _WRITES and has_body and media != "application/json":
            message = "management writes must be sent as Content-Type: application/json"
            return _reply(415, error_body(message, type="management_error", code="unsupported_media_type"))
    limit = server.limits.management_max_body_bytes if management else server.limits.max_body_bytes
    if length is not None and length > limit:
        return _reply(413, _too_large(limit).body)
    return None


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit)
        return message

    return counted
