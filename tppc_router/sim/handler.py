"""One client connection: route each request, check it, pick a fault, answer (or misbehave).

Order of checks for a request: route (404), bearer key (401), ``/v1/models`` is
answered here; then body encoding (415), JSON body (400), ``model`` (404 ``model_not_found``), per-request
``x-sim-fault`` / ``x-sim-scenario`` headers (400 when invalid); then the fault is
picked, the request recorded, and the answer sent the way the fault says.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from typing import Any

from tppc_router.masking import mask
from tppc_router.sim.chat import chat_chunks, chat_completion, wants_usage
from tppc_router.sim.faults import Fault
from tppc_router.sim.plan import Answer, build_answer
from tppc_router.sim.responses import response_events, response_object
from tppc_router.sim.sse import MALFORMED_CHAT, MALFORMED_RESPONSES, chat_frames, dumps, responses_frames, schedule
from tppc_router.sim.state import SCENARIOS, RecordedRequest, SimConfig, SimState
from tppc_router.sim.wire import LAST_CHUNK, BadRequest, HttpRequest, chunk, hold, read_request, reset, response_head

__all__ = ["FAULT_HEADER", "SCENARIO_HEADER", "Session", "error_payload"]

FAULT_HEADER = "x-sim-fault"
SCENARIO_HEADER = "x-sim-scenario"
_ROUTES = {
    ("POST", "/v1/responses"): "responses",
    ("POST", "/v1/chat/completions"): "chat",
    ("GET", "/v1/models"): "models",
}
_DEFAULT_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error"}
_DEFAULT_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
_DEFAULT_MESSAGES = {
    401: "Incorrect API key provided.",
    429: "Rate limit reached. Please try again later.",
    500: "The server had an error while processing your request.",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
}
log = logging.getLogger(__name__)


def error_payload(message: str, *, type: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """An OpenAI-shaped error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    return _DEFAULT_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


class Session:
    """Serves the requests of one keep-alive connection, one after another."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, config: SimConfig, state: SimState
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.config = config
        self.state = state
        self._close = False  # the current request asked for Connection: close

    async def run(self) -> None:
        """Serve until the client leaves, asks to close, or a fault ends the connection."""
        try:
            while True:
                try:
                    request = await read_request(self.reader, self.writer)
                except BadRequest as error:
                    self._close = True
                    await self._send_error(error.status, error.message)
                    return
                if request is None:
                    return
                self._close = not request.keep_alive
                if not await self._handle(request) or self._close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except Exception:  # a bug in one connection must not stop the server
            log.exception("simulator %s: unexpected error while serving a request", self.config.name)
        finally:
            self.writer.close()

    async def _handle(self, request: HttpRequest) -> bool:
        """Answer one request; ``False`` when the connection must not be reused."""
        route = _ROUTES.get((request.method, request.path))
        token = _bearer(request.headers)
        if route is None:
            self._record(request, None, token, "not_found")
            return await self._send_error(404, f"Invalid URL ({request.method} {request.path})")
        if self.config.api_key is not None and not _same(token, self.config.api_key):
            self._record(request, None, token, "unauthorized")
            return await self._send_error(401, "Incorrect API key provided.", code="invalid_api_key")
        if route == "models":
            self._record(request, None, token, "ok")
            return await self._send_json(200, self._models())
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            self._record(request, None, token, "bad_request")
            return await self._send_error(415, f"Content-Encoding {encoding!r} is not supported; send plain JSON.")
        body = _json_object(request.body)
        if body is None:
            self._record(request, None, token, "bad_request")
            return await self._send_error(400, "We could not parse the JSON body of your request.")
        try:
            extra = [Fault.parse(spec) for spec in _specs(request.headers.get(FAULT_HEADER, ""))]
            scenario = self._scenario(request)
            self._check_model(body)
        except _Refused as refused:
            self._record(request, body, token, "not_found" if refused.status == 404 else "bad_request")
            return await self._send_error(refused.status, refused.message, code=refused.code)
        except ValueError as error:
            self._record(request, body, token, "bad_request")
            return await self._send_error(400, f"{FAULT_HEADER}: {error}", code="invalid_sim_fault")
        fault = self.state.pick(extra)
        self._record(request, body, token, fault.kind if fault is not None else "ok")
        answer = build_answer(
            self.config.name,
            body,
            body_size=len(request.body),
            text=self.config.text,
            function_call=scenario == "function_call",
        )
        return await self._respond(route, body, answer, fault)

    def _check_model(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _Refused(400, "you must provide a model parameter", "missing_required_parameter")
        if self.config.models and model not in self.config.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            raise _Refused(404, message, "model_not_found")

    def _scenario(self, request: HttpRequest) -> str:
        scenario = request.headers.get(SCENARIO_HEADER, self.config.scenario)
        if scenario not in SCENARIOS:
            message = f"{SCENARIO_HEADER} must be one of {', '.join(SCENARIOS)}"
            raise _Refused(400, message, "invalid_sim_scenario")
        return scenario

    async def _respond(self, route: str, body: dict[str, Any], answer: Answer, fault: Fault | None) -> bool:
        if fault is not None and fault.kind == "flap":
            if fault.mode == "reset":
                reset(self.writer)
                return False
            return await self._send_fault_status(fault.flap_status, Fault("status", status=fault.flap_status))
        if fault is not None and fault.kind == "status":
            return await self._send_fault_status(fault.status or 500, fault)
        if fault is not None and fault.kind == "reset":
            reset(self.writer)
            return False
        if fault is not None and fault.kind == "no-response":
            if fault.seconds is None:
                await hold(self.reader)
                return False
            await asyncio.sleep(fault.seconds)
            fault = None
        if body.get("stream") is True:
            return await self._send_stream(route, body, answer, fault)
        payload = dumps(response_object(answer, body) if route == "responses" else chat_completion(answer))
        return await self._send_whole(payload, fault)

    async def _send_whole(self, payload: bytes, fault: Fault | None) -> bool:
        """A non-streaming answer; slow/stall delay it, malformed and cut-after break it."""
        kind = fault.kind if fault is not None else None
        if fault is not None and kind in ("slow-first-token", "stall"):
            if fault.seconds is None:
                await hold(self.reader)
                return False
            await asyncio.sleep(fault.seconds)
        if kind == "malformed":
            payload = payload[: len(payload) // 2]
        head = response_head(200, self._headers("application/json", len(payload)))
        if fault is not None and kind == "cut-after":
            self.writer.write(head + payload[: min(fault.count or 0, len(payload) - 1)])
            await self.writer.drain()
            self.writer.close()
            return False
        self.writer.write(head + payload)
        await self.writer.drain()
        return True

    async def _send_stream(self, route: str, body: dict[str, Any], answer: Answer, fault: Fault | None) -> bool:
        """An SSE answer in chunked encoding, sent by the fault's schedule."""
        if route == "responses":
            frames, malformed = responses_frames(response_events(answer, body)), MALFORMED_RESPONSES
        else:
            frames, malformed = chat_frames(chat_chunks(answer, include_usage=wants_usage(body))), MALFORMED_CHAT
        plan = schedule(frames, fault, malformed=malformed, delta_delay=self.config.delta_delay)
        out = response_head(200, self._headers("text/event-stream; charset=utf-8", None))
        start = 0
        for point in plan.points():
            out += b"".join(chunk(frame.data) for frame in plan.frames[start:point])
            start = point
            last = point == len(plan.frames) and point not in plan.pauses and plan.cut != point
            self.writer.write(out + LAST_CHUNK if last else out)
            out = b""
            await self.writer.drain()
            if last:
                return True
            if point == plan.cut:
                self.writer.close()
                return False
            pause = plan.pauses.get(point, 0.0)
            if pause is None:
                await hold(self.reader)
                return False
            await asyncio.sleep(pause)
        self.writer.write(LAST_CHUNK)
        await self.writer.drain()
        return True

    async def _send_fault_status(self, status: int, fault: Fault) -> bool:
        message = fault.message
        if message is None:
            message = _DEFAULT_MESSAGES.get(status, f"Simulated error {status}.")
            if status == 429 and fault.retry_after is not None:
                message = f"Rate limit reached. Please try again in {_seconds(fault.retry_after)}s."
            message = f"{message} (simulated by {self.config.name})"
        extra = [("retry-after", _seconds(fault.retry_after))] if fault.retry_after is not None else []
        code = fault.code or _DEFAULT_CODES.get(status)
        return await self._send_error(status, message, code=code, type=fault.type, headers=extra)

    async def _send_error(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> bool:
        payload = error_payload(message, type=type or _error_type(status), code=code)
        return await self._send_json(status, payload, headers or [])

    async def _send_json(self, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> bool:
        data = dumps(payload)
        self.writer.write(response_head(status, self._headers("application/json", len(data)) + (headers or [])) + data)
        await self.writer.drain()
        return True

    def _headers(self, content_type: str, length: int | None) -> list[tuple[str, str]]:
        headers = [("content-type", content_type), ("x-request-id", "req_" + os.urandom(12).hex())]
        if length is None:
            headers += [("cache-control", "no-cache"), ("transfer-encoding", "chunked")]
        else:
            headers.append(("content-length", str(length)))
        if self._close:
            headers.append(("connection", "close"))
        return headers

    def _models(self) -> dict[str, Any]:
        data = [
            {"id": model, "object": "model", "created": 0, "owned_by": self.config.name} for model in self.config.models
        ]
        return {"object": "list", "data": data}

    def _record(self, request: HttpRequest, body: dict[str, Any] | None, token: str | None, outcome: str) -> None:
        headers = dict(request.headers)
        if "authorization" in headers:
            headers["authorization"] = f"Bearer {mask(token)}" if token else mask(headers["authorization"])
        model = body.get("model") if body is not None else None
        self.state.record(
            RecordedRequest(
                time=self.state.clock(),
                method=request.method,
                path=request.path,
                model=model if isinstance(model, str) else None,
                stream=body is not None and body.get("stream") is True,
                api_key=token,
                body=body,
                headers=headers,
                outcome=outcome,
            )
        )


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def _bearer(headers: dict[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _same(token: str | None, key: str) -> bool:
    return token is not None and hmac.compare_digest(token.encode(), key.encode())


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _specs(header: str) -> list[str]:
    """``x-sim-fault`` holds one spec, or several separated by ``;``."""
    return [spec.strip() for spec in header.split(";") if spec.strip()]


def _seconds(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)
