"""The two ways a request goes out, behind one :class:`~tppc_router.routing.pipeline.Sender` shape.

* :class:`LiteLLMSender`: through litellm, for :class:`~tppc_router.routing.router.TppcRouter`.
  A configured provider is called through its pinned group of the wrapped
  ``litellm.Router`` (whose deployment carries the defaults); a per-request
  credential is called whole through ``litellm`` itself, with the defaults added.
* :class:`HttpxSender`: raw HTTP (:class:`~tppc_router.routing.upstream.Upstream`), for the
  gateway's faithful ``/v1/responses``: the client's body with only ``model`` replaced and
  the target's defaults added, events relayed byte for byte.

Everything else (which provider, when, with which body and timeout) is the pipeline's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from tppc_router.config.defaults import litellm_model
from tppc_router.routing._litellm import load_litellm
from tppc_router.routing.dropin import PINNED_CALL_FLAGS
from tppc_router.routing.engine import Target
from tppc_router.routing.pipeline import Outgoing
from tppc_router.routing.portal import BLOCKING_OK
from tppc_router.routing.trackers import SSEEvent

if TYPE_CHECKING:  # importing the package (and TppcRouter) stays free of httpx
    import httpx

    from tppc_router.routing.upstream import Upstream

__all__ = ["HttpxSender", "LiteLLMSender", "provider_body"]


# --------------------------------------------------------------------------- litellm


class LiteLLMSender:
    """Sends through litellm: ``method`` (``aresponses``, ``acompletion``, or a sync one, run on a
    worker thread) on the wrapped ``litellm.Router``."""

    via = "litellm"

    def __init__(self, router: Any, method: str) -> None:
        self.router = router
        self.method = method

    def _call(self, out: Outgoing) -> tuple[Any, dict[str, Any]]:
        target = out.target
        kw = dict(out.body)
        kw["num_retries"] = 0
        kw["timeout"] = out.timeout
        kw["no-log"] = True  # LiteLLM's callbacks see the logical call once (routing/litellm_logging), not each attempt
        if target.call_group:  # one attempt, no litellm fallbacks or cooldowns: the pipeline decides
            return self.router, {"model": target.call_group, **kw, **PINNED_CALL_FLAGS}
        # A per-request credential: no deployment holds it, so the defaults are added here.
        kw.update(api_key=target.api_key.get_secret_value(), api_base=target.base_url)
        kw.setdefault("reasoning_effort", target.reasoning_effort)
        kw.setdefault("store", target.store)
        return load_litellm(), {"model": litellm_model(target.model), **kw}

    async def send(self, out: Outgoing) -> Any:
        owner, kwargs = self._call(out)
        function = getattr(owner, self.method)
        if not self.method.startswith("a") and BLOCKING_OK.get():
            # A sync caller's own loop (Portal.run): litellm's sync call runs right here, bounded
            # by its own timeout; nothing else waits on this loop.
            return function(**kwargs)
        async with asyncio.timeout(out.timeout + 1.0):
            if self.method.startswith("a"):
                return await function(**kwargs)
            # litellm's sync path is faster than its async one; its own timeout bounds the thread.
            return await asyncio.to_thread(function, **kwargs)

    async def open(self, out: Outgoing) -> AsyncIterator[Any]:
        opened = await self.send(out)
        iterator: AsyncIterator[Any] = opened.__aiter__()
        return iterator

    def payload(self, result: Any) -> Mapping[str, Any] | None:
        dump = getattr(result, "model_dump", None)
        if not callable(dump):
            return None
        data = dump()
        return data if isinstance(data, Mapping) else None

    def completed(self, event: Mapping[str, Any]) -> Any:
        from litellm.types.llms.openai import ResponseCompletedEvent

        return ResponseCompletedEvent(**event)


# --------------------------------------------------------------------------- raw httpx


def provider_body(body: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """The provider's copy of a Responses body: its model name, and the target's defaults
    (``store``, ``reasoning.effort``) where the body does not set them. A ``reasoning`` that is
    not an object is left for the provider to refuse."""
    out = dict(body)
    out["model"] = target.model
    out.setdefault("store", target.store)
    reasoning = out.get("reasoning")
    if reasoning is None:
        out["reasoning"] = {"effort": target.reasoning_effort}
    elif isinstance(reasoning, Mapping) and "effort" not in reasoning:
        out["reasoning"] = {**reasoning, "effort": target.reasoning_effort}
    return out


class HttpxSender:
    """Sends a Responses request over raw HTTP; forwards ``headers`` (the client's allowed ones)."""

    via = "httpx"

    def __init__(self, upstream: Upstream, *, path: str = "/responses",
                 headers: Mapping[str, str] | None = None) -> None:
        self.upstream = upstream
        self.path = path
        self.headers = dict(headers or {})

    async def send(self, out: Outgoing) -> httpx.Response:
        return await self.upstream.post(out.target, self.path, provider_body(out.body, out.target),
                                        timeout=out.timeout, headers=self.headers)

    async def open(self, out: Outgoing) -> AsyncIterator[SSEEvent]:
        # The pipeline times the first byte and every silence itself; httpx's timeout is a backstop.
        return await self.upstream.open_sse(out.target, self.path, provider_body(out.body, out.target),
                                            timeout=out.timeout, headers=self.headers)

    def payload(self, result: httpx.Response) -> Mapping[str, Any] | None:
        try:
            parsed = json.loads(result.content)
        except ValueError:
            return None
        return parsed if isinstance(parsed, Mapping) else None

    def completed(self, event: Mapping[str, Any]) -> SSEEvent:
        data = json.dumps(event, separators=(",", ":"))
        raw = b"event: response.completed\ndata: " + data.encode() + b"\n\n"
        return SSEEvent(raw, "response.completed", data, event, kind="response.completed")
