"""A tppc group's stream as LiteLLM's own stream type.

A chat stream is a ``CustomStreamWrapper`` (what ``litellm.Router.acompletion(stream=True)``
returns), a Responses stream a ``ResponsesAPIStreamingIterator`` (async) or
``SyncResponsesAPIStreamingIterator`` (sync). The items are LiteLLM's own chunks and events
(the serving provider's LiteLLM stream made them), so ``litellm.stream_chunk_builder`` rebuilds
a chat stream. Under the LiteLLM type runs our :class:`FailoverStream` (failover before the first
content, :class:`StreamInterruptedError` after); its ``provider``, ``attempts``, ``target`` and
``tracker`` read through. LiteLLM's stream constructors are not run: they would start a second
logging and parsing pipeline over chunks that are already parsed.

The classes are built on first use, since litellm is imported lazily.
"""

from __future__ import annotations

import functools
from typing import Any

from tppc_router.routing._litellm import load_litellm
from tppc_router.routing.portal import Portal

__all__ = ["as_litellm_stream"]


class _Relay:
    """The iteration of every wrapper: async items from ``source``; sync ones through ``portal``."""

    _source: Any
    _portal: Portal | None

    def _setup(self, source: Any, portal: Portal | None, model: str) -> None:
        self.__dict__.update(_source=source, _portal=portal, model=model)
        attempts = [a.as_dict() for a in getattr(source, "attempts", [])]
        self._hidden_params: dict[str, Any] = {"tppc_provider": getattr(source, "provider", None), "tppc_attempts": attempts,
                               "model_id": None, "api_base": None, "additional_headers": {}}

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        return await self._source.__anext__()

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        if self._portal is None:
            raise TypeError("this stream is async: iterate it with 'async for'")
        try:
            return self._portal.call(self._source.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    async def aclose(self) -> None:
        await self._source.aclose()

    def close(self) -> None:
        if self._portal is not None:
            self._portal.call(self._source.aclose())

    def __getattr__(self, name: str) -> Any:
        source = self.__dict__.get("_source")
        if source is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(source, name)


@functools.cache
def _chat_class() -> type:
    load_litellm()
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

    class TppcChatStream(_Relay, CustomStreamWrapper):
        """A tppc chat stream: a ``CustomStreamWrapper`` over our failover stream."""

        def __init__(self, source: Any, portal: Portal | None, model: str) -> None:
            self._setup(source, portal, model)
            self.custom_llm_provider = "openai"
            self.chunks = []
            self.sent_first_chunk = False
            self.sent_last_chunk = False
            self.response_uptil_now = ""
            self.complete_response = ""

    return TppcChatStream


@functools.cache
def _responses_classes() -> tuple[type, type]:
    load_litellm()
    from litellm.responses.streaming_iterator import ResponsesAPIStreamingIterator, SyncResponsesAPIStreamingIterator

    class TppcResponsesStream(_Relay, ResponsesAPIStreamingIterator):
        """A tppc async Responses stream: a ``ResponsesAPIStreamingIterator`` over our failover stream."""

        def __init__(self, source: Any, portal: Portal | None, model: str) -> None:
            self._setup(source, portal, model)
            self.finished = False
            self.completed_response = None

    class TppcSyncResponsesStream(_Relay, SyncResponsesAPIStreamingIterator):
        """A tppc sync Responses stream: a ``SyncResponsesAPIStreamingIterator`` over our failover stream."""

        def __init__(self, source: Any, portal: Portal | None, model: str) -> None:
            self._setup(source, portal, model)
            self.finished = False
            self.completed_response = None

    return TppcResponsesStream, TppcSyncResponsesStream


def as_litellm_stream(source: Any, *, model: str, responses: bool, portal: Portal | None = None) -> Any:
    """``source`` (a failover stream) as LiteLLM's stream type; sync iteration through ``portal``."""
    if not responses:
        return _chat_class()(source, portal, model)
    async_cls, sync_cls = _responses_classes()
    return (sync_cls if portal is not None else async_cls)(source, portal, model)
