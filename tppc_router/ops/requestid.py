"""Request ids: one per gateway request, in the ``x-request-id`` response header and on every
log line written while the request runs.

A client's own ``x-request-id`` is kept when it is short and safe (1 to 128 characters of
letters, digits, ``.``, ``_``, ``-``); otherwise, or without one, a new id is generated. The id
lives in a context variable, so it follows the request into awaited calls, tasks and the
thread pool (which copy the context); :class:`RequestIdFilter` puts it on each log record as
``request_id``, a top-level field of the JSON log lines.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "REQUEST_ID_HEADER",
    "RequestIdFilter",
    "RequestIdMiddleware",
    "accept_request_id",
    "current_request_id",
]

REQUEST_ID_HEADER = "x-request-id"
_SAFE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("tppc_request_id", default=None)


def accept_request_id(value: str | None) -> str:
    """``value`` when it is a safe id (<= 128 of ``[A-Za-z0-9._-]``), else a new random one."""
    if value is not None and _SAFE.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` to the current request's id (records outside a request get none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = _request_id.get()
        if rid is not None and not hasattr(record, "request_id"):
            record.request_id = rid
        return True


class RequestIdMiddleware:
    """Pure ASGI (streams pass through untouched): picks the request's id, keeps it in the context
    while the request runs, and returns it in the ``x-request-id`` response header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = [v for k, v in scope.get("headers", ()) if k.lower() == REQUEST_ID_HEADER.encode()]
        raw = given[0].decode("latin-1") if len(given) == 1 else None
        rid = accept_request_id(raw)
        header = (REQUEST_ID_HEADER.encode(), rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != header[0]]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = _request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)
