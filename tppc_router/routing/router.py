"""``TppcRouter``: a drop-in for ``litellm.Router`` with priority failover.

The wrapped ``litellm.Router`` holds every deployment (the caller's, then ours) and
makes each provider call (:class:`~tppc_router.routing.senders.LiteLLMSender`); the request
:class:`~tppc_router.routing.pipeline.Pipeline`, shared with the gateway, decides which provider
to call, when to retry, fail over, or return an error as is. Requests for groups that are
not ours go straight to the wrapped router, untouched: its defaults, retries,
cooldowns, fallbacks and errors. Attribute reads and writes that are not ours reach
the wrapped router too (see docs/drop-in.md for why this is a wrapper and what differs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tppc_router.routing._litellm import load_litellm
from tppc_router.routing.breaker import BreakerRegistry
from tppc_router.clock import Clock, monotonic
from tppc_router.config.schema import Settings
from tppc_router.config.deployments import Credential, build_model_list, credential_chain
from tppc_router.routing.engine import Target
from tppc_router.errors import Attempt
from tppc_router.routing.litellm_logging import LitellmCallLogger
from tppc_router.routing.observe import CompositeObserver, FailoverLog, ProviderStats
from tppc_router.routing.policy import policy_from_settings
from tppc_router.routing.portal import Portal, SyncStream
from tppc_router.state import backend_info, close_registry, registry_from_settings
from tppc_router.routing.status import ProviderStatus, provider_statuses
from tppc_router.routing.pipeline import Pipeline, explicit_targets, targets_by_group
from tppc_router.routing.senders import LiteLLMSender
from tppc_router.routing.stream import FailoverStream
from tppc_router.routing.litellm_streams import as_litellm_stream
from tppc_router.routing.dropin import (
    fallback_groups,
    own_deployments,
    pop_fallback_overrides,
    tppc_deployments,
    add_model_hint,
)

__all__ = ["TppcRouter"]


@dataclass(frozen=True)
class _State:
    """Everything a request needs, swapped as one object on reload."""

    settings: Settings
    router: Any  # litellm.Router
    targets: Mapping[str, list[Target]]
    chain: Sequence[Credential]


class TppcRouter:
    """Several Codex providers behind one name, with priority failover.

    ``completion``/``acompletion``/``responses``/``aresponses`` take the same
    arguments as ``litellm.Router`` and return the same types (streams are async
    or sync iterators of the same chunk/event types). Every result names its
    provider in ``_hidden_params["tppc_provider"]`` and lists the attempts in
    ``_hidden_params["tppc_attempts"]``.
    """

    # Our own members: reads and writes of any other name reach the wrapped litellm.Router.
    _OWN: ClassVar[frozenset[str]] = frozenset({
        "policy", "clock", "breakers", "stats", "observer", "litellm_logging", "pipeline", "engine", "affinity",
        "_owns_breakers", "_extra", "_router_args", "_router_kwargs", "_writes", "_portal", "_state", "_reloads",
    })

    def __init__(
        self,
        *router_args: Any,
        tppc_settings: Settings | None = None,
        clock: Clock = monotonic,
        breakers: BreakerRegistry | None = None,
        observers: Sequence[Any] = (),
        **router_kwargs: Any,
    ) -> None:
        """``TppcRouter(settings, model_list=..., **router_kwargs)`` (tppc settings first), or
        ``TppcRouter(model_list=..., ...)`` with ``litellm.Router``'s own arguments and
        ``tppc_settings=`` (none: no tppc provider, a plain ``litellm.Router``)."""
        if router_args and isinstance(router_args[0], Settings):
            if tppc_settings is not None:
                raise TypeError("TppcRouter() got the tppc settings twice (positionally and as tppc_settings=)")
            tppc_settings, router_args = router_args[0], router_args[1:]
        # No tppc settings: none at all (not even TPPC_* env), so the router is a litellm.Router.
        settings = tppc_settings if tppc_settings is not None else Settings.model_construct()
        self.policy = policy_from_settings(settings)
        self.clock = clock
        self._owns_breakers = breakers is None
        self.breakers = breakers or registry_from_settings(  # router.state: memory, or shared in Redis
            settings, failure_threshold=self.policy.failure_threshold, cooldown_s=self.policy.cooldown_s, clock=clock
        )
        self.stats = ProviderStats()
        self.litellm_logging = LitellmCallLogger(model_for=self._model_of, api_base_for=self._api_base_of)
        self.observer = CompositeObserver([self.stats, FailoverLog(), self.litellm_logging, *observers])
        self.pipeline = Pipeline(self.policy, self.breakers, clock=clock, observer=self.observer)
        self.engine = self.pipeline.engine
        self.affinity = self.pipeline.affinity
        model_list = router_args[0] if router_args else router_kwargs.pop("model_list", None)
        self._extra = [dict(d) for d in (model_list or [])]
        self._router_args = tuple(router_args[1:])
        self._router_kwargs = dict(router_kwargs)  # litellm.Router's own defaults apply to the caller's groups
        self._writes: dict[str, Any] = {}  # attribute writes, replayed on the router a reload builds
        self._portal = Portal()
        self._reloads = 0
        self._state = self._build(settings)

    @classmethod
    def from_config(cls, config: Any = None, *args: Any, **kwargs: Any) -> TppcRouter:
        """A tppc config file (a path, or None for the default search; see :func:`load_settings`) as
        :meth:`from_tppc_config`; anything else (a litellm ``RouterConfig``) as
        ``litellm.Router.from_config(config, ...)``, wrapped, with no tppc provider."""
        if config is None or isinstance(config, str | os.PathLike):
            return cls.from_tppc_config(config, *args, **kwargs)
        router = load_litellm().Router.from_config(config, *args, **kwargs)
        instance = cls()
        instance._state = dataclasses.replace(instance._state, router=router)
        return instance

    @classmethod
    def from_tppc_config(cls, path: str | os.PathLike[str] | None = None, *router_args: Any,
                         **router_kwargs: Any) -> TppcRouter:
        """Load, sanitize and validate the tppc config ``path`` (see :func:`load_settings`), then build
        with any ``litellm.Router`` arguments (``model_list=``, ``fallbacks=``, ``num_retries=`` ...)."""
        from tppc_router.config.loader import load_settings

        return cls(load_settings(path), *router_args, **router_kwargs)

    def _build(self, settings: Settings, own: Sequence[Mapping[str, Any]] | None = None) -> _State:
        """A wrapped router with the caller's deployments (``own``, default: the constructor's
        ``model_list``), then ours."""
        litellm = load_litellm()
        mine = [dict(d) for d in (self._extra if own is None else own)]
        model_list = mine + tppc_deployments(build_model_list(settings))
        if self._router_args:
            router = litellm.Router(model_list, *self._router_args, **self._router_kwargs)
        else:
            router = litellm.Router(model_list=model_list, **self._router_kwargs)
        for name, value in self._writes.items():
            setattr(router, name, value)
        chain = credential_chain(settings)
        return _State(settings, router, targets_by_group(chain), chain)

    # -- public state -------------------------------------------------------------

    @property
    def tppc_settings(self) -> Settings:
        """The tppc settings in force (``settings()`` is litellm.Router's own)."""
        return self._state.settings

    @property
    def litellm_router(self) -> Any:
        """The wrapped ``litellm.Router``."""
        return self._state.router

    def model_groups(self) -> list[str]:
        return list(self._state.targets)

    def targets(self, group: str) -> list[Target]:
        return list(self._state.targets.get(group, []))

    def _model_of(self, group: str) -> str | None:
        targets = self._state.targets.get(group)
        return targets[0].model if targets else None

    def _api_base_of(self, provider: str) -> str | None:
        return next((t.base_url for ts in self._state.targets.values() for t in ts if t.provider == provider), None)

    def reload(self, settings: Settings) -> list[str]:
        """Swap the deployments atomically; calls in flight finish on what they started with.

        A provider whose key or base-url changed starts with fresh breakers (no cooldown, no
        rate-limit block): the old credential's failures say nothing about the new one.
        Returns the names of those providers.
        """
        new = self._build(settings, own_deployments(self._state.router))  # add_deployment() ones too
        before = {c.provider: (c.base_url, c.api_key.get_secret_value()) for c in self._state.chain}
        removed = set(before) - {c.provider for c in new.chain}
        fresh = [c for c in new.chain
                 if c.provider in before and before[c.provider] != (c.base_url, c.api_key.get_secret_value())]
        self._state = new
        self._reloads += 1
        self.policy = policy_from_settings(settings)
        self.pipeline.policy = self.policy
        for provider in removed:
            self.breakers.forget(provider)
        for cred in fresh:
            self.breakers.reset(cred.provider, cred.models)
        return [c.provider for c in fresh]

    @property
    def reloads(self) -> int:
        """How many times :meth:`reload` swapped the deployments (a management write or a hand
        edit of the config file that was applied; a refused one leaves this unchanged)."""
        return self._reloads

    def state_backend_info(self) -> dict[str, Any]:
        """Where breaker state lives: ``{"backend": "memory"|"redis", "reachable": bool, "url": str | None}``
        (the URL masked; ``reachable`` is False while Redis is away and local state is used)."""
        return backend_info(self.breakers)

    def provider_states(self) -> list[ProviderStatus]:
        """Each configured provider: enabled, priority, breaker state per model, counters
        (``status.as_dict()`` for JSON)."""
        state = self._state
        breakers = {c.provider: [b.snapshot() for b in self.breakers.for_provider(c.provider)] for c in state.chain}
        return provider_statuses(state.settings, state.chain, breakers, self.stats)

    # -- calls ----------------------------------------------------------------------

    def _annotate(self, result: Any, target: Target, attempts: list[Attempt]) -> Any:
        hidden = getattr(result, "_hidden_params", None)
        if not isinstance(hidden, dict):
            hidden = {}
            try:
                result._hidden_params = hidden
            except (AttributeError, TypeError, ValueError):
                return result
        hidden["tppc_provider"] = target.provider
        hidden["tppc_model"] = getattr(result, "model", None) or target.model
        hidden["tppc_attempts"] = [a.as_dict() for a in attempts]
        return result

    async def _run(self, method: str, model: str, kwargs: dict[str, Any], *, responses: bool) -> Any:
        state = self._state  # the router this call started with: a reload does not disturb it
        explicit = explicit_targets(state.settings, model, kwargs) if model in state.targets else None
        targets = explicit or list(state.targets.get(model, []))  # another group's credential is litellm's
        if not targets:
            return await _call(state.router, method, model=model, **kwargs)
        timeout = kwargs.get("timeout")
        call = self.pipeline.call(model, targets, kwargs, responses=responses,
                                  timeout=float(timeout) if isinstance(timeout, int | float) else None)
        sender = LiteLLMSender(state.router, method)
        if kwargs.get("stream"):
            stream: FailoverStream[Any] = await call.stream(sender)
            return stream
        result, target, attempts = await call.send(sender)
        return self._annotate(result, target, attempts)

    # -- litellm.Router-compatible surface ------------------------------------------

    async def _route(self, method: str, model: str, kwargs: dict[str, Any], *, responses: bool) -> Any:
        """A tppc group through the engine, then the caller's ``fallbacks=`` /
        ``context_window_fallbacks=`` / ``content_policy_fallbacks=`` once every provider failed;
        any other group to the wrapped router as is."""
        state = self._state
        if model not in state.targets:
            return await self._passthrough(state, method, model, kwargs)
        overrides = pop_fallback_overrides(kwargs)
        try:
            return await self._run(method, model, kwargs, responses=responses)
        except Exception as exc:
            tried = {model}
            for group in fallback_groups(state.router, model, exc, overrides):
                if group in tried:
                    continue
                tried.add(group)
                try:
                    return await self._route(method, group, dict(kwargs), responses=responses)
                except Exception:  # noqa: BLE001 - the next fallback; the group's own error is raised at the end
                    continue
            raise

    async def _passthrough(self, state: _State, method: str, model: str, kwargs: dict[str, Any]) -> Any:
        try:
            return await _call(state.router, method, model=model, **kwargs)
        except Exception as exc:
            add_model_hint(exc, model, state.router)
            raise

    async def acompletion(self, model: str, messages: list[Any], **kwargs: Any) -> Any:
        if model not in self._state.targets:  # the caller's own group: litellm.Router's call, untouched
            return await self._direct("acompletion", model, messages=messages, **kwargs)
        result = await self._route("acompletion", model, {"messages": messages, **kwargs}, responses=False)
        return _as_litellm_type(result, model, responses=False)

    async def aresponses(self, model: str, input: Any = None, **kwargs: Any) -> Any:
        if model not in self._state.targets:
            return await self._direct("aresponses", model, input=input, **kwargs)
        result = await self._route("aresponses", model, {"input": input, **kwargs}, responses=True)
        return _as_litellm_type(result, model, responses=True)

    def completion(self, model: str, messages: list[Any], **kwargs: Any) -> Any:
        if model not in self._state.targets:
            return self._direct_sync("completion", model, messages=messages, **kwargs)
        if kwargs.get("stream"):
            opened = self._portal.call(self._route("acompletion", model, {"messages": messages, **kwargs},
                                                   responses=False))
            return _as_litellm_type(opened, model, responses=False, portal=self._portal)
        # Non-streaming sync calls run on the caller's thread, through litellm's sync path (faster than its
        # async one), with no thread hop (Portal.run).
        return self._portal.run(self._route("completion", model, {"messages": messages, **kwargs}, responses=False))

    def responses(self, model: str, input: Any = None, **kwargs: Any) -> Any:
        if model not in self._state.targets:
            return self._direct_sync("responses", model, input=input, **kwargs)
        if kwargs.get("stream"):
            opened = self._portal.call(self._route("aresponses", model, {"input": input, **kwargs}, responses=True))
            return _as_litellm_type(opened, model, responses=True, portal=self._portal)
        return self._portal.run(self._route("responses", model, {"input": input, **kwargs}, responses=True))

    async def _direct(self, method: str, model: str, **kwargs: Any) -> Any:
        router = self._state.router
        try:
            return await getattr(router, method)(model=model, **kwargs)
        except Exception as exc:
            add_model_hint(exc, model, router)
            raise

    def _direct_sync(self, method: str, model: str, **kwargs: Any) -> Any:
        router = self._state.router
        try:
            return getattr(router, method)(model=model, **kwargs)
        except Exception as exc:
            add_model_hint(exc, model, router)
            raise

    # -- attributes: everything not ours is the wrapped router's --------------------

    def __getattr__(self, name: str) -> Any:
        """Everything else ``litellm.Router`` offers (embeddings, ``settings()``, private members...)
        is the wrapped router's."""
        state = self.__dict__.get("_state")
        if state is None or (name.startswith("__") and name.endswith("__")):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(state.router, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_state" not in self.__dict__ or name in self._OWN or _on_class(type(self), name):
            object.__setattr__(self, name, value)
            return
        setattr(self._state.router, name, value)
        self._writes[name] = value

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__ or name in self._OWN:
            object.__delattr__(self, name)
            return
        delattr(self._state.router, name)
        self._writes.pop(name, None)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *dir(self._state.router)})

    def close(self) -> None:
        self._portal.close()
        if self._owns_breakers:
            close_registry(self.breakers)


async def _call(owner: Any, method: str, **kwargs: Any) -> Any:
    """``owner.<method>(**kwargs)``: awaited for litellm's async methods (``acompletion``), run on a
    worker thread for its sync ones (``completion``), whose own ``timeout`` bounds the thread."""
    function = getattr(owner, method)
    if method.startswith("a"):
        return await function(**kwargs)
    return await asyncio.to_thread(function, **kwargs)


def _as_litellm_type(result: Any, model: str, *, responses: bool, portal: Portal | None = None) -> Any:
    """A tppc stream as LiteLLM's stream type; a reply (or a fallback group's stream) as it is."""
    if isinstance(result, FailoverStream):
        return as_litellm_stream(result, model=model, responses=responses, portal=portal)
    if portal is not None and hasattr(result, "__aiter__") and not hasattr(result, "__next__"):
        return SyncStream(portal, result)  # a fallback group's async stream, for a sync caller
    return result


def _on_class(cls: type, name: str) -> bool:
    """``name`` is one of TppcRouter's own class members (methods, properties)."""
    return any(name in vars(base) for base in cls.__mro__ if base is not object)
