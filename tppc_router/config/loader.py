"""Load a config: find the file, merge the sources, sanitize, validate.

Precedence, highest first, declared by ``Settings.settings_customise_sources``
(the source classes are in :mod:`tppc_router.config.sources`):
init args > ``TPPC_*`` environment variables > the YAML file > defaults.
The path comes from ``-c/--config``, then ``TPPC_CONFIG``, then ``./config.yaml``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from tppc_router.config.schema import Settings, kebab
from tppc_router.config.yamlsafe import load_yaml
from tppc_router.config.sources import fold, yaml_data
from tppc_router.errors import ConfigError
from tppc_router.masking import mask_text
from tppc_router.config.sanitize import sanitize, validate

__all__ = ["config_path", "load_settings", "parse_yaml", "settings_from_data"]

def config_path(cli_value: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``-c/--config``, then ``TPPC_CONFIG``, then ``./config.yaml``."""
    env = os.environ if env is None else env
    if cli_value:
        return Path(cli_value)
    if env.get("TPPC_CONFIG"):
        return Path(env["TPPC_CONFIG"])
    return Path("config.yaml")


def parse_yaml(text: str, source: str = "<string>") -> dict[str, Any]:
    """Parse YAML text into a dict with snake_case keys; errors name the line."""
    try:
        data = load_yaml(text, source)  # duplicate keys and alias bombs refused
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([f"<yaml>: {problem} at {where}"], source=source) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"<root>: must be a mapping of sections, got {type(data).__name__}"], source=source)
    # An empty section (``router:`` with every key commented out) means its defaults.
    folded: dict[str, Any] = {k: v for k, v in fold(data).items() if v is not None or k not in Settings.model_fields}
    return folded


def _field_names(model: type[BaseModel]) -> list[str]:
    return [kebab(n) for n in model.model_fields]


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + kebab(part)
    return out or "<root>"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model


def _problems_from(error: ValidationError) -> list[str]:
    problems: list[str] = []
    for item in error.errors(include_input=True, include_url=False):  # the input is only type-checked, never shown
        loc = tuple(item["loc"])
        path = _path(loc)
        if item["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            known = _field_names(parent) if parent else []
            key = kebab(str(loc[-1]))
            hint = difflib.get_close_matches(key, known, n=1)
            extra = f'; did you mean "{hint[0]}"?' if hint else (f" (expected one of: {', '.join(known)})" if known else "")
            problems.append(f"{path}: unknown key{extra}")
        elif item["type"] == "string_type" and isinstance(item.get("input"), bool):
            problems.append(f"{path}: must be a string; YAML reads an unquoted yes/no/on/off/true/false as a "
                            "boolean, so quote it")
        else:
            problems.append(f"{path}: {mask_text(item['msg'])}")
    return problems


def _env_problem(error: SettingsError) -> str:
    match = re.search(r'field "(\w+)"', str(error))
    prefix = f"TPPC_{match.group(1).upper()}__" if match else "TPPC_"
    names = sorted(name for name in os.environ if name.upper().startswith(prefix)) or [prefix + "*"]
    return f"<env>: {', '.join(names)}: a list or mapping must be written as JSON"


def settings_from_data(
    data: Mapping[str, Any],
    *,
    source: str | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build, sanitize and validate settings from already-parsed YAML data.

    Raises :class:`ConfigError` listing every problem, each with its field path.
    """
    env = os.environ if env is None else env
    remaining: dict[str, Any] = fold(dict(data))
    type_problems: list[str] = []
    raw: Settings | None = None
    for _ in range(_MAX_TYPE_PASSES):  # drop what failed type checks, so the other checks still run
        try:
            with yaml_data(remaining):
                raw = Settings(**fold(overrides))
            break
        except ValidationError as exc:
            type_problems += _problems_from(exc)
            if not all([_drop(remaining, tuple(e["loc"])) for e in exc.errors()]):
                raise ConfigError(type_problems, source=source) from None
        except SettingsError as exc:  # a TPPC_* variable that should hold JSON doesn't
            raise ConfigError([*type_problems, _env_problem(exc)], source=source) from None
    if raw is None:
        raise ConfigError(type_problems, source=source)
    clean, problems = sanitize(raw, env)
    problems = validate(clean, problems)
    reported = [p.split(": ", 1)[0] for p in type_problems]
    # a misspelt key ("base-ur", did you mean "base-url"?) also explains the missing field it meant
    reported += [path.rsplit(".", 1)[0] + "." + hint for path, hint in
                 (m.groups() for m in map(_SUGGESTION.match, type_problems) if m)]
    problems = [p for p in problems if not any(_under(p.split(": ", 1)[0], r) for r in reported)]
    if type_problems or problems:
        raise ConfigError([*type_problems, *problems], source=source)
    return clean


_MAX_TYPE_PASSES = 4
_SUGGESTION = re.compile(r'^(\S+): unknown key; did you mean "([^"]+)"\?$')


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _drop(data: Any, loc: tuple[int | str, ...]) -> bool:
    """Remove the value at ``loc`` (a list item becomes ``{}``, keeping indexes); False if absent."""
    node = data
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(node, dict) and part in node:
            if last:
                del node[part]
                return True
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if last:
                node[part] = {}
                return True
            node = node[part]
        else:  # an inner part of a value failed (a union branch): drop the value itself
            return depth > 0 and _drop(data, loc[:depth])
    return False


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    text: str | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Load ``path`` (or ``text``), apply ``TPPC_*`` env overrides and ``overrides``.

    A missing file is an error unless ``text`` is given.
    """
    source = str(path) if path is not None else "<string>"
    if text is None:
        if path is None:
            path = config_path(env=env)
            source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError([f"<file>: {source} does not exist (use -c FILE or TPPC_CONFIG)"], source=source) from None
        except OSError as exc:
            raise ConfigError([f"<file>: cannot read {source}: {exc.strerror}"], source=source) from None
        except UnicodeDecodeError as exc:
            problem = f"<file>: {source} is not UTF-8 text (at byte offset {exc.start})"
            raise ConfigError([problem], source=source) from None
    return settings_from_data(parse_yaml(text, source), source=source, env=env, **overrides)
