"""LiteLLM's logging for tppc groups: one logical call, one success or failure event.

A request for a tppc group may try several providers; LiteLLM's callbacks (custom
loggers in ``litellm.callbacks``, ``litellm.success_callback``,
``litellm.failure_callback``) see it once, as the caller made it:

* ``model_group`` is the group the caller asked for (``gpt-5``, not ``primary/gpt-5``);
* ``model_id`` is the deployment that answered (``tppc:<provider>:<model>``), ``api_base``
  its base URL, ``custom_llm_provider`` ``openai``;
* usage, ``response_cost`` (where LiteLLM knows the model's price) and latency come from
  LiteLLM's own standard logging payload code;
* ``metadata.spend_logs_metadata`` (a field LiteLLM keeps, made for per-call key/values)
  carries ``tppc_provider`` (who answered), ``tppc_failover`` (whether another provider
  was tried first) and ``tppc_attempts`` (every attempt: provider, outcome, status,
  reason, duration). Failed attempts that failed over are listed there, never logged as
  failures of their own.

The event is built with LiteLLM's own ``Logging`` object (``function_setup``) and
dispatched the way LiteLLM dispatches its own calls, so it works for every callback
LiteLLM supports, on litellm 1.106.2 and 1.110.2. Nothing happens (and litellm is not
touched) while no callback is configured.

Call :meth:`LitellmCallLogger.on_call_done` with a finished call (an object with the
attributes of :class:`LoggedCall`); the router's observer does that for the gateway.
"""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tppc_router.config.deployments import deployment_id
from tppc_router.errors import Attempt
from tppc_router.masking import get_logger, mask_text

__all__ = ["LitellmCallLogger", "LoggedCall", "callbacks_configured", "failover_metadata", "token_counts"]

logger = get_logger("tppc_router.routing.litellm_logging")

_CALLBACK_LISTS = ("callbacks", "success_callback", "failure_callback", "_async_success_callback",
                   "_async_failure_callback")


@dataclass(frozen=True, slots=True)
class LoggedCall:
    """One logical call, once it is over (the fields of the pipeline's ``CallRecord``, plus what
    LiteLLM's payload can show when the caller has it: the request and the response)."""

    group: str
    api: Literal["responses", "chat"]
    stream: bool
    outcome: str  # "ok", or why not ("failed", "interrupted", ...)
    provider: str | None
    attempts: tuple[Attempt, ...]
    latency_s: float
    usage: Any = None
    error: BaseException | None = None
    model: str | None = None  # the provider's model name
    api_base: str | None = None
    request: Any = None  # Responses ``input`` or chat ``messages``
    response: Any = None  # the answer (a JSON mapping or a litellm object), when there is one

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def callbacks_configured(litellm: Any) -> bool:
    """Whether LiteLLM has any success or failure callback to call."""
    return any(getattr(litellm, name, None) for name in _CALLBACK_LISTS)


def _get(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key)
    return getattr(value, key, None)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def token_counts(usage: Any) -> tuple[int, int, int]:
    """(input, output, reasoning) tokens of a Responses or chat usage block (mapping or object)."""
    if usage is None:
        return 0, 0, 0
    prompt = _int(_get(usage, "input_tokens")) or _int(_get(usage, "prompt_tokens"))
    completion = _int(_get(usage, "output_tokens")) or _int(_get(usage, "completion_tokens"))
    details = _get(usage, "output_tokens_details") or _get(usage, "completion_tokens_details")
    reasoning = _int(_get(details, "reasoning_tokens")) if details is not None else 0
    return prompt, completion, reasoning


def failover_metadata(provider: str | None, attempts: Sequence[Attempt]) -> dict[str, Any]:
    """What ``metadata.spend_logs_metadata`` carries: who answered, whether it failed over, the attempts."""
    tried = [a for a in attempts if a.outcome != "skipped"]
    return {
        "tppc_provider": provider,
        "tppc_failover": any(a.provider != provider for a in tried) if provider else len(tried) > 1,
        "tppc_attempts": [{**a.as_dict(), "reason": mask_text(a.reason)} for a in attempts],
    }


def _as_dict(value: Any) -> dict[str, Any] | None:
    if isinstance(value, Mapping):
        return dict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        data = dump()
        return data if isinstance(data, dict) else None
    return None


def _result(litellm: Any, call: Any, model: str) -> Any:
    """The answer as the litellm type its callbacks expect (usage drives the cost)."""
    response = getattr(call, "response", None)
    if call.api == "chat":
        if response is not None and hasattr(response, "choices"):
            return response
        usage = _as_dict(call.usage) or {}
        prompt, completion, _ = token_counts(usage)
        return litellm.ModelResponse(model=model, usage=litellm.Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion))
    from litellm.types.llms.openai import ResponseCompletedEvent, ResponsesAPIResponse

    answer = _responses_result(ResponsesAPIResponse, call, response, model)
    # LiteLLM logs a finished Responses stream as its terminal event, a non-streaming call as the response.
    completed: Any = {"type": "response.completed", "response": answer}
    return ResponseCompletedEvent(**completed) if call.stream else answer


def _responses_result(ResponsesAPIResponse: Any, call: Any, response: Any, model: str) -> Any:  # noqa: N803
    data = _as_dict(response) or {}
    if data.get("usage") is None and call.usage is not None:
        data["usage"] = _as_dict(call.usage)
    data.setdefault("id", f"resp_{uuid.uuid4().hex}")
    data.setdefault("created_at", int(time.time()))
    data.setdefault("model", model)
    data.setdefault("output", [])
    data.setdefault("status", "completed")
    data.setdefault("object", "response")
    data.setdefault("parallel_tool_calls", True)
    data.setdefault("tool_choice", "auto")
    data.setdefault("tools", [])
    try:
        return ResponsesAPIResponse(**data)
    except Exception:  # a provider's odd answer: log its usage at least
        keep = {k: data[k] for k in ("id", "created_at", "model", "status", "object", "parallel_tool_calls",
                                     "tool_choice", "tools")}
        keep["usage"] = _as_dict(call.usage)
        return ResponsesAPIResponse(**keep, output=[])


class LitellmCallLogger:
    """Fires LiteLLM's configured callbacks once per logical call (an engine observer hook).

    ``model_for(group)`` and ``api_base_for(provider)`` fill in what a record lacks.
    Dispatch runs as a task on the running loop (the answer never waits for a logger);
    :meth:`drain` awaits the ones still running (tests, shutdown).
    """

    def __init__(self, *, model_for: Any = None, api_base_for: Any = None) -> None:
        self._model_for = model_for
        self._api_base_for = api_base_for
        self._tasks: set[asyncio.Task[None]] = set()

    def on_attempt(self, attempt: Attempt) -> None:
        pass

    def on_failover(self, group: str, from_provider: str, to_provider: str | None, reason: str, seconds: float) -> None:
        pass

    def on_stream_start(self, provider: str, group: str, seconds: float) -> None:
        pass

    def on_call_done(self, call: Any) -> None:
        """Log ``call`` (a :class:`LoggedCall` or the pipeline's ``CallRecord``) to LiteLLM's callbacks."""
        from tppc_router.routing._litellm import load_litellm

        litellm = load_litellm()
        if not callbacks_configured(litellm):
            return
        end = datetime.datetime.now()
        start = end - datetime.timedelta(seconds=max(0.0, float(call.latency_s)))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        coro = self._dispatch(litellm, call, start, end)
        if loop is None:
            asyncio.run(coro)
            return
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        """Events still being dispatched."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for the events still being dispatched."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _model(self, call: Any) -> str:
        model = getattr(call, "model", None)
        if not model and self._model_for is not None:
            model = self._model_for(call.group)
        return str(model or call.group)

    def _api_base(self, call: Any) -> str | None:
        api_base = getattr(call, "api_base", None)
        if not api_base and call.provider and self._api_base_for is not None:
            api_base = self._api_base_for(call.provider)
        return api_base

    async def _dispatch(self, litellm: Any, call: Any, start: datetime.datetime, end: datetime.datetime) -> None:
        try:
            await self._log(litellm, call, start, end)
        except Exception as exc:  # a logger must never break a call
            logger.warning("LiteLLM logging of a %s call failed: %s", call.group, mask_text(str(exc)))

    async def _log(self, litellm: Any, call: Any, start: datetime.datetime, end: datetime.datetime) -> None:
        from litellm.litellm_core_utils.rules import Rules
        from litellm.utils import function_setup

        model = self._model(call)
        # A sync caller is logged as LiteLLM logs its sync calls (the sync hooks, e.g. log_success_event).
        sync = bool(getattr(call, "sync", False))
        call_type = ("responses" if call.api == "responses" else "completion") if sync else \
            ("aresponses" if call.api == "responses" else "acompletion")
        call_id = str(uuid.uuid4())
        request = getattr(call, "request", None)
        request_kw: dict[str, Any] = {"input": request if request is not None else ""} if call.api == "responses" \
            else {"messages": request if isinstance(request, list) else []}
        metadata: dict[str, Any] = {
            "model_group": call.group,
            "spend_logs_metadata": failover_metadata(call.provider, call.attempts),
        }
        if call.provider:
            metadata["model_info"] = {"id": deployment_id(call.provider, model)}
        logging_obj, _ = function_setup(call_type, Rules(), start, model=model, stream=call.stream,
                                        litellm_call_id=call_id, metadata=metadata, **request_kw)
        litellm_params: dict[str, Any] = {"metadata": metadata, "litellm_call_id": call_id}
        if call.provider:
            litellm_params["model_info"] = metadata["model_info"]
        api_base = self._api_base(call)
        if api_base:
            litellm_params["api_base"] = api_base
        logging_obj.update_environment_variables(model=model, user=None, optional_params={},
                                                 litellm_params=litellm_params, custom_llm_provider="openai")
        logging_obj.stream = call.stream
        logging_obj.model_call_details["stream"] = call.stream
        if call.ok:
            await logging_obj.dispatch_success_handlers(_result(litellm, call, model), start_time=start,
                                                        end_time=end, prefer_async_handlers=not sync)
            return
        error = call.error if isinstance(call.error, Exception) else Exception(f"{call.group}: {call.outcome}")
        reason = mask_text(str(error))
        if sync:
            logging_obj.failure_handler(error, reason, start, end)
            return
        await asyncio.to_thread(logging_obj.failure_handler, error, reason, start, end)
        await logging_obj.async_failure_handler(error, reason, start, end)
