"""Just enough HTTP/1.1 over asyncio streams: read a request, write responses, misbehave.

Requests carry a ``Content-Length`` body (chunked request bodies are refused with
411). Responses are ``Content-Length`` or ``Transfer-Encoding: chunked``; both keep
the connection alive unless the client asked to close it.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

__all__ = [
    "LAST_CHUNK",
    "BadRequest",
    "HttpRequest",
    "chunk",
    "hold",
    "read_request",
    "reset",
    "response_head",
]

MAX_BODY = 64 * 1024 * 1024
LAST_CHUNK = b"0\r\n\r\n"


class BadRequest(Exception):
    """The bytes on the wire are not a request we can serve; answer ``status`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One parsed request. Header names are lower-case; repeated headers are joined by ``, ``."""

    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> HttpRequest | None:
    """Read the next request, or ``None`` when the client has gone away."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest(431, "request headers too large") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, "malformed header line")
        name = name.lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest(411, "chunked request bodies are not supported; send Content-Length")
    length = _content_length(headers.get("content-length", "0"))
    if length and headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        body = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError:
        return None
    return HttpRequest(parts[0].upper(), parts[1], parts[2], headers, body)


def _content_length(text: str) -> int:
    if not text.strip().isdigit():
        raise BadRequest(400, "invalid Content-Length")
    length = int(text)
    if length > MAX_BODY:
        raise BadRequest(413, "request body too large")
    return length


def response_head(status: int, headers: Iterable[tuple[str, str]]) -> bytes:
    """Status line and headers, ending in the blank line."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One ``Transfer-Encoding: chunked`` chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def reset(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a TCP RST (``SO_LINGER`` 0, then close)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def hold(reader: asyncio.StreamReader) -> None:
    """Say nothing until the client goes away (or the task is cancelled)."""
    try:
        while await reader.read(65536):
            pass
    except ConnectionError:
        return
