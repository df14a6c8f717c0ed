"""``Secret``: a pydantic ``SecretStr`` whose repr and str show the project mask."""

from __future__ import annotations

from pydantic import SecretStr

from tppc_router.masking import mask, register_secret

__all__ = ["Secret"]


class Secret(SecretStr):
    """A key. ``repr()``/``str()`` show ``sk-a...5678`` (or ``********``), never the key.

    Every value is registered with :mod:`tppc_router.masking`, so the logging filter
    scrubs it from free text too.
    """

    def __init__(self, secret_value: str) -> None:
        super().__init__(secret_value)
        register_secret(secret_value)

    def _display(self) -> str:
        return mask(self.get_secret_value())

    @property
    def masked(self) -> str:
        return mask(self.get_secret_value())
