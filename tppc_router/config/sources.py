"""Where :class:`~tppc_router.config.schema.Settings` reads its values from: one
pydantic-settings source class per kind, declared on the class by
``Settings.settings_customise_sources`` (highest first: init args > ``TPPC_*``
environment > the YAML file > defaults).

The YAML file is parsed (and checked, with line numbers) by the loader; its data reach
:class:`YamlDataSource` through :func:`yaml_data`, set only while one ``Settings`` is built.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

__all__ = ["FoldedEnvSource", "YamlDataSource", "fold", "yaml_data"]

_yaml_data: ContextVar[Mapping[str, Any] | None] = ContextVar("tppc_yaml_data", default=None)


def fold(value: Any) -> Any:
    """``value`` with every mapping key's ``-`` turned into ``_`` (kebab YAML -> field names)."""
    if isinstance(value, dict):
        return {str(k).replace("-", "_") if isinstance(k, str) else k: fold(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fold(v) for v in value]
    return value


@contextmanager
def yaml_data(data: Mapping[str, Any]) -> Iterator[None]:
    """While inside, a ``Settings`` built in this context reads ``data`` (folded YAML) as its file."""
    token = _yaml_data.set(data)
    try:
        yield
    finally:
        _yaml_data.reset(token)


class YamlDataSource(PydanticBaseSettingsSource):
    """The YAML file's content, already parsed and folded to snake_case keys."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        data = _yaml_data.get() or {}
        return data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_data.get() or {})


class FoldedEnvSource(PydanticBaseSettingsSource):
    """The ``TPPC_*`` environment source with kebab keys folded, so
    ``TPPC_TPPC__PROVIDERS='[{"base-url": ...}]'`` works."""

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self._inner = inner

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        folded: dict[str, Any] = fold(self._inner())
        return folded
