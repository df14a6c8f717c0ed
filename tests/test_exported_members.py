"""The public API is exactly what __all__ says."""

from __future__ import annotations

import subprocess
import sys

import tppc_router


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and every name in it exists."""
    assert tppc_router.__all__ == sorted(tppc_router.__all__)
    for name in tppc_router.__all__:
        assert hasattr(tppc_router, name), name


def test_public_members_are_exported() -> None:
    """Every public class or function defined in the package top level is in __all__."""
    public = {n for n in dir(tppc_router) if not n.startswith("_") and not isinstance(getattr(tppc_router, n),
                                                                                      type(sys))}
    assert public == set(tppc_router.__all__)


def test_import_does_not_load_litellm() -> None:
    """Importing tppc_router never imports litellm (it takes seconds and may touch the network)."""
    code = "import sys, tppc_router; assert 'litellm' not in sys.modules, 'litellm imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
