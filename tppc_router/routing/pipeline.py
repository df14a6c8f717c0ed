"""One request pipeline for the library and the gateway.

Everything about a request is decided here, once, for both ways in::

    TppcRouter.aresponses / acompletion ...        gateway POST /v1/responses
                    \\                                 /
                     Pipeline.call(group, targets, body)  ->  Call
                       targets in priority order, affinity (the provider that issued
                       an id first; its encrypted reasoning dropped when leaving it),
                       the store rule, the timeout of each attempt, the request budget,
                       retries and failover (Engine), the stream rules (FailoverStream:
                       preamble held back, a whole stream completed), observers
                    /                                 \\
            LiteLLMSender (senders.py)          HttpxSender (senders.py)
            through the wrapped litellm.Router   raw bytes, faithful SSE relay

A sender only spells the request (litellm keyword arguments, or a JSON body with the
provider's model name and the defaults of :mod:`tppc_router.config.defaults`) and
sends it, in the manner of an httpx transport. When a logical call is over (answered,
failed, or its stream ended) every observer with an ``on_call_done(record)`` method
gets one :class:`CallRecord`: the hook point for callbacks and metrics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from tppc_router.clock import Clock, monotonic
from tppc_router.config.deployments import Credential, credential_chain, pinned_group
from tppc_router.config.schema import Settings
from tppc_router.errors import AllProvidersFailedError, Attempt
from tppc_router.masking import get_logger
from tppc_router.routing.affinity import AffinityMap, issued_ids, strip_encrypted_reasoning
from tppc_router.routing.breaker import BreakerRegistry
from tppc_router.routing.classify import is_provider_failure
from tppc_router.routing.engine import Engine, Target, TargetAttempt
from tppc_router.routing.failover import RouterPolicy
from tppc_router.routing.stream import FailoverStream, open_stream
from tppc_router.routing.trackers import ChatTracker, ResponsesTracker, StreamTracker, event_view

__all__ = [
    "Call",
    "CallRecord",
    "Outgoing",
    "Pipeline",
    "Sender",
    "explicit_targets",
    "targets_by_group",
]

logger = get_logger("tppc_router.routing.pipeline")

R = TypeVar("R")
I = TypeVar("I")  # noqa: E741 - an item of a stream
I_co = TypeVar("I_co", covariant=True)

Outcome = Literal["ok", "failed", "interrupted", "error", "closed"]


# --------------------------------------------------------------------------- targets


def targets_by_group(chain: Sequence[Credential]) -> dict[str, list[Target]]:
    """Model group -> targets, for the groups and the pinned ``<provider>/<model>`` groups."""
    groups: dict[str, list[Target]] = {}
    for cred in chain:
        for model in cred.models:
            pinned = pinned_group(cred.provider, model)
            for group in (model, pinned):
                groups.setdefault(group, []).append(
                    Target(cred.provider, model, group, cred.priority, cred.base_url, cred.api_key, call_group=pinned,
                           reasoning_effort=cred.reasoning_effort, store=cred.store)
                )
    return groups


def explicit_targets(settings: Settings, model: str, kwargs: dict[str, Any]) -> list[Target] | None:
    """A per-request credential (``api_key`` + ``api_base``, popped from ``kwargs``): that one target
    alone, called whole rather than through a deployment. None when the request names none."""
    if "api_key" not in kwargs and "api_base" not in kwargs:
        return None
    chain = credential_chain(settings, api_key=kwargs.pop("api_key", None), api_base=kwargs.pop("api_base", None))
    cred = chain[0]
    return [Target(cred.provider, model, model, 1, cred.base_url, cred.api_key, call_group="")]


# --------------------------------------------------------------------------- what a sender gets


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One provider's copy of a request, as the pipeline decided it. A sender spells
    ``body`` for its wire (model name, defaults of the target) and sends it."""

    target: Target
    body: Mapping[str, Any]  # the caller's request: affinity and store rules applied
    timeout: float  # this attempt's limit: the call timeout clamped to what is left of the budget
    stream: bool


class Sender(Protocol[R, I_co]):
    """How the bytes go out: the only part that differs between the library and the gateway."""

    async def send(self, out: Outgoing) -> R:
        """One non-streaming call; a provider's failure is raised as its own exception."""
        ...

    async def open(self, out: Outgoing) -> AsyncIterator[I_co]:
        """Start a stream; return its items once the provider answered."""
        ...

    def payload(self, result: R) -> Mapping[str, Any] | None:
        """A non-streaming result as a JSON-like mapping (ids, usage), when it is one."""
        ...

    def completed(self, event: Mapping[str, Any]) -> I_co:
        """A stream item for a synthesized ``response.completed`` event."""
        ...


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One logical call, once it is over: what observers' ``on_call_done`` receive."""

    group: str
    api: Literal["responses", "chat"]
    stream: bool
    outcome: Outcome  # ok | failed (no provider answered) | interrupted (stream cut) | error (our bug) | closed
    provider: str | None  # who answered (None when nobody did)
    attempts: tuple[Attempt, ...]
    latency_s: float
    usage: Any = None  # the provider's usage block, when it sent one
    error: BaseException | None = None
    model: str | None = None  # the provider's model name (of the target that answered)
    api_base: str | None = None  # that target's base URL
    request: Any = None  # Responses ``input`` or chat ``messages``
    response: Any = None  # the answer: a non-streaming result, or a stream's final response mapping
    via: Literal["litellm", "httpx"] = "httpx"  # the sender: through litellm (which also logs each attempt) or raw
    sync: bool = False  # a sync caller (``completion()`` / ``responses()``): LiteLLM's sync logging hooks apply

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


# --------------------------------------------------------------------------- the pipeline


class Pipeline:
    """The request logic shared by :class:`~tppc_router.routing.router.TppcRouter` and the gateway."""

    def __init__(
        self,
        policy: RouterPolicy,
        breakers: BreakerRegistry,
        *,
        clock: Clock = monotonic,
        observer: Any = None,
        affinity: AffinityMap | None = None,
    ) -> None:
        self.engine = Engine(policy, breakers, clock=clock, observer=observer)
        self.affinity = affinity or AffinityMap()
        self.clock = clock

    @property
    def policy(self) -> RouterPolicy:
        return self.engine.policy

    @policy.setter
    def policy(self, policy: RouterPolicy) -> None:
        self.engine.policy = policy

    def call(self, group: str, targets: Sequence[Target], body: Mapping[str, Any], *, responses: bool,
             timeout: float | None = None) -> Call[Any, Any]:
        """A logical call of ``group`` over ``targets``; ``body`` is the caller's request
        (litellm keyword arguments or the JSON body); ``timeout`` the caller's limit per attempt."""
        return Call(self, group, targets, body, responses=responses, timeout=timeout)

    def body_for(self, body: Mapping[str, Any], target: Target) -> Mapping[str, Any]:
        """The store rule: response storage stays off for tppc providers. A client's ``store: true``
        is sent as ``false`` unless ``router.allow-client-store`` is true (or the provider's own
        default is to store: the legacy block's ``privacy.disable-response-storage: false``).
        ``store: false`` always goes through."""
        if body.get("store") is True and not target.store and not self.policy.allow_client_store:
            logger.debug("store: true from the client sent as store: false to %s (router.allow-client-store is false)",
                         target.provider)
            return {**body, "store": False}
        return body

    def _done(self, record: CallRecord) -> None:
        hook = getattr(self.engine.observer, "on_call_done", None)
        if hook is not None:
            hook(record)


class Call(Generic[R, I]):
    """One logical request through the pipeline.

    ``prefer`` is the provider affinity sends it to first; ``tried`` the provider of the
    latest attempt (who refused it, when a refusal comes back as is); ``attempts`` every
    attempt so far.
    """

    def __init__(self, pipeline: Pipeline, group: str, targets: Sequence[Target], body: Mapping[str, Any], *,
                 responses: bool, timeout: float | None) -> None:
        self.pipeline = pipeline
        self.group = group
        self.targets = list(targets)
        self.body = body
        self.responses = responses
        self.timeout = timeout
        self.prefer = (pipeline.affinity.owner_of(body.get("previous_response_id"), body.get("input"))
                       if responses else None)
        self.tried: str | None = None
        self.attempts: list[Attempt] = []
        self._strip = False
        self._started = pipeline.clock()

    def on_leave(self, target: Target) -> None:
        if target.provider == self.prefer:
            self._strip = True  # its encrypted reasoning means nothing to anyone else

    def outgoing(self, ta: TargetAttempt, *, stream: bool) -> Outgoing:
        """What ``ta.target`` is sent: affinity and the store rule applied, the timeout clamped to the budget."""
        self.tried = ta.target.provider
        body = self.body
        if self._strip and ta.target.provider != self.prefer and "input" in body:
            body = {**body, "input": strip_encrypted_reasoning(body["input"])}
        body = self.pipeline.body_for(body, ta.target)
        limit = float(self.timeout or self.pipeline.policy.timeout_s)
        return Outgoing(ta.target, body, max(0.001, min(limit, ta.remaining)), stream)

    def _record(self, sender: Any, outcome: Outcome, target: Target | None, *, stream: bool, usage: Any = None,
                error: BaseException | None = None, response: Any = None) -> None:
        attempts = error.attempts if isinstance(error, AllProvidersFailedError) and not self.attempts else self.attempts
        via: Literal["litellm", "httpx"] = getattr(sender, "via", "httpx")
        self.pipeline._done(CallRecord(
            self.group, "responses" if self.responses else "chat", stream, outcome,
            target.provider if target else None, tuple(attempts), self.pipeline.clock() - self._started, usage, error,
            model=target.model if target else None, api_base=target.base_url if target else None,
            request=self.body.get("input") if self.responses else self.body.get("messages"), response=response,
            via=via, sync=not str(getattr(sender, "method", "a")).startswith("a"),
        ))

    async def send(self, sender: Sender[R, I]) -> tuple[R, Target, list[Attempt]]:
        """Answer the call without streaming: (result, the target that answered, attempts)."""
        async def attempt(ta: TargetAttempt) -> R:
            return await sender.send(self.outgoing(ta, stream=False))

        try:
            result, target, attempts = await self.pipeline.engine.run(
                self.group, self.targets, attempt, prefer=self.prefer, on_leave=self.on_leave,
                attempts=self.attempts)
        except Exception as exc:
            self._record(sender, _failure_outcome(exc), None, stream=False, error=exc)
            raise
        payload = sender.payload(result)
        if self.responses and payload is not None:
            self.pipeline.affinity.remember(target.provider, issued_ids(payload))
        self._record(sender, "ok", target, stream=False, usage=payload.get("usage") if payload else None,
                     response=payload if getattr(sender, "via", "httpx") == "httpx" else result)
        return result, target, attempts

    async def stream(self, sender: Sender[R, I]) -> FailoverStream[I]:
        """Open a stream on the first provider that starts sending content."""
        async def open_fn(ta: TargetAttempt) -> AsyncIterator[I]:
            return await sender.open(self.outgoing(ta, stream=True))

        def tracker(target: Target) -> StreamTracker[I]:
            return ResponsesTracker(target.provider) if self.responses else ChatTracker(target.provider)

        try:
            stream: FailoverStream[I] = await open_stream(
                self.pipeline.engine, self.group, self.targets, open_fn, tracker, prefer=self.prefer,
                on_leave=self.on_leave, attempts=self.attempts)
        except Exception as exc:
            self._record(sender, _failure_outcome(exc), None, stream=True, error=exc)
            raise

        def ended(stream: FailoverStream[Any], outcome: str, error: BaseException | None) -> None:
            tracker = stream.tracker
            final = getattr(tracker, "final", None)
            self._record(sender, _as_outcome(outcome), stream.target, stream=True,
                         usage=getattr(tracker, "usage", None), error=error,
                         response=final if final is not None else {"usage": getattr(tracker, "usage", None)})

        stream.on_end = ended
        if self.responses:
            self._follow(stream, sender)
        return stream

    def _follow(self, stream: FailoverStream[I], sender: Sender[R, I]) -> None:
        """Affinity for the ids a Responses stream issues; a whole stream without its terminal event
        is completed with a synthesized ``response.completed``."""
        affinity = self.pipeline.affinity
        tracker = stream.tracker
        assert isinstance(tracker, ResponsesTracker)
        if tracker.created is not None:
            affinity.remember(stream.provider, issued_ids(tracker.created))

        def on_item(item: I) -> None:
            kind, payload = event_view(item)
            done = payload.get("item") if kind == "response.output_item.done" else None
            if isinstance(done, Mapping) and done.get("type") == "reasoning":
                affinity.remember(stream.provider, [str(done.get("id") or "")])

        stream.on_item = on_item
        synthesize_completed = tracker.synthesize_completed
        stream.synthesize = lambda number: sender.completed(synthesize_completed(number))


def _failure_outcome(exc: BaseException) -> Outcome:
    return "failed" if is_provider_failure(exc) or isinstance(exc, AllProvidersFailedError) else "error"


def _as_outcome(outcome: str) -> Outcome:
    known: dict[str, Outcome] = {"ok": "ok", "interrupted": "interrupted", "error": "error", "closed": "closed"}
    return known.get(outcome, "failed")

