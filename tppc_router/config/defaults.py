"""The request defaults, defined once.

Every tppc provider is reached over the OpenAI **Responses** wire API (litellm's
``openai/responses/<model>``), serves ``gpt-5`` unless ``tppc.models`` says
otherwise, and gets ``reasoning effort: high`` and ``store: false`` unless the
request sets its own. The deployments (:mod:`tppc_router.config.deployments`),
the targets of the request pipeline (:mod:`tppc_router.routing.pipeline`) and
both senders read these names; nothing else spells them.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_REASONING_EFFORT",
    "DEFAULT_STORE",
    "RESPONSES_WIRE_PREFIX",
    "litellm_model",
]

DEFAULT_MODEL = "gpt-5"
DEFAULT_REASONING_EFFORT = "high"
DEFAULT_STORE = False  # response storage off; a client's `store: true` is overridden (router.allow-client-store)
RESPONSES_WIRE_PREFIX = "openai/responses/"


def litellm_model(model: str) -> str:
    """litellm's name for ``model`` spoken over the Responses API: ``openai/responses/<model>``."""
    return RESPONSES_WIRE_PREFIX + model
