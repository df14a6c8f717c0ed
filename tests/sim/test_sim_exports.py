"""The public names of ``tppc_router.sim``."""

from __future__ import annotations

from tppc_router import sim


def test_all_is_sorted_and_exported() -> None:
    """``__all__`` is sorted and names exactly the public attributes the package defines."""
    assert sim.__all__ == sorted(sim.__all__)
    public = {name for name in vars(sim) if not name.startswith("_") and not isinstance(getattr(sim, name), type(sim))}
    assert set(sim.__all__) == public
