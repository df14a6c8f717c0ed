"""Configuration: the schema, loading, sanitizing and translation to LiteLLM deployments.

``tppc_router.config`` re-exports the schema; the other modules of this room are
``loader`` (file + env -> :class:`Settings`), ``sanitize`` (pure checks),
``deployments`` (pure translation) and ``export`` (LiteLLM config export).
Nothing here imports litellm.
"""

from tppc_router.config.schema import *  # noqa: F403
from tppc_router.config.schema import __all__ as __all__
