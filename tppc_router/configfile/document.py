"""The config file as a YAML document: parse and dump it in its own layout, edit it in place.

ruamel.yaml's round-trip mode keeps comments, key order, quoting, indentation and
``os.environ/NAME`` / ``${NAME}`` key references; :func:`parse_document` and
:func:`dump_document` add the file's own indentation, and an empty or comment-only
file. The helpers here are the field-level edits the provider edits
(:mod:`tppc_router.configfile.edits`) are built from: find a key however the file
spells it, set or delete it keeping its quoting and the comment lines after it,
and quote a string the loader would otherwise read as something else.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import yaml as pyyaml
from pydantic import SecretStr
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from tppc_router.config.schema import Settings
from tppc_router.errors import ConfigEditError, ConfigFileError

__all__ = [
    "delete_field",
    "document_from_settings",
    "dump_document",
    "ensure_section",
    "get_field",
    "guess_indent",
    "key_in",
    "parse_document",
    "put_tail",
    "round_trip_yaml",
    "safe",
    "same",
    "set_field",
    "take_tail",
]


# -- the document: parse and dump, keeping the file's layout ---------------------------


_TRAILING_COMMENT = re.compile(r"\s+#.*$")
_EXPLICIT_START = re.compile(r"^(?:[ \t]*(?:#.*)?\n)*---")


def guess_indent(text: str) -> tuple[int, int, int]:
    """``(mapping, sequence, offset)`` as the file writes them; ``(2, 4, 2)`` (``key:`` then
    ``  - item``) where it doesn't say. The one layout guess of the package."""
    mapping: int | None = None
    sequence: int | None = None
    offset: int | None = None
    parent: int | None = None  # column of the last "key:" that opens a block
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        column = len(line) - len(line.lstrip(" "))
        body = _TRAILING_COMMENT.sub("", stripped)
        dash = re.match(r"-( +)", body)
        if parent is not None and dash is not None and column >= parent and offset is None:
            offset, sequence = column - parent, column + 1 + len(dash.group(1)) - parent
        elif parent is not None and dash is None and column > parent and mapping is None:
            mapping = column - parent
        if body.endswith(":"):
            parent = column + (1 + len(dash.group(1)) if dash is not None else 0)
        else:
            parent = None
    offset = 2 if offset is None else offset
    sequence = max(4 if sequence is None else sequence, offset + 2)
    return (mapping or 2), sequence, offset


def round_trip_yaml(text: str) -> YAML:
    """A ruamel round-trip loader/dumper laid out like ``text`` (indentation, ``---``, quotes kept)."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, sequence, offset = guess_indent(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.explicit_start = bool(_EXPLICIT_START.match(text))
    return yaml


def parse_document(text: str) -> CommentedMap:
    """The round-trip document; an empty file is an empty mapping.

    Raises :class:`ConfigFileError` when the file on disk is not a YAML mapping:
    a hand edit broke it, and an API write must not build on it.
    """
    try:
        data = round_trip_yaml(text).load(text)
    except (YAMLError, ValueError, RecursionError) as exc:
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigFileError([f"<yaml>: {problem}"],
                              summary="the config file on disk is not valid YAML; fix it by hand first") from None
    if data is None:
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigFileError([f"<root>: must be a mapping of sections, got {type(data).__name__}"],
                              summary="the config file on disk is not a mapping of sections; fix it by hand first")
    return data


def dump_document(doc: CommentedMap, original: str) -> str:
    """``doc`` as text, laid out like ``original``. A file that held only comments keeps them."""
    if not doc and not _has_content(original):
        return original
    out = io.StringIO()
    round_trip_yaml(original).dump(doc, out)
    text = out.getvalue()
    if not original.strip() or _has_content(original):
        return text
    return original.rstrip("\n") + "\n" + text


def _has_content(text: str) -> bool:
    return any(ln.strip() and not ln.lstrip().startswith("#") for ln in text.splitlines())


def document_from_settings(settings: Settings) -> str:
    """A YAML document for settings that came from no file (kept in memory only).

    Keys are written as configured: a key that came from ``os.environ/NAME`` stays that reference.
    """
    data: dict[str, Any] = settings.model_dump(by_alias=True, mode="python")
    for raw, provider in zip(data["tppc"]["providers"], settings.tppc.providers, strict=True):
        if provider.key_source != "literal":
            raw["api-key"] = provider.key_source
    if settings.packycode.key_source != "literal" and settings.packycode.credentials.openai_api_key is not None:
        data["packycode"]["credentials"]["openai-api-key"] = settings.packycode.key_source
    out = io.StringIO()
    round_trip_yaml("").dump(_reveal(data), out)  # the default layout: mapping 2, sequence 4, offset 2
    return out.getvalue()


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


# -- comments: the blank and comment lines after a node -----------------------------------


def _last_scalar(node: Any) -> tuple[dict[Any, Any], Any, int] | None:
    """Where ruamel keeps the comment lines that follow ``node``: on its last scalar."""
    if isinstance(node, CommentedMap) and node:
        key = list(node)[-1]
        return _last_scalar(node[key]) or (node.ca.items, key, 2)
    if isinstance(node, CommentedSeq) and node:
        return _last_scalar(node[-1]) or (node.ca.items, len(node) - 1, 0)
    return None


def take_tail(node: Any) -> str:
    """Detach the blank and comment lines after ``node`` (not its own inline comment)."""
    where = _last_scalar(node)
    slots = where[0].get(where[1]) if where else None
    token = slots[where[2]] if where and slots and len(slots) > where[2] else None
    if where is None or slots is None or not isinstance(token, CommentToken):
        return ""
    head, newline, tail = str(token.value).partition("\n")
    if not tail:
        return ""
    if head.strip():
        token.value = head + newline
    else:
        slots[where[2]] = None
    return tail


def put_tail(node: Any, tail: str) -> None:
    """Attach ``tail`` (from :func:`take_tail`) after ``node``."""
    where = _last_scalar(node)
    if not tail or where is None:
        return
    items, key, slot = where
    slots = items.setdefault(key, [None] * (4 if slot == 2 else 2))
    token = slots[slot]
    if isinstance(token, CommentToken):
        value = str(token.value)
        token.value = value + ("" if value.endswith("\n") else "\n") + tail
    else:
        slots[slot] = CommentToken("\n" + tail, CommentMark(0), None)


# -- fields: find, quote, set and delete, keeping the file's spelling and quoting -----------


def key_in(entry: Any, field: str) -> str | None:
    """The key as this entry spells it: ``base-url`` or ``base_url``; ``None`` when missing
    (or when ``entry`` is not a mapping)."""
    if not isinstance(entry, Mapping):
        return None
    for spelling in (field, field.replace("-", "_")):
        if spelling in entry:
            return spelling
    return None


def get_field(entry: Mapping[Any, Any], field: str) -> Any:
    """The value of ``field`` however this entry spells it; ``None`` when it is missing."""
    key = key_in(entry, field)
    return entry[key] if key is not None else None


_YAML11 = pyyaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


def safe(value: Any) -> Any:
    """``value`` ready for the document: a string the loader (PyYAML, YAML 1.1) would read as
    something else when written plain (``yes``, ``on``, ``1:20``) or that holds a character it
    treats as a line break is double-quoted, so what is read back is what was sent."""
    if isinstance(value, str):
        if any("\ud800" <= c <= "\udfff" for c in value):
            raise ConfigEditError(["<body>: a string holds a lone UTF-16 surrogate"], summary="invalid request body")
        tag = _YAML11.resolve(pyyaml.nodes.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        plain = tag == _STR_TAG
        if plain and value.isprintable() and not any(c in value for c in "\x85\u2028\u2029"):
            return value
        return DoubleQuotedScalarString(value)
    if isinstance(value, dict):
        return {safe(k): safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [safe(v) for v in value]
    return value


def _restyled(old: Any, new: Any) -> Any:
    """``new`` made safe, and quoted the way ``old`` was when it was quoted."""
    new = safe(new)
    if isinstance(new, str) and not isinstance(new, DoubleQuotedScalarString):
        if isinstance(old, DoubleQuotedScalarString):
            return DoubleQuotedScalarString(new)
        if isinstance(old, SingleQuotedScalarString):
            return SingleQuotedScalarString(new)
    return new


def same(old: Any, new: Any) -> bool:
    """True when writing ``new`` over ``old`` would change nothing (a quoted string equals its text)."""
    return type(old) is type(new) and bool(old == new) or (
        isinstance(old, str) and isinstance(new, str) and str(old) == new
    )


def set_field(entry: CommentedMap, field: str, value: Any) -> bool:
    """Set ``field`` (in place, keeping its quoting; a new field goes last). False when unchanged."""
    key = key_in(entry, field)
    if key is not None and same(entry[key], value):
        return False
    if key is None:
        tail = take_tail(entry)
        entry[safe(field)] = safe(value)
        put_tail(entry, tail)
    else:
        entry[key] = _restyled(entry[key], value)
    return True


def delete_field(entry: CommentedMap, field: str) -> bool:
    """Remove ``field``, keeping the comment lines after it. False when it was not there."""
    key = key_in(entry, field)
    if key is None:
        return False
    tail = take_tail(entry) if list(entry)[-1] == key else ""
    del entry[key]
    put_tail(entry, tail)
    return True


def ensure_section(doc: CommentedMap, name: str) -> CommentedMap:
    """The top-level mapping ``name``, created when missing or empty; 409 when it is not a mapping."""
    key = key_in(doc, name)
    if key is None or doc[key] is None:
        doc[key or name] = CommentedMap()
        key = key or name
    section = doc[key]
    if not isinstance(section, CommentedMap):
        raise ConfigFileError([f"{name}: must be a mapping"],
                              summary=f"the config file's {name} section is not a mapping; fix it by hand first")
    return section
