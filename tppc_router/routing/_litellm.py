"""Import litellm lazily: it takes seconds, and must not fetch its cost map."""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["load_litellm"]


def load_litellm() -> ModuleType:
    """Import and return ``litellm`` with ``LITELLM_LOCAL_MODEL_COST_MAP=True``."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm
