"""The ``litellm-settings:`` section: LiteLLM callbacks and options, configured as LiteLLM proxy users do.

``serve`` calls :func:`apply_litellm_settings` once, before the gateway starts; a live reload
never re-imports or re-applies it (a changed section takes effect at the next start). Each
entry of ``callbacks``, ``success_callback`` and ``failure_callback`` is either

* ``module.attribute``: imported (the config file's directory first on ``sys.path``, as the
  LiteLLM proxy does) and its value used, e.g. a ``CustomLogger`` instance; or
* a plain name (``langfuse``, ``prometheus``, ...): one of LiteLLM's own integrations.

An entry that cannot be imported, or a ``callbacks`` entry that is not a ``CustomLogger``,
is a :class:`~tppc_router.errors.ConfigError` naming the entry; nothing is applied then.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tppc_router.config.schema import LitellmSettingsSection
from tppc_router.errors import ConfigError

__all__ = ["apply_litellm_settings", "reference_problems", "resolve"]

_REFERENCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_LISTS = ("callbacks", "success_callback", "failure_callback")


def reference_problems(section: LitellmSettingsSection) -> list[str]:
    """Entries that are neither ``module.attribute`` nor a plain integration name (checked without importing)."""
    problems: list[str] = []
    for key in _LISTS:
        for index, entry in enumerate(getattr(section, key)):
            if not (_REFERENCE.match(entry) or _NAME.match(entry)):
                problems.append(f"litellm-settings.{key}[{index}]: {entry!r} is neither module.attribute "
                                f"nor the name of a LiteLLM integration")
    return problems


def _import(reference: str, base: Path | None) -> Any:
    module_name, _, attribute = reference.rpartition(".")
    added = base is not None and str(base) not in sys.path
    if added:
        sys.path.insert(0, str(base))
    try:
        module = importlib.import_module(module_name)
    finally:
        if added:
            sys.path.remove(str(base))
    return getattr(module, attribute)


def resolve(section: LitellmSettingsSection, *, base: Path | None = None,
            is_logger: Callable[[Any], bool] | None = None) -> dict[str, list[Any]]:
    """Each list with its references imported. Raises :class:`ConfigError` listing every entry that fails."""
    problems = reference_problems(section)
    resolved: dict[str, list[Any]] = {key: [] for key in _LISTS}
    for key in _LISTS:
        for index, entry in enumerate(getattr(section, key)):
            where = f"litellm-settings.{key}[{index}]"
            if not _REFERENCE.match(entry):
                resolved[key].append(entry)
                continue
            try:
                value = _import(entry, base)
            except (ImportError, AttributeError) as exc:
                problems.append(f"{where}: cannot import {entry!r}: {exc}")
                continue
            except Exception as exc:  # the user's module failed while importing
                problems.append(f"{where}: importing {entry!r} failed: {type(exc).__name__}: {exc}")
                continue
            if key == "callbacks" and is_logger is not None and not is_logger(value):
                problems.append(f"{where}: {entry!r} is a {type(value).__name__}, not a litellm CustomLogger instance")
                continue
            if key != "callbacks" and not callable(value):
                problems.append(f"{where}: {entry!r} is not callable")
                continue
            resolved[key].append(value)
    if problems:
        raise ConfigError(problems)
    return resolved


def apply_litellm_settings(section: LitellmSettingsSection, *, base: Path | None = None) -> list[str]:
    """Import the section's references and apply it to litellm (appending to what is set already).

    Returns what was applied, for the start-up log. Imports litellm only when the section sets something.
    """
    if not (section.callbacks or section.success_callback or section.failure_callback
            or section.drop_params is not None):
        return []
    from tppc_router.routing._litellm import load_litellm

    litellm = load_litellm()
    from litellm.integrations.custom_logger import CustomLogger

    resolved = resolve(section, base=base, is_logger=lambda value: isinstance(value, CustomLogger))
    applied: list[str] = []
    for key in _LISTS:
        if resolved[key]:
            setattr(litellm, key, [*getattr(litellm, key), *resolved[key]])
            applied.append(f"{key}: {', '.join(getattr(section, key))}")
    if section.drop_params is not None:
        setattr(litellm, "drop_params", section.drop_params)  # noqa: B010
        applied.append(f"drop_params: {str(section.drop_params).lower()}")
    return applied
