"""Our errors as LiteLLM exceptions: ``except litellm.RateLimitError`` (or ``openai.APIError``)
catches a tppc group's failure as it catches a plain ``litellm.Router``'s.

Once litellm is imported, :class:`~tppc_router.errors.AllProvidersFailedError` and
:class:`~tppc_router.errors.ProviderError` (and their subclasses) are built as a subclass of
themselves *and* of the matching LiteLLM exception class (see ``errors.py``:
``__new__``); before that they are plain. Every such error is also a ``litellm.APIError``.
Status codes stay ours (502 for "every provider failed", 429 when every provider is cooling
down or answered 429).

The rule, from the failed attempts (``skipped`` ones do not count):

=====================================  =====================================
failed attempts                         LiteLLM class
=====================================  =====================================
every provider cooling down             ``RateLimitError`` (status 429)
all ``rate_limited``                    ``RateLimitError`` (status 429)
all timeouts (whole call, first byte,   ``Timeout``
first token, stream idle)
all ``connection``                      ``APIConnectionError``
all ``auth``                            ``AuthenticationError``
all ``model_not_found``                 ``NotFoundError``
anything else, or mixed kinds           ``BadGatewayError`` (502)
=====================================  =====================================

A :class:`~tppc_router.errors.ProviderError` (one provider, e.g. a stream cut after content
went out) follows the same table for its own kind; a stream cut is an ``APIConnectionError``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["flavored", "litellm_class_for"]

_TIMEOUTS = frozenset({"timeout", "first_byte_timeout", "first_token_timeout", "stream_idle"})
_BY_KIND = {
    "rate_limited": "RateLimitError",
    "connection": "APIConnectionError",
    "stream_broken": "APIConnectionError",
    "auth": "AuthenticationError",
    "model_not_found": "NotFoundError",
    **{kind: "Timeout" for kind in _TIMEOUTS},
}
_cache: dict[tuple[type, str], type] = {}


def litellm_class_for(kinds: Iterable[str], *, cooling: bool = False) -> str:
    """The name of the LiteLLM exception class for attempts that failed with ``kinds``."""
    if cooling:
        return "RateLimitError"
    names = {_BY_KIND.get(kind, "BadGatewayError") for kind in kinds if kind not in ("ok", "skipped")}
    return names.pop() if len(names) == 1 else "BadGatewayError"


def flavored(base: type, class_name: str) -> type:
    """``base`` (one of our errors) combined with ``litellm.<class_name>`` and ``litellm.APIError``;
    ``base`` itself when litellm is not imported (we never import it for this)."""
    litellm = sys.modules.get("litellm")
    if litellm is None:
        return base
    key = (base, class_name)
    cls = _cache.get(key)
    if cls is None:
        lit = getattr(litellm, class_name, None) or getattr(litellm, "ServiceUnavailableError", None)
        api_error = getattr(litellm, "APIError", None)
        if not isinstance(lit, type) or not isinstance(api_error, type):
            return base
        bases = (base, lit) if issubclass(lit, api_error) else (base, lit, api_error)
        namespace: dict[str, Any] = {
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            "__doc__": base.__doc__,
            "__str__": Exception.__str__,
            "__repr__": Exception.__repr__,
            "__reduce__": BaseException.__reduce__,
        }
        cls = type(base.__name__, bases, namespace)
        _cache[key] = cls
    return cls


def fill_litellm_fields(error: Any, *, model: str | None, provider: str | None) -> None:
    """The attributes LiteLLM exceptions carry (and code reads off them), set without running
    LiteLLM's constructors (whose ``message``/``body`` would clash with ours)."""
    error.llm_provider = provider or "tppc"
    if getattr(error, "model", None) is None:
        error.model = model
    error.litellm_debug_info = None
    error.max_retries = None
    error.num_retries = None
    error.litellm_response_headers = None
    error.param = None
    error.rate_limit_type = None  # litellm 1.106.2's logging reads it off every RateLimitError
    httpx = sys.modules.get("httpx")
    if httpx is not None:
        request = httpx.Request("POST", "http://tppc-router.invalid")
        error.request = request
        error.response = httpx.Response(error.status_code, request=request)
        error.request_id = None
