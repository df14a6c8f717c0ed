"""What makes :class:`~tppc_router.routing.router.TppcRouter` a drop-in for ``litellm.Router``,
as pure helpers: the per-call flags that keep LiteLLM's own retries, fallbacks and cooldowns off
our provider calls (and only those), the caller's fallbacks for tppc groups, and the "did you
mean" hint on an unknown model. Reads the wrapped router feature-first (litellm 1.110's
``settings()`` / ``registry()``, else the older attributes), never by version number.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = [
    "FALLBACK_KEYS",
    "PINNED_CALL_FLAGS",
    "add_model_hint",
    "fallback_groups",
    "group_names",
    "own_deployments",
    "pop_fallback_overrides",
    "tppc_deployments",
]

# Sent with every call of a pinned ``<provider>/<model>`` group: one attempt, no LiteLLM fallback
# (and no "no fallback" ERROR line), no LiteLLM cooldown. Our engine retries, fails over and benches.
PINNED_CALL_FLAGS: Mapping[str, Any] = {
    "num_retries": 0,
    "fallbacks": None,
    "context_window_fallbacks": None,
    "content_policy_fallbacks": None,
    "cooldown_time": 0,
}
FALLBACK_KEYS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
_UNKNOWN_MODEL = ("no healthy deployments", "invalid model name", "no deployments available")
_MAX_LISTED = 30


def tppc_deployments(model_list: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Our deployments with LiteLLM's cooldown off (``model_info.cooldown_time: 0``): the breaker
    benches a provider, LiteLLM never does on top of it."""
    out = []
    for deployment in model_list:
        entry = dict(deployment)
        entry["model_info"] = {**dict(entry.get("model_info") or {}), "cooldown_time": 0}
        out.append(entry)
    return out


def own_deployments(router: Any) -> list[dict[str, Any]] | None:
    """The caller's deployments the wrapped router holds now (``add_deployment()`` ones included,
    ours left out), or None when the router cannot list them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            listed = list(router.model_list or [])
        except Exception:  # noqa: BLE001 - a router that cannot list: keep the constructor's list
            return None
    return [dict(d) for d in listed if isinstance(d, Mapping) and "tppc_provider" not in (d.get("model_info") or {})]


def pop_fallback_overrides(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The per-call fallback lists (``fallbacks=`` ...), taken out of a tppc group's request."""
    return {key: kwargs.pop(key) for key in FALLBACK_KEYS if key in kwargs}


def _router_setting(router: Any, name: str) -> Any:
    settings = getattr(router, "settings", None)
    if callable(settings):  # litellm 1.110: Router.settings()
        try:
            return getattr(settings(), name)
        except Exception:  # noqa: BLE001 - older routers: read the attribute below
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(router, name, None)


def _targets(entries: Any, model: str) -> list[str]:
    """The fallback groups listed for ``model`` (an entry for ``*`` when none names it)."""
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        return []
    mine: list[str] = []
    wildcard: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        for key, targets in entry.items():
            names = [targets] if isinstance(targets, str) else list(targets or [])
            groups = [str(t.get("model", "")) if isinstance(t, Mapping) else str(t) for t in names]
            if key == model:
                mine += groups
            elif key == "*":
                wildcard += groups
    return [g for g in (mine or wildcard) if g]


def _is_error(exc: BaseException, class_name: str, code: str) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return class_name in names or code in str(getattr(exc, "code", "") or "") or code in str(exc).lower()


def fallback_groups(router: Any, model: str, exc: BaseException, overrides: Mapping[str, Any]) -> Iterator[str]:
    """The groups to try, in order, after tppc group ``model`` failed with ``exc``: LiteLLM's rule
    (a context-window error uses ``context_window_fallbacks``, a content-policy error
    ``content_policy_fallbacks``, then ``fallbacks``), the call's own lists over the router's."""

    def setting(name: str) -> Any:
        return overrides[name] if name in overrides else _router_setting(router, name)

    if _is_error(exc, "ContextWindowExceededError", "context_length"):
        yield from _targets(setting("context_window_fallbacks"), model)
    if _is_error(exc, "ContentPolicyViolationError", "content_policy"):
        yield from _targets(setting("content_policy_fallbacks"), model)
    yield from _targets(setting("fallbacks"), model)


def group_names(router: Any) -> list[str]:
    """Every model group (and alias) the wrapped router serves."""
    names: set[str] = set()
    registry = getattr(router, "registry", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            if callable(registry):  # litellm 1.110
                names.update(registry().names())
                names.update(registry().aliases())
            else:
                names.update(router.get_model_names())
                names.update(getattr(router, "model_group_alias", None) or {})
        except Exception:  # noqa: BLE001 - a hint is best effort; the caller's error stands
            return []
    return sorted(n for n in names if isinstance(n, str))


def add_model_hint(exc: BaseException, model: str, router: Any) -> None:
    """When ``exc`` says there is no deployment for ``model`` and ``model`` is no group, add the groups
    that exist and the closest ones to its message (the exception keeps its class)."""
    text = str(exc)
    if not any(marker in text.lower() for marker in _UNKNOWN_MODEL):
        return
    names = group_names(router)
    if not names or model in names:
        return
    close = difflib.get_close_matches(model, names, n=3, cutoff=0.6)
    listed = ", ".join(names[:_MAX_LISTED]) + (", ..." if len(names) > _MAX_LISTED else "")
    hint = f"\nModel {model!r} is not a model group of this router. Model groups: {listed}."
    if close:
        hint += " Did you mean " + " or ".join(repr(c) for c in close) + "?"
    message = getattr(exc, "message", None)
    if isinstance(message, str):
        try:
            exc.message = message + hint  # type: ignore[attr-defined]  # litellm's exceptions print .message
        except AttributeError:
            pass
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (exc.args[0] + hint, *exc.args[1:])
    elif not exc.args:
        exc.args = (hint.strip(),)
